"""Custom Functions: the required methods, setup_context, forward mode, and gradient types."""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad

from ..spec import Raises, Returns, case
from ._forward_ad import dual_level

_EXTENDING = "https://pytorch.org/docs/stable/notes/extending.html"


class _Double(torch.autograd.Function):
    """`2 * x`, in the setup_context style, with backward and jvp."""

    @staticmethod
    def forward(x):
        return x * 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass  # nothing to save: the derivative is the constant 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2

    @staticmethod
    def jvp(ctx, tangent):
        return tangent * 2


@case(
    "custom-function/setup-context-style",
    question="How do I write a custom Function that works with backward, forward-mode AD and torch.func?",
    outcome=Returns(
        {
            "x.grad": torch.tensor([2.0, 2.0]),
            "jvp tangent": torch.tensor([2.0, 4.0]),
            "torch.func.grad": torch.tensor([2.0, 2.0]),
        }
    ),
    see_also=(
        "custom-function/no-forward",
        "functional/func-grad-of-old-style-function",
        _EXTENDING,
    ),
)
def setup_context_style():
    """Write `forward` without `ctx`, save in `setup_context(ctx, inputs, output)`, and give
    `backward` (reverse mode) and `jvp` (forward mode): one Function then serves
    `loss.backward()`, dual tensors and the `torch.func` transforms alike.

    Observed for `2x`: `x.grad = 2`, a tangent `(1, 2)` pushed forward to `(2, 4)`, and
    `torch.func.grad` of the sum giving 2 again.
    """
    x = torch.ones(2, requires_grad=True)
    _Double.apply(x).sum().backward()
    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        dual = fwad.make_dual(torch.ones(2), torch.tensor([1.0, 2.0]))
        tangent = fwad.unpack_dual(_Double.apply(dual)).tangent
    g = torch.func.grad(lambda t: _Double.apply(t).sum())(torch.ones(2))
    return {"x.grad": x.grad, "jvp tangent": tangent, "torch.func.grad": g}


@case(
    "custom-function/no-forward",
    question="Why does my autograd.Function fail with 'You must implement the forward function for custom autograd.Function'?",
    expect="A Function that only defines backward still runs its input through unchanged.",
    outcome=Raises(
        NotImplementedError,
        r"You must implement the forward function for custom autograd\.Function",
    ),
    fix="custom-function/setup-context-style",
    see_also=(_EXTENDING,),
)
def no_forward():
    """`Function.apply` calls the class's `forward`; the base class's default raises, so a
    misspelt or forgotten `forward` (e.g. `def foward`) fails at the first call.

    The error comes from `apply`, before any graph is recorded: unlike a missing backward
    (`custom-function/no-backward`), which fails only when the engine reaches the node.
    """

    class Half(torch.autograd.Function):
        @staticmethod
        def backward(ctx, grad):
            return grad

    Half.apply(torch.ones(2, requires_grad=True))


@case(
    "custom-function/backward-and-vjp",
    question="Why does my autograd.Function fail with \"Implementing both 'backward' and 'vjp' for a custom Function is not allowed\"?",
    expect="vjp is an alias; defining both is harmless.",
    outcome=Raises(
        RuntimeError, r"Implementing both 'backward' and 'vjp' for a custom Function is not allowed"
    ),
    fix="custom-function/setup-context-style",
    see_also=(_EXTENDING,),
)
def backward_and_vjp():
    """`vjp` and `backward` are two names for the same method (the vector-Jacobian product);
    with both defined, the engine would have to choose, and it refuses when the node runs.

    The check is made by `BackwardCFunction.apply` when the engine calls the node, so the
    forward succeeds and the error appears at `backward()`. Keep one of the two names.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

        @staticmethod
        def vjp(ctx, grad):
            return grad * 2

    Double.apply(torch.ones(2, requires_grad=True)).sum().backward()


@case(
    "custom-function/no-jvp",
    question="Why does forward-mode AD through my Function fail with 'You must implement the jvp function for custom autograd.Function'?",
    expect="Forward mode is derived from the backward I wrote.",
    outcome=Raises(
        NotImplementedError,
        r"You must implement the jvp function for custom autograd\.Function to use it with forward mode AD",
    ),
    fix="custom-function/setup-context-style",
    see_also=("functional/forward-ad-jvp", _EXTENDING),
)
def no_jvp():
    """Forward mode pushes a tangent through each op (`J·v`), reverse mode pulls a gradient back
    (`vᵀ·J`); one does not give the other without materialising the Jacobian, so a Function used
    with dual tensors needs its own `jvp`.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        Double.apply(fwad.make_dual(torch.ones(2), torch.ones(2)))


