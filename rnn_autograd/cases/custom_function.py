"""Custom ``autograd.Function``: what backward must return, and what forward may save."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case

_EXTENDING = "https://pytorch.org/docs/stable/notes/extending.html"


class _Scale(torch.autograd.Function):
    """`x * k` for a tensor `x` and a Python number `k`, written correctly."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k  # a Python number: an attribute, not save_for_backward
        return x * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None  # one entry per forward input; None for the number


@case(
    "custom-function/too-few-gradients",
    question="Why does my autograd.Function fail with 'returned an incorrect number of gradients (expected 2, got 1)'?",
    expect="backward returns the gradient for the one tensor input; the Python number needs none.",
    outcome=Raises(
        RuntimeError, r"returned an incorrect number of gradients \(expected \d+, got \d+\)"
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=(_EXTENDING,),
)
def too_few_gradients():
    """`backward` must return exactly one value per argument of `forward` (after `ctx`),
    tensors and non-tensors alike: the engine pairs them by position with the node's inputs.

    `PyNode::apply` counts what `backward` returned against the number of forward inputs
    recorded by `apply` (here 2: `x` and `k`) and raises on any difference. Return `None` for
    every input that has no gradient (a number, a flag, a tensor that does not require grad).
    """

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.k  # one value for two forward inputs

    Scale.apply(torch.ones(3, requires_grad=True), 2.0).sum().backward()


@case(
    "custom-function/gradient-for-a-number",
    question="Why does my autograd.Function fail with 'returned a gradient different than None at position 2, but the corresponding forward input was not a Variable'?",
    expect="Returning a gradient for the Python number is harmless; it is just ignored.",
    outcome=Raises(
        RuntimeError,
        r"returned a gradient different than None at position \d+, but the corresponding forward input was not a Variable",
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=(_EXTENDING,),
)
def gradient_for_a_number():
    """A forward input that is not a tensor has no edge in the graph to send a gradient along,
    so the engine insists its position be `None` rather than drop a value silently.

    Positions are 1-based in the message: position 2 is `k`. The count is right (2 values for 2
    inputs), so this is the check after `custom-function/too-few-gradients`.
    """

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.k, grad  # a tensor for the Python number k

    Scale.apply(torch.ones(3, requires_grad=True), 2.0).sum().backward()


@case(
    "custom-function/one-gradient-per-input",
    question="What must a custom Function's backward return?",
    outcome=Returns({"x.grad": torch.tensor([2.0, 2.0, 2.0]), "grad_fn": "_ScaleBackward"}),
    see_also=("custom-function/too-few-gradients", _EXTENDING),
)
def one_gradient_per_input():
    """One value per forward input, in order: the gradient for each tensor that requires grad,
    `None` for the rest; non-tensor values are kept on `ctx` as attributes.

    `_Scale.apply(x, 2.0)` records a node named `_ScaleBackward`; its backward returns
    `(grad * 2, None)`, and the engine sends the first along `x`'s edge.
    """
    x = torch.ones(3, requires_grad=True)
    y = _Scale.apply(x, 2.0)
    y.sum().backward()
    return {"x.grad": x.grad, "grad_fn": y.grad_fn.name()}


@case(
    "custom-function/gradient-of-wrong-shape",
    question="Why does my autograd.Function fail with 'returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2, 3]'?",
    expect="A gradient that broadcasts to the input's shape is broadcast.",
    outcome=Raises(
        RuntimeError,
        r"returned an invalid gradient at index \d+ - got \[.*\] but expected shape compatible with",
    ),
    fix="custom-function/gradient-summed-to-input-shape",
    see_also=(_EXTENDING,),
)
def gradient_of_wrong_shape():
    """The engine checks each returned gradient against the metadata of its input: it may
    *reduce* a larger gradient to the input's shape (summing over broadcast dimensions), never
    expand a smaller one.

    `validate_outputs` compares shapes; when they differ it sums the gradient down to the input
    shape if the input's shape expands to the gradient's (a `(2, 3)` gradient for a `(3,)`
    input is summed over the first dimension), and raises otherwise. Here `backward` returns
    `grad.sum(0)`, shape `(3,)`, for an input of shape `(2, 3)`: not reducible, an error.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return (grad * 2).sum(0)  # (3,) for a (2, 3) input

    Double.apply(torch.ones(2, 3, requires_grad=True)).sum().backward()


@case(
    "custom-function/gradient-summed-to-input-shape",
    question="Does the engine sum a broadcast gradient down to the input's shape for me?",
    outcome=Returns({"b.grad": torch.tensor([2.0, 2.0, 2.0]), "x.grad.shape": (2, 3)}),
    see_also=("custom-function/gradient-of-wrong-shape",),
)
def gradient_summed_to_input_shape():
    """Yes, when the input's shape expands to the gradient's: a bias `b` of shape `(3,)` added
    to a `(2, 3)` input may receive the full `(2, 3)` gradient, and the engine sums it.

    `validate_outputs` sees a `(2, 3)` gradient for the `(3,)` input `b`, finds `(3,)`
    expandable to `(2, 3)`, and applies `sum_to`: two rows of ones add up to 2s. Returning the
    right shape yourself (`grad.sum(0)`) is clearer and does the same.
    """

    class AddBias(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, grad):
            return grad, grad  # (2, 3) for b as well: summed down by the engine

    x = torch.ones(2, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    AddBias.apply(x, b).sum().backward()
    return {"b.grad": b.grad, "x.grad.shape": tuple(x.grad.shape)}


@case(
    "custom-function/save-a-number",
    question="Why does ctx.save_for_backward fail with 'save_for_backward can only save variables, but argument 1 is of type float'?",
    expect="save_for_backward stores whatever backward will need.",
    outcome=Raises(
        TypeError, r"save_for_backward can only save variables, but argument \d+ is of type"
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=(_EXTENDING,),
)
def save_a_number():
    """`save_for_backward` wraps each argument in a `SavedVariable`, which records the tensor's
    version counter to detect later in-place changes; a Python number has no version, so only
    tensors (or `None`) are accepted.

    Keep numbers, shapes and flags as `ctx` attributes (`ctx.k = k`). Tensors belong in
    `save_for_backward`, not on `ctx`: a tensor kept as an attribute escapes the version check
    and, for an output, can create a reference cycle that keeps the graph alive.
    """

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x, k)  # k is a float
            return x * k

        @staticmethod
        def backward(ctx, grad):
            _, k = ctx.saved_tensors
            return grad * k, None

    Scale.apply(torch.ones(3, requires_grad=True), 2.0)


@case(
    "custom-function/no-backward",
    question="Why does my autograd.Function fail with 'You must implement either the backward or vjp method'?",
    expect="A Function with only forward is differentiated automatically, as a module is.",
    outcome=Raises(NotImplementedError, r"You must implement either the backward or vjp method"),
    fix="custom-function/one-gradient-per-input",
    see_also=(_EXTENDING,),
)
def no_backward():
    """Inside `forward` of an `autograd.Function`, autograd is off: the ops there are not
    recorded, so the only way to differentiate the Function is the `backward` you write.

    `Function.apply` runs `forward` under no-grad and records one node whose backward is the
    class's `backward`; the base class's default raises `NotImplementedError`, but only when the
    engine calls it. If you want autograd to derive the gradient, write a plain Python function
    (or an `nn.Module`) instead of a Function.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    Double.apply(torch.ones(3, requires_grad=True)).sum().backward()


@case(
    "custom-function/legacy-instance-call",
    question="Why does calling my autograd.Function fail with 'Legacy autograd function with non-static forward method is deprecated'?",
    expect="Instantiating a Function and calling it, like a module, runs forward.",
    outcome=Raises(
        RuntimeError,
        r"Legacy autograd function with non-static forward method is deprecated",
        warns=(
            Warned(
                DeprecationWarning,
                r"should not be instantiated\. Methods on autograd functions ?are all static",
            ),
        ),
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=(_EXTENDING,),
)
def legacy_instance_call():
    """Functions are stateless classes: `forward` and `backward` are static methods, state goes
    on `ctx`, and the entry point is `Function.apply`. The old style (instance methods,
    `F()(x)`) is refused.

    Creating the instance already warns (`DeprecationWarning: ... should not be instantiated`,
    from `Function.__init__`); calling it goes to `Function.__call__`, which raises this error.
    Write `forward(ctx, ...)` and `backward(ctx, ...)` as `@staticmethod`s and call
    `Double.apply(x)`. (torch 2.2.2's warning lacks a space, "functionsare"; the fragment allows
    both.)
    """

    class Double(torch.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad * 2

    Double()(torch.ones(3, requires_grad=True))
