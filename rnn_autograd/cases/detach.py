"""Detach: what ``detach()``, ``.data``, ``clone()`` and a no-grad result share with the original.

The recurring question of RNN training ("how do I cut the graph between batches?") has three
answers that look alike and are not: ``detach()`` makes a new tensor object over the same storage
*and the same version counter*; ``detach_()`` rewrites the tensor object itself; ``.data`` shares
the storage but gets its own version counter, so autograd cannot see changes made through it.
This module holds the storage and version-counter cases (in-place changes through a detached
tensor or ``.data``, copies, ``torch.tensor(t)``); ``detach_state`` holds the cases of cutting
an RNN's state: ``detach_()`` in place, on views, and on an LSTM's ``(h, c)``.
"""

from __future__ import annotations

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case, snapshot

_DETACH_DOC = "https://pytorch.org/docs/stable/generated/torch.Tensor.detach.html"
_INPLACE_CHECKS = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"


@case(
    "detach/inplace-on-detached-breaks-backward",
    question="Why does an in-place change on x.detach() break the backward of a loss built from x?",
    expect="x.detach() is a separate tensor outside the graph, so changing it cannot affect x's graph.",
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="detach/clone-before-inplace",
    see_also=(_DETACH_DOC, _INPLACE_CHECKS, "detach/data-inplace-silently-wrong-grad"),
)
def inplace_on_detached_breaks_backward():
    """`x.detach()` is a new tensor *object* over the same storage and the same version counter,
    so an in-place change through it is a change to `x` as far as autograd is concerned.

    `loss = (x ** 2).sum()` records `PowBackward0`, which *saves* `x` (the gradient of x² is
    2·x) together with the version `x` had then: 0. `x.detach()` returns a tensor without
    `grad_fn` and with `requires_grad=False`, but it shares `x`'s storage *and* its version
    counter (PyTorch's `c10/core/TensorImpl.h`, note "Version Counter Sharing": "`x.detach()`
    shares the version counter of `x`"). `add_(1)` bumps that shared counter, so `x._version`
    is now 1. When the backward reaches `PowBackward0` and unpacks the saved `x`, it compares 1
    with the recorded 0 and raises rather than use values that are no longer the ones the
    forward saw.

    Predict a variation: build the loss from nodes that save nothing of `x` (say
    `loss = (x * 2).sum()`: `MulBackward0` saves the other factor, the scalar 2, but not `x`,
    because d(2x)/dx = 2 needs no value of `x`) and the same change passes unnoticed, with
    the correct gradient 2. Make the change on
    `x.detach().clone()` and it passes too: a clone has its own storage and
    counter.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x**2).sum()  # PowBackward0 saves x at version 0
    x_detached = x.detach()  # new object; same storage, same version counter as x
    x_detached.add_(1)  # in-place: bumps the shared counter, x._version becomes 1
    snapshot("after the change through x.detach()", loss)
    loss.backward()  # unpacking the saved x finds version 1, expected 0


@case(
    "detach/clone-before-inplace",
    question="How do I change a detached copy of x without breaking the backward of a loss built from x?",
    expect="A copy changes nothing of x, so x._version stays 0 and x.grad is 2·x = [2, 4].",
    outcome=Returns(
        {
            "x._version": 0,
            "x.grad": torch.tensor([2.0, 4.0]),
            "shifted": torch.tensor([2.0, 3.0]),
        }
    ),
    see_also=(_DETACH_DOC, "detach/inplace-on-detached-breaks-backward"),
)
def clone_before_inplace():
    """`x.detach().clone()` is a copy with its own storage and its own version counter, so
    changing it in place leaves `x`, and the saved `x` in the graph, untouched.

    `detach()` gives a view of `x`'s data outside the graph; `clone()` then copies the data into
    new memory (and, because its input does not require grad, records nothing). The in-place
    `add_` therefore bumps only the clone's counter: `x._version` stays 0, `PowBackward0` finds
    its saved `x` at the version it recorded, and the gradient is the true 2·x = [2, 4]. The
    order `detach().clone()` is the cheap one: `clone().detach()` would first record a
    `CloneBackward0` node and then throw it away.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x**2).sum()  # PowBackward0 saves x at version 0
    shifted = x.detach().clone()  # detach: no graph; clone: own storage and counter
    shifted.add_(1)  # in-place on the copy only: x's counter is not touched
    loss.backward()
    return {"x._version": x._version, "x.grad": x.grad, "shifted": shifted}