@case(
    "custom-function/jvp-wrong-count",
    question="Why does my Function's jvp fail with \"Function's jvp returned an invalid number of forward gradients\"?",
    expect="jvp returns the tangent of the output I care about.",
    outcome=Raises(
        RuntimeError,
        r"Function's jvp returned an invalid number of forward gradients \(expected \d+ but got \d+\)",
    ),
    fix="custom-function/setup-context-style",
    see_also=(_EXTENDING,),
)
def jvp_wrong_count():
    """`jvp` returns one tangent per *output* of `forward` (where `backward` returns one
    gradient per input); a two-output Function whose `jvp` returns one tangent is refused.

    The count is checked when the Function is applied to dual tensors: forward mode computes
    tangents during the forward, so the error appears at `apply`, not at any backward.
    """

    class Split(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x * 2, x * 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 2  # one tangent for two outputs

    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        Split.apply(fwad.make_dual(torch.ones(2), torch.ones(2)))


@case(
    "custom-function/save-for-forward-a-number",
    question="Why does ctx.save_for_forward fail with 'save_for_forward expects all arguments to be tensors'?",
    expect="save_for_forward keeps whatever jvp will need.",
    outcome=Raises(AssertionError, r"save_for_forward expects all arguments to be tensors"),
    fix="custom-function/setup-context-style",
    see_also=("custom-function/save-a-number",),
)
def save_for_forward_a_number():
    """Like `save_for_backward`, `save_for_forward` is for tensors only (it is an `assert` in
    `FunctionCtx.save_for_forward`); keep numbers as `ctx` attributes.

    Forward-mode AD reads what was saved in `jvp` through `ctx.saved_tensors`, version-checked
    like backward's saved tensors; a number has no version counter, so it goes on `ctx` as an
    attribute (`ctx.k = 3`).
    """

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x, 3)
            return x * 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    Scale.apply(torch.ones(2, requires_grad=True))


@case(
    "custom-function/input-returned-and-saved",
    question="Why does my Function fail with 'An input that has been returned as-is as output is being saved for backward'?",
    expect="Returning the input unchanged and saving it is the cheapest identity.",
    outcome=Raises(
        RuntimeError,
        r"An? input that has been returned as-is as output is being saved for backward",
    ),
    fix="custom-function/return-a-clone",
    see_also=("custom-function/setup-context-style",),
)
def input_returned_and_saved():
    """With a separate `setup_context`, an output that *is* an input is turned into a view of it
    after `forward`; saving that output for backward would save a tensor whose identity autograd
    is about to change, which is not supported. Return `x.clone()` or save `inputs[0]`.
    (torch 2.2.2 and 2.7.1 spell the message "A input"; the fragment allows both.)
    """

    class Identity(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, grad):
            return grad

    Identity.apply(torch.ones(2, requires_grad=True))


@case(
    "custom-function/backward-returns-a-number",
    question="Why does my Function's backward fail with 'expected Variable or None (got int)'?",
    expect="Returning 1 from backward means a gradient of one.",
    outcome=Raises(RuntimeError, r"expected Variable or None \(got \w+\)"),
    fix="custom-function/one-gradient-per-input",
    see_also=("hooks/hook-returns-number",),
)
def backward_returns_a_number():
    """Each value `backward` returns is placed on an edge of the graph as a tensor; a Python
    number is neither a tensor nor `None`, and `PyNode::apply` refuses it. Return
    `torch.ones_like(grad)`, or `grad * 1`.
    """

    class Constant(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return 1

    Constant.apply(torch.ones(2, requires_grad=True)).sum().backward()


@case(
    "custom-function/complex-gradient-for-real-input",
    question="Why does my Function's backward fail with 'Expected isFloatingType(grad.scalar_type()) || (input_is_complex == grad_is_complex)'?",
    expect="A complex gradient for a real input keeps its real part.",
    outcome=Raises(
        RuntimeError,
        r"Expected isFloatingType\(grad\.scalar_type\(\)\) \|\| \(input_is_complex == grad_is_complex\)",
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=("backward-api/complex-loss-made-real",),
)
def complex_gradient_for_real_input():
    """The engine checks each returned gradient's dtype against its input: a real input gets a
    real gradient. Common in FFT-based layers whose backward computes in the complex domain:
    return `grad.real` (the gradient of a real input with respect to a real loss is real).
    """

    class ViaFFT(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.to(torch.complex64) * 2

    ViaFFT.apply(torch.ones(2, requires_grad=True)).sum().backward()


@case(
    "custom-function/gradient-on-other-device",
    question="Why does my Function's backward fail with 'returned an invalid gradient at index 0 - expected device cpu but got meta'?",
    expect="The engine moves a gradient to its input's device.",
    outcome=Raises(
        RuntimeError, r"returned an invalid gradient at index \d+ - expected device .* but got"
    ),
    fix="custom-function/one-gradient-per-input",
    see_also=("custom-function/gradient-of-wrong-shape",),
)
def gradient_on_other_device():
    """The engine checks each returned gradient's device against its input's (after shape and
    before dtype) and never copies across devices; the usual case is a CPU gradient for a CUDA
    input, reproduced here on a CPU-only machine with the `meta` device.

    Allocate in backward on the incoming gradient's device: `torch.zeros_like(grad)`, or
    `torch.empty(..., device=grad.device)`.
    """

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return torch.empty(grad.shape, device="meta")  # not the input's device

    Double.apply(torch.ones(3, requires_grad=True)).sum().backward()
