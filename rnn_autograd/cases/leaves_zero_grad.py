"""Leaves, continued: emptying ``.grad`` and updating a leaf by hand.

``zero_grad()`` sets ``.grad`` to None by default (so ``p.grad.zero_()`` after it fails, and an
optimizer skips a parameter whose ``.grad`` is None), and ``w = w - lr * w.grad`` rebinds ``w``
to a recorded non-leaf, while the in-place update under ``torch.no_grad()`` keeps the leaf.
Which tensors get a ``.grad`` and how it accumulates is in ``leaves``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Close, Raises, Returns, case, snapshot
from .leaves import _IS_LEAF, _NON_LEAF_GRAD, _ZERO_GRAD


def _sgd_on_one_weight(**options) -> tuple[nn.Parameter, torch.optim.SGD]:
    """A parameter p = 2 with one gradient already accumulated (d(3p)/dp = 3)."""
    p = nn.Parameter(torch.tensor([2.0]))
    optimizer = torch.optim.SGD([p], lr=0.1, **options)
    (3 * p).sum().backward()
    return p, optimizer


@case(
    "leaves/zero-grad-sets-none",
    question="What does optimizer.zero_grad() do to p.grad?",
    expect="It fills p.grad with zeros.",
    outcome=Returns(
        {
            "p.grad before": torch.tensor([3.0]),
            "p.grad after zero_grad": None,
            "p.grad after the next backward": torch.tensor([3.0]),
        }
    ),
    see_also=(_ZERO_GRAD, "leaves/grad-zero-after-zero-grad", "leaves/none-grad-skips-step"),
)
def zero_grad_sets_none():
    """Since torch 2.0 `zero_grad()` defaults to `set_to_none=True`: it sets `p.grad = None`
    rather than filling it with zeros, and the next backward creates a fresh `.grad`.

    Emptying `.grad` is what stops accumulation across steps (see `leaves/grads-accumulate`).
    Setting it to None does that without a kernel launch per parameter and frees the memory
    until the next backward, where `AccumulateGrad` finding no `.grad` simply stores the
    incoming gradient: 3 again, not 3 + 3. The catch is for code that expects a tensor there:
    `p.grad.zero_()`, `p.grad.norm()` or `p.grad += ...` on None fail, and optimizers skip
    parameters whose `.grad` is None entirely (see `leaves/none-grad-skips-step`).
    """
    p, optimizer = _sgd_on_one_weight()
    before = p.grad.clone()
    optimizer.zero_grad()  # default set_to_none=True: p.grad becomes None, not zeros
    after_zero = p.grad
    (3 * p).sum().backward()
    return {
        "p.grad before": before,
        "p.grad after zero_grad": after_zero,
        "p.grad after the next backward": p.grad,
    }


@case(
    "leaves/grad-zero-after-zero-grad",
    question="Why does p.grad.zero_() fail right after optimizer.zero_grad()?",
    expect="zero_grad() left a zero gradient, and zeroing zeros is harmless.",
    outcome=Raises(AttributeError, r"'NoneType' object has no attribute 'zero_'"),
    fix="leaves/zero-grad-keep-zeros",
    see_also=(_ZERO_GRAD, "leaves/zero-grad-sets-none"),
)
def grad_zero_after_zero_grad():
    """`optimizer.zero_grad()` set `p.grad` to None (the default since torch 2.0), and None has
    no `zero_` method.

    Code written for older releases often follows `zero_grad()` with its own clean-up of
    `.grad` (`p.grad.zero_()`, `p.grad.detach_()`), or reads `p.grad` right after to log a norm.
    With `set_to_none=True` there is no tensor until the next backward creates one, so such
    code fails with an `AttributeError` on `NoneType` (not a torch error). Either pass
    `set_to_none=False`, or guard with `if p.grad is not None`.
    """
    p, optimizer = _sgd_on_one_weight()
    optimizer.zero_grad()  # default set_to_none=True: p.grad is now None
    p.grad.zero_()  # in-place on a gradient that no longer exists


@case(
    "leaves/zero-grad-keep-zeros",
    question="How do I keep p.grad as a tensor of zeros after zero_grad()?",
    expect="set_to_none=False makes no difference: p.grad is zeros either way.",
    outcome=Returns({"p.grad after zero_grad": torch.tensor([0.0]), "p.grad.zero_() ok": True}),
    see_also=(_ZERO_GRAD, "leaves/grad-zero-after-zero-grad"),
)
def zero_grad_keep_zeros():
    """`optimizer.zero_grad(set_to_none=False)` zeroes the existing `.grad` tensors in place, so
    code that expects a tensor there keeps working.

    With `set_to_none=False` each `p.grad` is detached from any graph and `zero_()`-ed, keeping
    its memory allocated: a later `p.grad.zero_()` is a harmless no-op and the next backward
    accumulates into the zeros. This costs a little memory and time against the default; the
    alternative that keeps the default is to guard every use with `if p.grad is not None`.
    """
    p, optimizer = _sgd_on_one_weight()
    optimizer.zero_grad(set_to_none=False)  # keep the tensors, fill them with zeros
    after = p.grad.clone()
    p.grad.zero_()  # in-place on zeros: fine, there is a tensor
    return {"p.grad after zero_grad": after, "p.grad.zero_() ok": True}


@case(
    "leaves/none-grad-skips-step",
    question="Does an optimizer step change a parameter whose .grad is None?",
    expect="A None gradient is the same as a zero gradient.",
    outcome=Returns(
        {"p (grad zeros)": Close(torch.tensor([0.9])), "q (grad None)": torch.tensor([1.0])}
    ),
    see_also=(_ZERO_GRAD, "leaves/zero-grad-sets-none"),
)
def none_grad_skips_step():
    """An optimizer skips parameters whose `.grad` is None, but a zero gradient is still a step:
    with weight decay the parameter moves.

    `SGD(weight_decay=1.0)` updates p ← p − lr·(grad + wd·p). `p` took part in the loss with
    factor 0, so its `.grad` is a tensor of zeros and the step still applies the decay:
    1 − 0.1·(0 + 1·1) = 0.9. `q` was not in the graph at all, so no backward wrote its `.grad`:
    it is None and `step()` leaves `q` untouched. The same difference appears with momentum or
    Adam state, which keep moving on zeros. This is the third behaviour change that the
    `zero_grad` docs list for `set_to_none=True`.
    """
    p = nn.Parameter(torch.tensor([1.0]))
    q = nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([p, q], lr=0.1, weight_decay=1.0)
    (0 * p).sum().backward()  # p.grad = 0; q is not in the graph
    optimizer.step()
    return {"p (grad zeros)": p.detach().clone(), "q (grad None)": q.detach().clone()}


@case(
    "leaves/manual-update-makes-non-leaf",
    question="Why is w.grad None after the second step of my hand-written gradient descent?",
    expect="w = w - lr * w.grad updates w, and the next backward fills w.grad again.",
    outcome=Returns(
        {"w.is_leaf": False, "w.grad_fn": "SubBackward0", "w.grad": None},
        warns=(_NON_LEAF_GRAD,),
    ),
    fix="leaves/manual-update-under-no-grad",
    see_also=(_IS_LEAF, "leaves/grad-of-non-leaf-is-none"),
)
def manual_update_makes_non_leaf():
    """`w - lr * w.grad` is an operation on a tensor that requires grad, so its result is a new
    *non-leaf* with a `grad_fn`; rebinding the name `w` to it leaves the real leaf behind.

    After the first backward, `w.grad` holds 2·w. The update runs in grad mode with an input
    that requires grad (`w`), so autograd records it: the new `w` has
    `grad_fn=SubBackward0` and is not a leaf. The second forward builds its graph on this
    non-leaf, and its backward flows *through* it, via `SubBackward0`, into the original leaf's
    `AccumulateGrad`. Nothing is stored in the new `w.grad`: reading it gives None and a
    warning, and the next update (`lr * None`) raises a `TypeError`. Every step would also chain
    the graphs of all previous steps together.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    lr = 0.25
    (w**2).sum().backward()
    w = w - lr * w.grad  # recorded: the new w is SubBackward0's output, not a leaf
    loss = (w**2).sum()
    snapshot("the second loss, built on the recorded update", loss)
    loss.backward()
    return {"w.is_leaf": w.is_leaf, "w.grad_fn": type(w.grad_fn).__name__, "w.grad": w.grad}


