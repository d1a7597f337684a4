"""RNN state with ``backward(retain_graph=True)`` instead of detaching: the version counter.

Keeping the graph between batches lets the next backward run through the previous batch's
nodes, but ``optimizer.step()`` changes the weights those nodes saved, in place. These cases run
the notebook's loop (see ``_notebook``) that way and read the two version numbers of the error.
"""

from __future__ import annotations

import re

import torch

from ..spec import Raises, Returns, Satisfies, case, snapshot
from ._notebook import BATCH, EPOCHS, notebook

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_STALE = r"modified by an inplace operation"
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")
_SAVED_TENSOR = re.compile(r"\[torch\.(\w+) \[([\d, ]+)\]\]")


@case(
    "rnn-state/retain-graph-then-step",
    question="Why does backward(retain_graph=True) instead of detach_() fail with 'modified by an inplace operation'?",
    expect="retain_graph=True keeps the old graph alive, so the second backward through it works.",
    outcome=Raises(RuntimeError, _STALE),
    fix="rnn-state/detach-in-place",
    see_also=(_INPLACE, "rnn-state/retain-graph-versions", "versions/optimizer-step-bumps-version"),
)
def retain_graph_then_step():
    """Retaining the graph keeps batch 1's saved tensors, but `updater.step()` changes one of
    them in place afterwards: batch 1 saved `weight_hh_l0` (transposed) at version 1 and finds
    it at version 2.

    With `retain_graph=True` nothing is freed, so batch 2's backward, which follows `state` into
    batch 1's graph, can unpack batch 1's saved tensors. But a saved tensor is only valid if
    nobody changed it since it was saved, and PyTorch checks that with the *version counter*:
    every tensor has one, every in-place op bumps it, and a saved tensor records the version it
    had when saved. Batch 1's `AddmmBackward0` nodes saved `mat2 = weight_hh_l0.t()` (a view,
    sharing the weight's counter) to compute the gradient of the previous hidden state. Then
    `updater.step()` did `param.add_(grad, alpha=-lr)` on every parameter (SGD's
    single-tensor path on CPU): one in-place op, one bump.
    Batch 2's backward reaches batch 1's `AddmmBackward0`, compares and raises. Batch 2's own
    nodes saved the weights *after* that step and pass the check; the old graph does not. The
    snapshot before batch 2's backward counts the stale ones: one `weight_hh_l0.t()` per time
    step except the first, 19 for 20 steps (at the first step the previous hidden state is
    `begin_state`'s zeros, which need no gradient, so that `addmm` saved no `mat2`).
    `rnn-state/retain-graph-versions` reads the numbers from the message.
    """
    net, data_iter, updater, loss = notebook()
    state = net.begin_state(batch_size=BATCH)
    for _epoch in range(EPOCHS):
        for batch, (X, Y) in enumerate(data_iter, 1):
            y_hat, state = net(X, state)  # no detach: state leads into the last batch's graph
            l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            snapshot(f"batch {batch}, before backward", l)
            l.backward(retain_graph=True)  # keep the old graph instead of cutting it
            updater.step()  # in place on every parameter: bumps its version


_NO_FAILURE = {"shape": None, "current": None, "saved": None}  # observed if nothing raised


def _versions_in(message: str) -> dict[str, object]:
    current, saved = (int(v) for v in _VERSIONS.search(message).groups())
    _dtype, shape = _SAVED_TENSOR.search(message).groups()
    return {"shape": [int(s) for s in shape.split(",")], "current": current, "saved": saved}


@case(
    "rnn-state/retain-graph-versions",
    question="What are the two version numbers in the retain_graph error, which tensor is it, and must a version be 1?",
    expect="A tensor that requires grad must be at version 1 to be differentiated.",
    outcome=Returns(
        {
            "parameter versions after construction": [1, 1, 1, 1, 1, 1],
            "saved tensor in the message (shape)": [256, 256],
            "parameters of that shape": ["rnn.weight_hh_l0"],
            "is at version (now)": 2,
            "expected version (when saved)": 1,
            "weight_hh_l0._version at the failure": 2,
        }
    ),
    see_also=(_INPLACE, "rnn-state/retain-graph-after-39-steps", "versions/message-numbers"),
)
def retain_graph_versions():
    """The message compares two versions of one saved tensor: "is at version N" is its
    `_version` now, "expected version M" the one recorded when it was saved; nothing has to be 1.

    Each parameter is at version 1 before any training: `nn.RNN` and `nn.Linear` initialise
    their weights in place (`init.uniform_`, `init.kaiming_uniform_`, under `no_grad`), one bump
    each. Batch 1 saves `weight_hh_l0.t()` at version 1; `step()` bumps every parameter to 2;
    batch 2's backward reaches batch 1's saved tensor: "is at version 2; expected version 1".
    The message's `[torch.FloatTensor [256, 256]]` matches exactly one parameter, `weight_hh_l0`
    (`weight_ih_l0` is [256, 20] and is not saved at all: its `addmm` partner is the one-hot
    input, which needs no gradient, and `addmm` saves `mat2` only for `mat1`'s gradient). It says
    "output 0 of AsStrided" because the saved tensor is the view `weight.t()`, and a view whose
    base was changed in place regenerates its `grad_fn` as `AsStridedBackward0` (the message
    drops the `Backward0`). The numbers count in-place writes since the weight was created, so
    they grow with training: a graph saved after 39 steps and reached after the 40th reads
    "is at version 41; expected version 40" (`rnn-state/retain-graph-after-39-steps`).
    """
    net, data_iter, updater, loss = notebook()
    at_start = [p._version for p in net.parameters()]
    state, found = net.begin_state(batch_size=BATCH), _NO_FAILURE
    try:
        for X, Y in data_iter:
            y_hat, state = net(X, state)  # no detach: state leads into the last batch's graph
            l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            l.backward(retain_graph=True)  # keep the old graph instead of cutting it
            updater.step()  # in place on every parameter: bumps its version
    except RuntimeError as exc:
        found = _versions_in(str(exc))
    return {
        "parameter versions after construction": at_start,
        "saved tensor in the message (shape)": found["shape"],
        "parameters of that shape": [
            n for n, p in net.named_parameters() if list(p.shape) == found["shape"]
        ],
        "is at version (now)": found["current"],
        "expected version (when saved)": found["saved"],
        "weight_hh_l0._version at the failure": net.rnn.weight_hh_l0._version,
    }


