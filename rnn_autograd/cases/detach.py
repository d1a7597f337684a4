"""Detach: what ``detach()``, ``detach_()``, ``.data`` and ``clone()`` share with the original.

The recurring question of RNN training ("how do I cut the graph between batches?") has three
answers that look alike and are not: ``detach()`` makes a new tensor object over the same storage
*and the same version counter*; ``detach_()`` rewrites the tensor object itself; ``.data`` shares
the storage but gets its own version counter, so autograd cannot see changes made through it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, Warned, case, snapshot

_DETACH_DOC = "https://pytorch.org/docs/stable/generated/torch.Tensor.detach.html"
_DETACH_INPLACE_DOC = "https://pytorch.org/docs/stable/generated/torch.Tensor.detach_.html"
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
    "detach/detach-in-place-same-object",
    question="What does y.detach_() change, and is the result a new tensor?",
    expect="Like detach(): a new tensor without history, leaving y as it was.",
    outcome=Returns(
        {
            "returned is y": True,
            "y.grad_fn": None,
            "y.is_leaf": True,
            "y.requires_grad": False,
            "y._version": 0,
            "alias.grad_fn": None,
        }
    ),
    see_also=(_DETACH_INPLACE_DOC, "detach/detach-vs-clone"),
)
def detach_in_place_same_object():
    """`detach_()` rewrites the tensor object itself: it drops its `grad_fn`, sets
    `requires_grad=False` and so makes it a leaf; every name bound to that object sees the change.

    `y = x * 2` is a non-leaf with `grad_fn=MulBackward0`. `y.detach_()` returns `y` itself (the
    trailing underscore marks an in-place method), with `grad_fn` None, `is_leaf` True (a tensor
    that does not require grad is a leaf by definition) and `requires_grad` False. The values are
    untouched and the version counter is not bumped: only the autograd metadata changed.
    Because it is the same object, `alias = y` taken before the call is detached too; a bare
    `y.detach()` statement, by contrast, would return a new object, throw it away and leave `y`
    attached. That is why the notebook's `state.detach_()` works as a statement on its own,
    while the out-of-place form must be assigned: `state = state.detach()`.
    """
    x = torch.tensor([1.0], requires_grad=True)
    y = x * 2
    alias = y
    snapshot("before detach_", y)
    returned = y.detach_()  # cut y from MulBackward0 in place: same object, now a leaf
    return {
        "returned is y": returned is y,
        "y.grad_fn": y.grad_fn,
        "y.is_leaf": y.is_leaf,
        "y.requires_grad": y.requires_grad,
        "y._version": y._version,
        "alias.grad_fn": alias.grad_fn,
    }


@case(
    "detach/detach-in-place-on-view",
    question="Why does out[-1].detach_() fail on the last time step of an RNN's output?",
    expect="out[-1] is a tensor like any other, so it can be detached in place.",
    outcome=Raises(RuntimeError, r"Can't detach views in-place"),
    fix="detach/detach-view-out-of-place",
    see_also=(_DETACH_INPLACE_DOC, "detach/detach-in-place-same-object"),
)
def detach_in_place_on_view():
    """`out[-1]` is a *view* of `out`, and a view's autograd history is not its own to cut:
    PyTorch refuses `detach_()` on any view and says to use `detach()`.

    Indexing returns a view: it shares `out`'s storage and version counter and remembers its
    base (`out[-1]._base is out`). Its `grad_fn` (here `SelectBackward0`) is derived from the
    base's: when the base is changed in place, autograd regenerates the view's `grad_fn` (it
    becomes `AsStridedBackward0`) so that gradients keep flowing through the base. Detaching
    the view in place would leave an object that is still tied to its base for storage,
    versions and that regeneration, yet claims to have no history, so `detach_()` checks
    `is_view()` first and raises. The check is about being a view, not about gradients: a slice
    of a tensor that never required grad fails the same way.
    """
    x = torch.randn(3, 1, 2, requires_grad=True)
    out = x * 2  # (T, B, H): stands in for an RNN's output
    last = out[-1]  # a view of out: shares its storage and version counter
    last.detach_()  # in-place detach of a view: refused


@case(
    "detach/detach-view-out-of-place",
    question="How do I take the last time step of an RNN's output out of the graph?",
    expect="detach() on a slice gives a tensor without history that still shares the output's memory.",
    outcome=Returns(
        {
            "last.requires_grad": False,
            "last shares out's storage": True,
            "out.grad_fn": "MulBackward0",
            "x.grad": torch.full((3, 1, 2), 2.0),
        }
    ),
    see_also=("detach/detach-in-place-on-view", _DETACH_DOC),
)
def detach_view_out_of_place():
    """`out[-1].detach()` makes a new tensor object over the same memory without history, and
    leaves `out` and its graph as they were.

    `detach()` does not modify the view, so there is no base/view bookkeeping to break: the
    result shares the storage (its `data_ptr` is the address of `out`'s last row) and has
    `requires_grad=False`. `out` keeps its `grad_fn`, and a backward through `out` still reaches
    `x`: the gradient of `(2·x).sum()` is 2 everywhere. To carry RNN state across batches this
    is the form to use: `state = out[-1].detach()` rebinds the name to a detached tensor.
    """
    x = torch.randn(3, 1, 2, requires_grad=True)
    out = x * 2  # (T, B, H)
    last = out[-1].detach()  # a new object without history; the view itself is untouched
    out.sum().backward()
    return {
        "last.requires_grad": last.requires_grad,
        "last shares out's storage": last.data_ptr() == out[-1].data_ptr(),
        "out.grad_fn": type(out.grad_fn).__name__,
        "x.grad": x.grad,
    }


def _two_lstm_batches() -> tuple[nn.LSTM, torch.Tensor]:
    """A tiny LSTM and two batches of shape (T=4, B=1, input=2), seeded by the case runner."""
    return nn.LSTM(input_size=2, hidden_size=3), torch.randn(2, 4, 1, 2)


@case(
    "detach/lstm-tuple-state",
    question="Why does the second batch's backward fail when I detach the LSTM's h between batches?",
    expect="Detaching the hidden state h cuts the graph to the previous batch, as it does for nn.RNN.",
    outcome=Raises(RuntimeError, r"backward through the graph a second time"),
    fix="detach/lstm-tuple-state-both",
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html",
        "graph/backward-through-freed-graph",
    ),
)
def lstm_tuple_state():
    """An LSTM's state is a pair `(h, c)`, and *both* carry the previous batch's graph;
    detaching only `h` leaves the cell state `c` attached to a graph whose saved tensors the
    first backward freed.

    After batch 1, `h` and `c` each have a `grad_fn` (`StackBackward0`, stacking the layers'
    final states) that leads into the node of the whole LSTM layer; on a CPU build of torch
    2.13 that is one fused `MkldnnRnnLayerBackward0`, which saved the input, the weights, the
    initial states and its results for the backward. The first
    `out.sum().backward()` runs it and frees those saved tensors. `h.detach()` gives a tensor
    without history, but `c` keeps its `grad_fn`, and batch 2's first step uses both
    (c₁ = f ⊙ c₀ + i ⊙ g). Batch 2's graph therefore *attaches* to batch 1's through `c`; its
    backward reaches batch 1's layer node, finds the saved tensors gone and raises. With
    `nn.RNN` or `nn.GRU` the state is a single tensor and detaching it is enough; any state
    that is a tuple (or a list of per-layer states) must be detached element by element.
    """
    lstm, batches = _two_lstm_batches()
    out, (h, c) = lstm(batches[0])
    out.sum().backward()  # runs batch 1's graph and frees its saved tensors
    state = (h.detach(), c)  # detach cuts h only; c still leads into batch 1's graph
    out, state = lstm(batches[1], state)
    snapshot("batch 2's graph, attached to batch 1's through c", out)
    out.sum().backward()  # reaches batch 1's freed nodes through c


@case(
    "detach/lstm-tuple-state-both",
    question="How do I carry an LSTM's (h, c) state across batches without backpropagating into the previous one?",
    expect="Once h and c are both detached, batch 2's backward stops at them and succeeds.",
    outcome=Returns(
        {"h.is_leaf": True, "c.is_leaf": True, "backward on batch 2": "ok", "state dtype": "tuple"}
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html",
        "detach/lstm-tuple-state",
        "detach/detach-vs-clone",
    ),
)
def lstm_tuple_state_both():
    """Detach every tensor of the state: `state = tuple(s.detach() for s in state)`; both `h` and
    `c` then start batch 2 as leaves without history.

    With both detached, batch 2's graph ends at two leaves that do not require grad: nothing
    leads back to batch 1, so the backward runs only batch 2's nodes and succeeds. The values of
    `h` and `c` are carried over unchanged (they share storage with batch 1's outputs), which is
    what truncated backpropagation through time wants: the state continues, the gradient path
    stops at the batch boundary. This is `repackage_hidden` in PyTorch's word_language_model
    example, which recurses into tuples for exactly this reason.
    """
    lstm, batches = _two_lstm_batches()
    out, state = lstm(batches[0])
    out.sum().backward()
    # Cut the graph between batches on every tensor of the state, h and c alike.
    state = tuple(s.detach() for s in state)
    h, c = state
    out, state = lstm(batches[1], state)
    out.sum().backward()
    return {
        "h.is_leaf": h.is_leaf,
        "c.is_leaf": c.is_leaf,
        "backward on batch 2": "ok",
        "state dtype": type(state).__name__,
    }


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


@case(
    "detach/torch-tensor-of-a-tensor",
    question="Why does torch.tensor(state) warn, and does the copy keep the graph?",
    expect="torch.tensor(t) is the usual way to make a tensor, so it should be silent.",
    outcome=Returns(
        {"copy.requires_grad": False, "copy shares storage": False, "copy.grad_fn": None},
        warns=(Warned(UserWarning, r"recommended to use sourceTensor\.detach\(\)\.clone\(\)"),),
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
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    state = x * 2
    copy = torch.tensor(state)  # copies values into a new leaf: the graph is dropped
    return {
        "copy.requires_grad": copy.requires_grad,
        "copy shares storage": copy.data_ptr() == state.data_ptr(),
        "copy.grad_fn": copy.grad_fn,
    }
