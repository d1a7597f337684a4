"""Detach, continued: cutting an RNN's state out of the graph between batches.

``detach_()`` rewrites the tensor object itself (so it works as a bare statement, but not on a
view such as ``out[-1]``), ``detach()`` must be assigned, and an LSTM's state is a pair
``(h, c)`` whose two tensors must both be detached. The storage and version-counter cases of
the ``detach`` family are in ``detach``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, case, snapshot
from .detach import _DETACH_DOC

_DETACH_INPLACE_DOC = "https://pytorch.org/docs/stable/generated/torch.Tensor.detach_.html"


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
