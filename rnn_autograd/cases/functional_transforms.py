"""``torch.func`` transforms (grad, vmap) and what autograd's own API may not do inside them."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_FUNC = "https://pytorch.org/docs/stable/func.html"
_UX = "https://pytorch.org/docs/stable/func.ux_limitations.html"


@case(
    "functional/per-sample-gradients",
    question="How do I compute per-sample gradients with torch.func?",
    outcome=Returns(
        {
            "per-sample grads": torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
            "mean equals the batch gradient": True,
        }
    ),
    see_also=("functional/backward-inside-vmap", _FUNC),
)
def per_sample_gradients():
    """`torch.func.grad(f)` is a function that returns `df/dx` of a scalar-valued `f`;
    `vmap` maps it over the batch dimension, one gradient per sample, without any `.backward()`
    or `.grad`.

    For `f(w, x) = w · x`, the gradient with respect to `w` is `x`: the per-sample gradients
    are the rows of the batch, and their mean is the gradient of the mean loss.
    """
    w = torch.zeros(2)
    batch = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    per_sample = torch.vmap(torch.func.grad(lambda w, x: (w * x).sum()), in_dims=(None, 0))(
        w, batch
    )
    w_ = w.clone().requires_grad_()
    (w_ * batch).sum(dim=1).mean().backward()
    return {
        "per-sample grads": per_sample,
        "mean equals the batch gradient": torch.allclose(per_sample.mean(0), w_.grad),
    }


@case(
    "functional/func-grad-of-vector",
    question="Why does torch.func.grad fail with 'Expected f(*args) to return a scalar Tensor, got tensor with 1 dims'?",
    expect="grad of a vector-valued function gives its Jacobian.",
    outcome=Raises(
        RuntimeError, r"Expected f\(\*args\) to return a scalar Tensor, got tensor with \d+ dims"
    ),
    fix="functional/per-sample-gradients",
    see_also=(_FUNC,),
)
def func_grad_of_vector():
    """`torch.func.grad` is the gradient of a *scalar* function (like `backward()` without a
    seed); for a vector output use `jacrev`/`jacfwd`, or `vjp` with a seed.

    The check is on the output's number of dimensions (`dim() != 0`), made after running `f`;
    `torch.func.grad(lambda x: (x * 2).sum())` gives the ones a scalar seed implies.
    """
    torch.func.grad(lambda x: x * 2)(torch.ones(3))


@case(
    "functional/func-grad-of-a-number",
    question="Why does torch.func.grad fail with \"Expected f(*args) to return a Tensor, got <class 'float'>\"?",
    expect="grad of a function returning loss.item() works like grad of the loss.",
    outcome=Raises(RuntimeError, r"Expected f\(\*args\) to return a Tensor, got"),
    fix="functional/per-sample-gradients",
    see_also=("conversions/float-of-requires-grad-warns",),
)
def func_grad_of_a_number():
    """A Python number has no history: the transform cannot differentiate through `.item()` or
    `float(...)`, and refuses a non-tensor output. Return the tensor.

    `.item()` leaves the transform's tracking at that point: even `torch.tensor(loss.item())`
    would be a constant whose gradient is zero. Return the tensor and read `.item()` outside.
    """
    torch.func.grad(lambda x: (x * 2).sum().item())(torch.ones(3))  # a Python float


@case(
    "functional/backward-inside-vmap",
    question="Why does loss.backward() inside vmap fail with 'backward() called inside a functorch transform'?",
    expect="backward inside vmap computes one gradient per sample.",
    outcome=Raises(RuntimeError, r"backward\(\) called inside (torch\.vmap|a functorch transform)"),
    fix="functional/per-sample-gradients",
    see_also=(_UX,),
)
def backward_inside_vmap():
    """`backward()` accumulates into the `.grad` of leaves, a side effect on tensors outside the
    transform; under `vmap` (or `torch.func.grad`) that cannot be batched, so it is refused.
    Compose `vmap(grad(f))` instead (`functional/per-sample-gradients`).
    """
    w = torch.ones(3, requires_grad=True)

    def per_sample(x):
        (w * x).sum().backward()
        return x

    torch.vmap(per_sample)(torch.ones(2, 3))


@case(
    "functional/requires-grad-inside-func-grad",
    question="Why does requires_grad_() inside torch.func.grad fail with 'You are attempting to call Tensor.requires_grad_() ... inside of a function being transformed'?",
    expect="Marking the input inside the function is how autograd is told to track it.",
    outcome=Raises(RuntimeError, r"You are attempting to call Tensor\.requires_grad_\(\)"),
    fix="functional/per-sample-gradients",
    see_also=(_UX,),
)
def requires_grad_inside_func_grad():
    """`torch.func.grad` tracks its argument by itself (through its own autograd level);
    `requires_grad_()` inside the function (or `torch.autograd.functional.*`, which calls it)
    would mix the two mechanisms, and is refused. Drop it: the argument is already tracked.
    """

    def loss(x):
        x.requires_grad_()
        return x.sum()

    torch.func.grad(loss)(torch.ones(3))


@case(
    "functional/retain-grad-inside-func-grad",
    question="Why does retain_grad() inside torch.func.grad fail with 'You are attempting to call Tensor.retain_grad() inside of a function being transformed'?",
    expect="retain_grad keeps an intermediate's gradient, as in ordinary autograd.",
    outcome=Raises(
        RuntimeError,
        r"You are attempting to call Tensor\.retain_grad\(\) inside of a function being transformed",
    ),
    fix="functional/per-sample-gradients",
    see_also=(_UX,),
)
def retain_grad_inside_func_grad():
    """The transforms return gradients instead of storing them in `.grad`; there is no `.grad`
    of an intermediate to retain. Return the intermediate as an extra output (`has_aux=True`)
    or take `grad` with respect to it.
    """

    def loss(x):
        y = x * 2
        y.retain_grad()
        return y.sum()

    torch.func.grad(loss)(torch.ones(3))


@case(
    "functional/data-assignment-inside-func-grad",
    question="Why does x.data = ... inside torch.func.grad fail with 'mutating directly with `.data` inside functorch transform is not allowed'?",
    expect=".data assignment is invisible to autograd, so the transform ignores it.",
    outcome=Raises(
        RuntimeError, r"mutating directly with `\.data` inside functorch transform is not allowed"
    ),
    fix="functional/per-sample-gradients",
    see_also=("detach/data-inplace-silently-wrong-grad",),
)
def data_assignment_inside_func_grad():
    """Inside a transform, tensors are wrapped at the transform's level; `.data` would swap the
    wrapped value behind the wrapper's back, so the transforms forbid it outright (in plain
    autograd it is merely invisible, `detach/data-inplace-silently-wrong-grad`).
    """

    def loss(x):
        x.data = torch.zeros(3)
        return x.sum()

    torch.func.grad(loss)(torch.ones(3))


@case(
    "functional/in-place-on-captured-tensor",
    question="Why does torch.func.grad fail with 'the function provided attempted to call in-place operation ... that would mutate a captured Tensor'?",
    expect="A running total updated inside the loss function just accumulates.",
    outcome=Raises(
        RuntimeError,
        r"During a grad \(vjp, jvp, grad, etc\) transform, the function provided attempted to call in-place operation",
    ),
    fix="functional/per-sample-gradients",
    see_also=(_UX,),
)
def in_place_on_captured_tensor():
    """A tensor captured from outside the function (a buffer, an accumulator) lives below the
    transform's level; an in-place op mixing it with a transformed value would store a tracked
    value into an untracked tensor, which the transform refuses. Return the value and update
    outside, or pass the buffer in as an argument.
    """
    total = torch.zeros(3)

    def loss(x):
        total.add_(x)  # the captured accumulator
        return x.sum()

    torch.func.grad(loss)(torch.ones(3))


@case(
    "functional/func-grad-of-old-style-function",
    question="Why does torch.func.grad over my custom Function fail with 'In order to use an autograd.Function with functorch transforms ... it must override the setup_context staticmethod'?",
    expect="Custom Functions work under torch.func like under backward.",
    outcome=Raises(
        RuntimeError, r"In order to use an autograd\.Function with functorch transforms"
    ),
    fix="custom-function/setup-context-style",
    see_also=(_FUNC,),
)
def func_grad_of_old_style_function():
    """The transforms need to run a Function's forward without `ctx` and save separately, so
    they require the `setup_context` style; a Function whose `forward(ctx, ...)` saves inside
    is refused.

    The `setup_context` style separates the computation (`forward(*args)`) from what is saved
    (`setup_context(ctx, inputs, output)`), which lets a transform run `forward` on its own
    wrapped tensors; see `custom-function/setup-context-style`.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    torch.func.grad(lambda x: Double.apply(x).sum())(torch.ones(3))