@case(
    "leaves/manual-update-under-no-grad",
    question="How do I write a gradient-descent step by hand so that w stays a leaf?",
    expect="An in-place update of a leaf that requires grad is refused, as in grad mode.",
    outcome=Returns(
        {
            "w after two steps": torch.tensor([0.25, 0.5]),
            "w.is_leaf": True,
            "w.grad_fn": None,
            "w._version": 2,
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.no_grad.html",
        "leaves/manual-update-makes-non-leaf",
        "grad-mode/leaf-inplace-under-no-grad",
    ),
)
def manual_update_under_no_grad():
    """Update in place under `torch.no_grad()` and empty `.grad` afterwards: the same leaf object
    gets new values, and nothing about the update is recorded.

    `w -= lr * w.grad` writes into `w`'s own storage, so the name keeps pointing at the leaf;
    under no-grad mode no node is recorded (and the in-place op on a leaf that requires grad is
    allowed, see `grad-mode/leaf-inplace-outside-no-grad`). Each update bumps `w._version`,
    which is harmless because the graph that saved `w` has already been used. With the loss
    Σw², the gradient is 2·w and lr = 0.25 halves w each step: [1, 2] → [0.5, 1] → [0.25, 0.5].
    Setting `w.grad = None` is what `zero_grad()` does; without it the second gradient would be
    added to the first.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    lr = 0.25
    for _ in range(2):
        (w**2).sum().backward()
        with torch.no_grad():  # the update is not part of any graph
            w -= lr * w.grad  # in-place: same leaf object, version + 1
        w.grad = None  # as zero_grad(): stop this gradient adding into the next
    return {
        "w after two steps": w.detach().clone(),
        "w.is_leaf": w.is_leaf,
        "w.grad_fn": w.grad_fn,
        "w._version": w._version,
    }
