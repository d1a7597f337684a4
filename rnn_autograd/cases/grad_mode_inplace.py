"""Grad modes and in-place writes: updating a leaf, or a view of it, under and outside no_grad.

In grad mode an in-place op on a leaf that requires grad, or on a view taken under no-grad
mode, is refused; under ``torch.no_grad()`` it is allowed because nothing is recorded. No-grad
mode stops recording, not version counting, so such an update still belongs after the backward
that used the old values. The cases of switching grad modes are in ``grad_mode``.
"""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case, snapshot
from .grad_mode import _GRAD_MODES, _NO_GRAD


@case(
    "grad-mode/leaf-inplace-outside-no-grad",
    question="Why does w -= lr * w.grad raise 'a leaf Variable that requires grad is being used in an in-place operation'?",
    expect="Updating a parameter in place is what every optimizer does.",
    outcome=Raises(
        RuntimeError, r"a leaf Variable that requires grad is being used in an in-place operation"
    ),
    fix="grad-mode/leaf-inplace-under-no-grad",
    see_also=(_GRAD_MODES, "leaves/manual-update-under-no-grad"),
)
def leaf_inplace_outside_no_grad():
    """In grad mode an in-place op on a leaf that requires grad would have to be *recorded* on
    the leaf itself, turning it into a non-leaf; autograd refuses instead.

    Recording an in-place op replaces the tensor's `grad_fn` with the op's node (that is how an
    in-place op on an intermediate tensor stays differentiable). A leaf's edge must end in its
    `AccumulateGrad` node, the only place its `.grad` is written, so an in-place op on it cannot
    be recorded; the check runs before the op, and `w` is unchanged. Optimizers do exactly this
    update, but with grad mode off (their `step` switches it off unless built with
    `differentiable=True`), where nothing is recorded and the check does not apply.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w**2).sum().backward()
    w -= 0.25 * w.grad  # in-place on a leaf in grad mode: refused


@case(
    "grad-mode/leaf-inplace-under-no-grad",
    question="How do I update a leaf that requires grad in place?",
    expect="Under no_grad nothing is tracked, so w's version counter stays at 0.",
    outcome=Returns(
        {
            "w": torch.tensor([0.5, 1.0]),
            "w.is_leaf": True,
            "w.requires_grad": True,
            "w._version": 1,
        }
    ),
    see_also=(
        _NO_GRAD,
        "grad-mode/leaf-inplace-outside-no-grad",
        "leaves/manual-update-under-no-grad",
    ),
)
def leaf_inplace_under_no_grad():
    """Under `torch.no_grad()` the in-place update is not recorded, so it is allowed: `w` stays
    the same leaf object, still requires grad, and its version counter goes up by one.

    No node is created, so `w` keeps no `grad_fn` and stays a leaf; its flag `requires_grad` is
    not touched by the mode. The write is still an in-place change of `w`'s storage, so
    `w._version` becomes 1: no-grad mode does not exempt the change from version checks, which
    is why the update must come *after* the backward that used the saved `w` (see
    `grad-mode/no-grad-update-before-backward`). With gradient 2·w = [2, 4] and lr = 0.25,
    w becomes [0.5, 1].
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w**2).sum().backward()  # the graph that saved w is used and freed here
    with torch.no_grad():  # an update, not part of any graph
        w -= 0.25 * w.grad  # in-place on the leaf: allowed here, bumps w._version
    return {
        "w": w.detach().clone(),
        "w.is_leaf": w.is_leaf,
        "w.requires_grad": w.requires_grad,
        "w._version": w._version,
    }