@case(
    "functional/vmap-of-function-without-rule",
    question="Why does vmap over my custom Function fail with 'does not have vmap support. Please override and implement the vmap staticmethod'?",
    expect="vmap runs the Function once per sample automatically.",
    outcome=Raises(
        RuntimeError,
        r"does not have vmap support\. Please override and implement the vmap staticmethod",
    ),
    fix="functional/vmap-with-generated-rule",
    see_also=(_FUNC,),
)
def vmap_of_function_without_rule():
    """`vmap` batches each op by its batching rule; a custom Function is one op whose rule
    nobody wrote. Define `vmap`, or set `generate_vmap_rule = True` when `forward` is written in
    torch ops (then vmap batches those ops).
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    torch.vmap(Double.apply)(torch.ones(2, 3))


@case(
    "functional/vmap-with-generated-rule",
    question="How do I vmap a custom Function?",
    outcome=Returns({"out": torch.full((2, 3), 2.0)}),
    see_also=("functional/vmap-of-function-without-rule",),
)
def vmap_with_generated_rule():
    """With `generate_vmap_rule = True`, `vmap` runs the Function's `forward` on batched
    tensors, which works because `forward` is made of torch ops that have batching rules.

    Without `generate_vmap_rule = True` (or a `vmap` staticmethod) the same call fails
    (`functional/vmap-of-function-without-rule`); with it, the batching rules of `x * 2` give
    each sample's `2x`.
    """

    class Double(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    return {"out": torch.vmap(Double.apply)(torch.ones(2, 3))}