@case(
    "rnn-state/retain-graph-after-39-steps",
    question="Where does 'is at version 41; expected version 40' come from?",
    expect="Something modified the weight 41 times since the graph was built.",
    outcome=Returns({"is at version (now)": 41, "expected version (when saved)": 40}),
    see_also=("rnn-state/retain-graph-versions", "versions/optimizer-step-bumps-version"),
)
def retain_graph_after_39_steps():
    """From a graph saved after 39 optimizer steps and reached after the 40th: version 40 is 1
    (initialisation) + 39 steps, version 41 one step later.

    The loop detaches before each of the first 40 batches (two epochs and two batches); each
    batch ends in a `step()` that bumps every parameter once, so `weight_hh_l0` is at version
    1 + 39 = 40 when batch 40's forward saves it. Batch 41 is the first not to detach: its state
    leads into batch 40's graph, which `retain_graph=True` kept. Batch 40's step has bumped the
    weight to 41 meanwhile, and batch 41's backward, reaching batch 40's saved `weight_hh_l0.t()`,
    reports the difference. Only the gap between the two numbers is about your bug (one in-place op since
    the save); their size only says how long the model has trained.
    """
    net, data_iter, updater, loss = notebook()
    state, batch, found = net.begin_state(batch_size=BATCH), 0, _NO_FAILURE
    try:
        for _epoch in range(3):
            for X, Y in data_iter:
                batch += 1
                if batch <= 40:
                    state.detach_()  # cut the graph for the first 40 batches
                y_hat, state = net(X, state)
                l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
                updater.zero_grad()  # grads from the previous batch must not accumulate
                l.backward(retain_graph=True)  # keep the graph: harmless while we detach
                updater.step()  # in place on every parameter: bumps its version
    except RuntimeError as exc:
        found = _versions_in(str(exc))
    return {
        "is at version (now)": found["current"],
        "expected version (when saved)": found["saved"],
    }


def _graph_size(t: torch.Tensor) -> int:
    """Number of grad_fn nodes reachable from ``t`` (the work its backward would do)."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo += [fn for fn, _ in node.next_functions]
    return len(seen)


def _same_steps(sizes: list[int]) -> bool:
    steps = {b - a for a, b in zip(sizes, sizes[1:], strict=False)}
    return len(steps) == 1 and steps.pop() > 0


@case(
    "rnn-state/carried-graph-grows",
    question="Without an optimizer step in between, does retain_graph=True make carrying the state work?",
    expect="Yes: nothing is modified in place, so each backward just covers its own batch.",
    outcome=Returns(
        {
            "backward ran on every batch": True,
            "nodes behind each batch's loss": Satisfies(
                _same_steps, "growing by the same number of nodes every batch"
            ),
        }
    ),
    see_also=(
        "rnn-state/no-detach",
        "rnn-state/detach-in-place",
        "rnn-state/retain-graph-then-step",
    ),
)
def carried_graph_grows():
    """It runs, but each backward goes through *every* earlier batch: the graph behind batch k's
    loss holds all k batches' nodes, so the work and the memory of each step grow with k.

    With no in-place update between batches no saved tensor goes stale, and `retain_graph=True`
    keeps them all, so nothing raises. But `state` links each batch's graph to the previous
    one, and the links are never cut: batch k's loss depends, through the state, on every input
    and every time step since the start, and its backward differentiates through all of them
    (backpropagation through the whole stream, not through a window of 20 steps). The case counts
    the `grad_fn` nodes behind each loss: the count grows by the same amount, one batch's worth
    of nodes, every batch, and every saved tensor of every batch stays referenced. This is what
    PyTorch's word_language_model example means at its `repackage_hidden` call: "If we didn't,
    the model would try backpropagating all the way to start of the dataset." `detach_()`
    (`rnn-state/detach-in-place`) keeps the count constant.
    """
    net, data_iter, _, loss = notebook()
    state, sizes = net.begin_state(batch_size=BATCH), []
    for batch, (X, Y) in zip(range(1, 5), data_iter, strict=False):  # four batches: the trend
        y_hat, state = net(X, state)  # no detach: state leads into the last batch's graph
        l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
        sizes.append(_graph_size(l))
        snapshot(f"batch {batch}, before backward", l)
        net.zero_grad()  # nothing accumulates across batches; no step, so no in-place writes
        l.backward(retain_graph=True)  # keep every graph: the next backward runs through it
    return {"backward ran on every batch": True, "nodes behind each batch's loss": sizes}