@case(
    "grad-mode/no-grad-update-before-backward",
    question="Why does the backward fail when I update the weights under no_grad between the forward and the backward?",
    expect="Under no_grad the update is invisible to autograd.",
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="grad-mode/leaf-inplace-under-no-grad",
    see_also=(
        "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks",
        "detach/inplace-on-detached-breaks-backward",
    ),
)
def no_grad_update_before_backward():
    """No-grad mode stops *recording*, not *version counting*: the in-place update still bumps
    `w._version`, and the backward then finds the `w` it saved changed.

    `loss = (w ** 2).sum()` records `PowBackward0`, which saves `w` at version 0. The update
    under `torch.no_grad()` is allowed (nothing is recorded) but it writes `w`'s storage in
    place, so the counter becomes 1. The backward unpacks the saved `w`, sees 1 where it recorded
    0 and raises, which is correct: the gradient would otherwise be computed from the updated
    values. Inference mode would not help either: an in-place op on a normal tensor bumps its
    counter there too; only the tensors inference mode *creates* have no counter, and those
    cannot be saved at all (see `grad-mode/inference-tensor-in-autograd`).
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w**2).sum()  # PowBackward0 saves w at version 0
    with torch.no_grad():  # not recorded, but still an in-place write of w
        w -= 0.25  # bumps w._version to 1
    snapshot("after the no_grad update", loss)
    loss.backward()  # the saved w is at version 1, expected 0


@case(
    "grad-mode/no-grad-view-modified-with-grad",
    question="Why does changing in place, with grad enabled, a slice that I took under no_grad raise an error?",
    expect="The slice was taken without gradients, so changing it concerns nobody.",
    outcome=Raises(
        RuntimeError, r"A view was created in no_grad mode and is being modified inplace"
    ),
    fix="grad-mode/no-grad-view-modified-in-no-grad",
    see_also=(_GRAD_MODES, "detach/detach-in-place-on-view"),
)
def no_grad_view_modified_with_grad():
    """A view made under no_grad still shares its base's storage, so an in-place change of it
    changes the base; with grad mode back on, autograd cannot tell whether that change should
    be recorded in the base's history, and refuses.

    `w[0:1]` taken under `torch.no_grad()` is a view of `w`: same memory, same version counter,
    `_base is w`. Its creation was not recorded, so it has no `grad_fn`, yet it reports `w`'s
    `requires_grad` (True), and autograd marks it as made in no-grad mode. An in-place op on a
    view in grad mode is normally recorded into the *base's* history, so that gradients through
    `w` account for the change. Here that would record a change made through a slice whose
    creation was deliberately left out of the graph, while not recording it would let `w`'s
    graph miss a change of its values; PyTorch calls the use "ambiguous and error-prone" and
    raises before writing anything (`w` is unchanged). Doing both the view and the change
    inside the no_grad block, or both outside it, is allowed. PyTorch's C++ tests pin this down,
    together with a known oddity of such views: they are leaves, yet a backward through them
    fills no `.grad`.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # the view is created without recording
        first = w[0:1]
    first.mul_(0)  # in-place in grad mode on a no_grad view: ambiguous, refused


@case(
    "grad-mode/no-grad-view-modified-in-no-grad",
    question="How do I change part of a leaf that requires grad in place, through a slice?",
    expect="Any in-place change through a slice of w is refused, as with the grad-mode version.",
    outcome=Returns(
        {"w": torch.tensor([0.0, 2.0]), "w._version": 1, "w.is_leaf": True, "w.grad_fn": None}
    ),
    see_also=(
        _NO_GRAD,
        "grad-mode/no-grad-view-modified-with-grad",
        "grad-mode/leaf-inplace-under-no-grad",
    ),
)
def no_grad_view_modified_in_no_grad():
    """Take the slice and change it inside the same `torch.no_grad()` block: the write is an
    unrecorded in-place change of `w`'s storage, which is exactly what an update of a leaf is.

    The view shares `w`'s storage and version counter, so `w` now holds [0, 2] and `w._version`
    is 1; nothing was recorded, so `w` stays a leaf without `grad_fn`. This is how
    initialisers and optimizers touch parts of parameters (`torch.nn.init` runs under no_grad).
    As with any update, it belongs after the backward that used the old values.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # view and in-place change both unrecorded
        w[0:1].mul_(0)  # in-place through a view: writes w's storage, bumps w's counter
    return {
        "w": w.detach().clone(),
        "w._version": w._version,
        "w.is_leaf": w.is_leaf,
        "w.grad_fn": w.grad_fn,
    }