@case(
    "detach/data-inplace-silently-wrong-grad",
    question="Why does changing x.data in place after the forward give a wrong gradient without any error?",
    expect="Either an error like with x.detach(), or the gradient of the loss actually computed: [2, 4].",
    outcome=Returns({"x._version": 0, "x.grad": torch.tensor([4.0, 6.0])}),
    fix="detach/update-after-backward",
    see_also=(
        _DETACH_DOC,
        _INPLACE_CHECKS,
        "https://github.com/pytorch/pytorch/issues/5396",
        "detach/inplace-on-detached-breaks-backward",
    ),
)
def data_inplace_silently_wrong_grad():
    """`.data` shares `x`'s storage but *not* its version counter, so autograd cannot tell that
    the saved `x` changed, and the backward uses the new values: a wrong gradient, silently.

    The forward computed `loss = 1² + 2²` from x = [1, 2] and `PowBackward0` saved `x` at version
    0. `x.data` is a tensor over the same memory with a fresh version counter of its own (unlike
    `x.detach()`, which shares `x`'s; PyTorch's `TensorImpl.h` note "Version Counter Sharing"
    lists "`x.data` does not share the version counter of `x`" as deliberate, see
    pytorch/pytorch#5396). `add_(1)` writes [2, 3] into the shared memory and bumps
    only that fresh counter: `x._version` stays 0. The backward unpacks the saved `x`, finds
    version 0 as recorded, and computes 2·x with the *current* values: [4, 6], where the loss
    that was computed has gradient [2, 4]. The same code with `x.detach()` raises instead
    (`detach/inplace-on-detached-breaks-backward`); the fix is to change `x` only after the
    backward has used it.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x**2).sum()  # PowBackward0 saves x at version 0
    x.data.add_(1)  # in-place through .data: x's own counter stays 0, nothing can notice
    snapshot("after the change through x.data", loss)
    loss.backward()  # uses the saved x, now holding [2, 3]
    return {"x._version": x._version, "x.grad": x.grad}


@case(
    "detach/update-after-backward",
    question="Where must an in-place update of x go so that the gradient of the loss built from x is right?",
    expect="The order of update and backward does not matter, as long as no error is raised.",
    outcome=Returns(
        {
            "x.grad": torch.tensor([2.0, 4.0]),
            "x": torch.tensor([2.0, 3.0]),
            "x._version": 1,
            "x.is_leaf": True,
        }
    ),
    see_also=(
        _INPLACE_CHECKS,
        "detach/data-inplace-silently-wrong-grad",
        "grad-mode/leaf-inplace-under-no-grad",
    ),
)
def update_after_backward():
    """Change `x` after the backward has consumed the saved `x`: the gradient is the one of the
    loss that was computed, and the update is visible to the next forward.

    The backward runs `PowBackward0` while the saved `x` is still at version 0, so
    x.grad = 2·[1, 2] = [2, 4]. Only then does `x.add_(1)` run, under `torch.no_grad()` because
    `x` is a leaf that requires grad (outside no-grad mode such an in-place op raises, see
    `grad-mode/leaf-inplace-outside-no-grad`). It bumps `x._version` to 1, which harms
    nothing: the graph that saved `x` has been used and freed. This is the order every optimizer
    step follows: forward, backward, update.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x**2).sum()
    loss.backward()  # the saved x is used here, at version 0
    with torch.no_grad():  # an update, not part of any graph; allowed on a leaf here
        x.add_(1)  # in-place after the backward: the freed graph cannot mind
    return {"x.grad": x.grad, "x": x, "x._version": x._version, "x.is_leaf": x.is_leaf}


