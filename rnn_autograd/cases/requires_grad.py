"""Which tensors may require grad, retain it, or be given a ``.grad`` by hand."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_GRAD_ATTR = "https://pytorch.org/docs/stable/generated/torch.Tensor.grad.html"


@case(
    "requires-grad/integer-tensor",
    question="Why does requires_grad_() fail with 'only Tensors of floating point dtype can require gradients'?",
    expect="Any tensor can require grad; an integer one just gets integer gradients.",
    outcome=Raises(RuntimeError, r"only Tensors of floating point dtype can require gradients"),
    fix="requires-grad/float-leaf",
    see_also=("modules/parameter-of-integer-dtype",),
)
def integer_tensor():
    """A gradient is a rate of change of a continuous function; integer (and boolean) tensors
    have none, so autograd refuses to track them at all.

    `torch.tensor([1, 2, 3])` is `int64` (Python ints). The setter behind `requires_grad_()`
    checks the dtype and raises this lower-case message; a factory with `requires_grad=True`
    and `nn.Parameter` raise "Only Tensors of floating point and complex dtype can require
    gradients" (`modules/parameter-of-integer-dtype`). Indices, labels and counts stay integer
    and do not require grad; values to optimise are floats.
    """
    x = torch.tensor([1, 2, 3])  # int64
    x.requires_grad_()


@case(
    "requires-grad/float-leaf",
    question="How do I make a tensor of whole numbers that requires grad?",
    outcome=Returns({"dtype": "torch.float32", "x.grad": torch.tensor([2.0, 4.0, 6.0])}),
    see_also=("requires-grad/integer-tensor",),
)
def float_leaf():
    """Give the values a floating dtype (`[1.0, 2.0, 3.0]`, `dtype=torch.float32` or `.float()`
    before `requires_grad_()`), then require grad.

    `x.float()` is an op, but on a tensor that does not require grad yet it is not recorded, so
    the result is a leaf; `requires_grad_()` after it makes it the leaf the gradients go to:
    `d Σx² / dx = 2x`.
    """
    x = torch.tensor([1, 2, 3]).float().requires_grad_()  # cast first, then require grad
    x.pow(2).sum().backward()
    return {"dtype": str(x.dtype), "x.grad": x.grad}


@case(
    "requires-grad/retain-grad-on-constant",
    question='Why does retain_grad() fail with "can\'t retain_grad on Tensor that has requires_grad=False"?',
    expect="retain_grad() makes the tensor keep whatever gradient it gets.",
    outcome=Raises(RuntimeError, r"can't retain_grad on Tensor that has requires_grad=False"),
    fix="leaves/retain-grad",
    see_also=("leaves/grad-of-non-leaf-is-none",),
)
def retain_grad_on_constant():
    """`retain_grad` attaches a hook that stores the gradient flowing into a tensor; a tensor
    that does not require grad is not in any graph and never receives one, so it is refused.

    Typical slip: calling it on the input batch, or on an intermediate computed under
    `no_grad` (here the product of two constants). Only tensors produced by recorded ops (or
    leaves that require grad, where it is a no-op) can retain a gradient.
    """
    h = torch.ones(3) * 2  # computed from constants: requires_grad=False
    h.retain_grad()


@case(
    "requires-grad/assign-grad-of-other-shape",
    question="Why does setting .grad fail with \"attempting to assign a gradient of size '[4]' to a tensor of size '[3]'\"?",
    expect="A tensor's .grad can be set to any tensor.",
    outcome=Raises(RuntimeError, r"attempting to assign a gradient of size .* to a tensor of size"),
    fix="requires-grad/assign-grad-like-the-tensor",
    see_also=(_GRAD_ATTR,),
)
def assign_grad_of_other_shape():
    """`.grad` is where backward *accumulates* (`grad += new`), and optimizers read it element by
    element against the parameter, so the setter insists on the tensor's own shape.

    The setter of `Tensor.grad` checks size, then dtype (a `float64` gradient for a `float32`
    tensor fails with "attempting to assign a gradient with dtype"), then device. A gradient
    computed elsewhere (a federated average, a loaded checkpoint) must be reshaped or cast
    first; `None` is always accepted.
    """
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.ones(4)


@case(
    "requires-grad/assign-grad-of-other-dtype",
    question="Why does setting .grad fail with \"attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'\"?",
    expect="A double-precision gradient is just more precise.",
    outcome=Raises(
        RuntimeError,
        r"attempting to assign a gradient with dtype .* to a tensor with (dtype|grad_dtype)",
    ),
    fix="requires-grad/assign-grad-like-the-tensor",
    see_also=("requires-grad/assign-grad-of-other-shape",),
)
def assign_grad_of_other_dtype():
    """The gradient must have the dtype the tensor's gradients are accumulated in (its own
    dtype by default), or backward would add `float64` into a `float32` buffer, or the
    optimizer step would mix precisions.

    Recent releases name the tensor's `grad_dtype` in the message (an attribute that defaults
    to the dtype and can be set, with care, to allow another); older ones name its dtype, and
    the declared pattern accepts both. Cast: `g.to(w.dtype)`.
    """
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.ones(3, dtype=torch.float64)


@case(
    "requires-grad/grad-is-itself",
    question='Why does w.grad = w fail with "can\'t assign Variable as its own grad"?',
    expect="Setting the gradient to the weights themselves is an odd but valid choice.",
    outcome=Raises(RuntimeError, r"can't assign Variable as its own grad"),
    fix="requires-grad/assign-grad-like-the-tensor",
    see_also=("requires-grad/assign-grad-of-other-shape",),
)
def grad_is_itself():
    """The `.grad` setter refuses the tensor itself: with `w.grad is w`, every accumulation into
    the gradient (the next backward, `zero_grad`, an optimizer's in-place update) would change
    the parameter's values too.

    `w.grad = w.clone()` (or `w.detach().clone()`) gives the same values in separate memory.
    """
    w = torch.ones(3, requires_grad=True)
    w.grad = w


@case(
    "requires-grad/assign-grad-like-the-tensor",
    question="How do I set a parameter's .grad by hand (e.g. from averaged gradients)?",
    outcome=Returns(
        {
            "w.grad": torch.tensor([0.5, 0.5, 0.5]),
            "accumulates on backward": torch.tensor([2.5, 2.5, 2.5]),
        }
    ),
    see_also=("requires-grad/assign-grad-of-other-shape",),
)
def assign_grad_like_the_tensor():
    """Assign a tensor of the same shape, dtype and device that is not the tensor itself; the
    next backward then adds into it, like into a gradient it computed.

    Setting `w.grad` to halves, then `(2w).sum().backward()` adds 2: 2.5 each.
    """
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.full_like(w, 0.5)  # same shape, dtype, device; separate memory
    set_by_hand = w.grad.clone()
    (2 * w).sum().backward()  # accumulates into the assigned gradient
    return {"w.grad": set_by_hand, "accumulates on backward": w.grad}