@case(
    "detach/detach-vs-clone",
    question="What is the difference between detach(), clone() and clone().detach()?",
    expect="All three give a copy of the tensor.",
    outcome=Returns(
        {
            "detach: shares storage": True,
            "detach: grad_fn": None,
            "clone: shares storage": False,
            "clone: grad_fn": "CloneBackward0",
            "clone().detach(): shares storage": False,
            "clone().detach(): grad_fn": None,
            "x.grad through the clone": torch.tensor([2.0, 2.0]),
        }
    ),
    see_also=(
        _DETACH_DOC,
        "https://pytorch.org/docs/stable/generated/torch.clone.html",
        "detach/clone-before-inplace",
    ),
)
def detach_vs_clone():
    """`detach()` drops the history and keeps the memory; `clone()` copies the memory and keeps
    the history; `clone().detach()` (or cheaper, `detach().clone()`) drops both.

    `y = 2·x` is a non-leaf. `y.detach()` is a new tensor object over `y`'s storage (same
    `data_ptr`) with no `grad_fn`: nothing is copied and nothing is recorded. `y.clone()` copies
    the values into new memory and, since `y` requires grad, records `CloneBackward0`, so the
    clone is differentiable: a backward through it reaches `x` with gradient 2. Detaching the
    clone gives new memory without history: a fully independent copy, the thing to store when a
    value must survive later in-place changes and must not keep a graph alive.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    detached = y.detach()  # no copy, no history
    cloned = y.clone()  # a copy, recorded as CloneBackward0
    independent = y.clone().detach()  # a copy without history
    cloned.sum().backward()
    return {
        "detach: shares storage": detached.data_ptr() == y.data_ptr(),
        "detach: grad_fn": detached.grad_fn,
        "clone: shares storage": cloned.data_ptr() == y.data_ptr(),
        "clone: grad_fn": type(cloned.grad_fn).__name__,
        "clone().detach(): shares storage": independent.data_ptr() == y.data_ptr(),
        "clone().detach(): grad_fn": independent.grad_fn,
        "x.grad through the clone": x.grad,
    }


@case(
    "detach/no-grad-result-vs-detach",
    question="Is a tensor computed under torch.no_grad() the same thing as a detached tensor?",
    expect="Both are 'x without gradient', so they behave alike.",
    outcome=Returns(
        {
            "no_grad result: requires_grad": False,
            "no_grad result: shares x's storage": False,
            "detached: requires_grad": False,
            "detached: shares x's storage": True,
            "x._version after changing the no_grad result": 0,
            "x._version after changing the detached tensor": 1,
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation",
        "grad-mode/no-grad-outputs",
    ),
)
def no_grad_result_vs_detach():
    """Both have no history, but a no-grad *computation* produces new memory with its own version
    counter, while `detach()` is the same memory and the same version counter as `x`.

    Under `torch.no_grad()` the multiplication runs without recording a node, so `y = x * 1`
    is a fresh tensor: new storage, new counter, `requires_grad=False`. `x.detach()` computes
    nothing: it is another tensor object over `x`'s storage sharing `x`'s counter. So an
    in-place change of `y` leaves `x._version` at 0, while the same change through the detached
    tensor bumps it to 1 (and changes `x`'s values), which would break any graph that saved `x`
    (see `detach/inplace-on-detached-breaks-backward`). Careful with views: a *view* taken
    under no_grad (`x[0:1]`) still shares `x`'s storage and counter.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # a computation nobody will differentiate
        y = x * 1
    detached = x.detach()  # no computation: x's storage and counter
    y.add_(1)  # in-place on y's own memory
    version_after_y = x._version
    detached.add_(1)  # in-place on x's memory: bumps x's counter
    return {
        "no_grad result: requires_grad": y.requires_grad,
        "no_grad result: shares x's storage": y.data_ptr() == x.data_ptr(),
        "detached: requires_grad": detached.requires_grad,
        "detached: shares x's storage": detached.data_ptr() == x.data_ptr(),
        "x._version after changing the no_grad result": version_after_y,
        "x._version after changing the detached tensor": x._version,
    }


_COPY = {"copy.requires_grad": False, "copy shares storage": False, "copy.grad_fn": None}


@case(
    "detach/torch-tensor-of-a-tensor",
    question="Why does torch.tensor(state) warn, and does the copy keep the graph?",
    expect="torch.tensor(t) is the usual way to make a tensor, so it should be silent.",
    # The warning's advice changed words in torch 2.7.0 (see the explanation); the copy did not.
    outcome=ByTorch(
        {
            "<2.7": Returns(
                _COPY,
                warns=(
                    Warned(UserWarning, r"recommended to use sourceTensor\.clone\(\)\.detach\(\)"),
                ),
            ),
            ">=2.7": Returns(
                _COPY,
                warns=(
                    Warned(UserWarning, r"recommended to use sourceTensor\.detach\(\)\.clone\(\)"),
                ),
            ),
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.tensor.html",
        "detach/detach-vs-clone",
    ),
)
def torch_tensor_of_a_tensor():
    """`torch.tensor(t)` always *copies* data into a new leaf without history, so on a tensor it
    equals `t.detach().clone()`, and PyTorch warns that it wants you to write that instead.

    `torch.tensor` is a constructor from data: it reads the values, allocates new memory and
    builds a leaf with `requires_grad=False` (unless passed `requires_grad=True`). Given a tensor
    that is part of a graph, the graph is silently dropped, which is rarely what a reader of
    `torch.tensor(state)` expects; hence the `UserWarning` naming the explicit spelling,
    `sourceTensor.detach().clone()` (or `.requires_grad_(True)` after it for a new trainable leaf).

    Before torch 2.7.0 the same warning advised `sourceTensor.clone().detach()`. Both spellings
    give the same tensor; detaching first is cheaper, because `clone()` on a tensor that requires
    grad records a `CloneBackward0` node that `detach()` then throws away. The text changed
    between 2.6.0 and 2.7.0: the `libtorch_python` of the released 2.6.0 wheel holds the old
    text, that of 2.7.0 the new one. The likely change is pytorch/pytorch#140264 ("Replace
    clone.detach with detach.clone", for issue #64532). So the case declares the warning by
    release (`ByTorch`), and the copy's properties the same on both.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    state = x * 2
    copy = torch.tensor(state)  # copies values into a new leaf: the graph is dropped
    return {
        "copy.requires_grad": copy.requires_grad,
        "copy shares storage": copy.data_ptr() == state.data_ptr(),
        "copy.grad_fn": copy.grad_fn,
    }
