"""RNN state across batches: the notebook's loop, and what happens to ``state`` between batches.

Every case runs the notebook's own training loop at the notebook's own size (see ``_notebook``:
``nn.RNN(20, 256)``, one-hot inputs, overlapping windows of 20 steps in batches of 50, SGD with
lr 0.05, 2 epochs of 19 batches); what differs between cases is only what the loop does with
``state`` between batches: detach it, detach it in place, replace it, or leave it attached.
The ``retain_graph=True`` variants are in ``rnn_state_retain``.
"""

from __future__ import annotations

import random
import re

import torch

from ..spec import Raises, Returns, Satisfies, case, snapshot
from ._notebook import BATCH, BATCHES_PER_EPOCH, EPOCHS, epoch_means, loader, notebook

_NOTES = "https://pytorch.org/docs/stable/notes/autograd.html"
_RNN_DOC = "https://pytorch.org/docs/stable/generated/torch.nn.RNN.html"
_FREED = r"backward through the graph a second time"
_FELL = Satisfies(lambda m: m[-1] < m[0], "the last epoch's mean loss below the first's")
_FLAGS = [False] + [True] * (EPOCHS * BATCHES_PER_EPOCH - 1)  # the notebook's printed flags


@case(
    "rnn-state/requires-grad-flips",
    question="Why is state.requires_grad False on the first batch and True on every later one?",
    expect="state is created with torch.zeros, which does not require grad, so it stays False.",
    outcome=Returns(
        {
            "state.requires_grad before detach_, per batch": _FLAGS,
            "state.is_leaf after a batch": False,
            "state.grad_fn after a batch": "StackBackward0",
        }
    ),
    see_also=(f"{_NOTES}#setting-requires-grad", _RNN_DOC, "rnn-state/detach-in-place"),
)
def requires_grad_flips():
    """After the first batch `state` is no longer the zeros you made: it is the RNN's output,
    computed from parameters that require grad, so it is a non-leaf with a `grad_fn`.

    `state = net.begin_state(...)` is a tensor of zeros: a leaf with `requires_grad=False`,
    hence the first `False`. The line `y_hat, state = net(X, state)` then *rebinds* the name
    `state` to the second output of `nn.RNN`: the final hidden state hₜ = tanh(xₜWᵢₕᵀ + bᵢₕ +
    hₜ₋₁Wₕₕᵀ + bₕₕ), stacked over layers. An op records a `grad_fn` and marks its result as
    requiring grad whenever any input requires grad, and `Wₕₕ`, `Wᵢₕ` and the biases are
    parameters (`requires_grad=True`). So from the second batch on, the `state` you print is that
    output: `requires_grad=True`, `is_leaf=False`, `grad_fn=StackBackward0` (on the CPU path,
    `nn.RNN` records one `TanhBackward0`/`AddmmBackward0` chain per time step and stacks the
    last hidden state). `detach_()` then turns *that* tensor into a leaf without history, but
    the next forward replaces it with a new non-leaf again: 1 `False`, then 37 `True`s over the
    2 × 19 batches. The flag never says "the state has a gradient"; it says "the state is
    connected to a graph".
    """
    net, data_iter, updater, loss = notebook()
    state = net.begin_state(batch_size=BATCH)
    flags = []
    for _epoch in range(EPOCHS):
        for X, Y in data_iter:
            y = Y.T.reshape(-1)
            flags.append(state.requires_grad)
            state.detach_()  # cut this batch off from the previous batch's graph
            y_hat, state = net(X, state)  # rebinds `state` to the RNN's output
            if len(flags) == 1:
                snapshot("state after the first forward", state)
            l = loss(y_hat, y.long()).mean()  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            l.backward()
            updater.step()
    return {
        "state.requires_grad before detach_, per batch": flags,
        "state.is_leaf after a batch": state.is_leaf,
        "state.grad_fn after a batch": type(state.grad_fn).__name__,
    }


@case(
    "rnn-state/no-detach",
    question="Why does the notebook's loop without state.detach_() fail with 'Trying to backward through the graph a second time'?",
    expect="Each batch builds its own graph with its own loss, so each backward is a first backward.",
    outcome=Raises(RuntimeError, _FREED),
    fix="rnn-state/detach-in-place",
    see_also=(
        "graph/backward-through-freed-graph",
        "rnn-state/no-detach-fails-at-second-batch",
        "rnn-state/detach-in-place",
    ),
)
def no_detach():
    """The state that batch 2 starts from carries batch 1's graph, whose saved tensors batch 1's
    backward freed; batch 2's backward follows the state into that graph and unpacks them.

    Batch 1's forward records, per time step, `AddmmBackward0` nodes that *save* the previous
    hidden state and `Wₕₕᵀ` (`addmm`'s formula: the gradient of `mat1` needs `mat2` and vice
    versa) and `TanhBackward0` nodes that save their output. `l.backward()` runs those nodes and
    releases their saved tensors. The returned `state` still points at that graph
    (`state.grad_fn` is its `StackBackward0`). Batch 2 computes h₁ = tanh(… + state·Wₕₕᵀ + …),
    so its graph has an edge into batch 1's graph: it is `y1` in
    `graph/backward-through-freed-graph`, at RNN scale. Batch 2's backward runs its own nodes
    fine, reaches batch 1's first `TanhBackward0`/`AddmmBackward0`, finds the saved tensors
    released (the snapshot before batch 2's backward shows them freed) and raises, on the second batch, every time
    (`rnn-state/no-detach-fails-at-second-batch`). With `retain_graph=True` the backward would
    instead go on through *every* earlier batch, and the optimizer's in-place updates make it
    fail anyway (`rnn-state/retain-graph-then-step`).
    """
    net, data_iter, updater, loss = notebook()
    state = net.begin_state(batch_size=BATCH)
    for _epoch in range(EPOCHS):
        for batch, (X, Y) in enumerate(data_iter, 1):
            y = Y.T.reshape(-1)
            y_hat, state = net(X, state)  # no detach: state leads into the last batch's graph
            l = loss(y_hat, y.long()).mean()  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            snapshot(f"batch {batch}, before backward", l)
            l.backward()
            updater.step()


@case(
    "rnn-state/no-detach-fails-at-second-batch",
    question="On which batch does the loop without detach_() fail, and does the first one train?",
    expect="It fails at once, on the first batch, since the code is wrong from the start.",
    outcome=Returns({"batches that trained": 1, "failed at batch": 2, "error": "RuntimeError"}),
    see_also=("rnn-state/no-detach",),
)
def no_detach_fails_at_second_batch():
    """The first batch starts from the zeros of `begin_state`, which have no graph behind them,
    so its backward is an ordinary first backward; the second batch is the first to start from
    a state that leads into an already-freed graph.

    The failure needs two things: a graph whose saved tensors were released (only after some
    backward has run), and an edge into it from the current graph (only once `state` is an RNN
    output). Both first hold at batch 2 of epoch 1. The count is the same whatever the batch
    size or the number of epochs, and it would be the same with the state made fresh at every
    epoch start (as d2l's `train_epoch_ch8` does): the second batch after any fresh state fails.
    """
    net, data_iter, updater, loss = notebook()
    state = net.begin_state(batch_size=BATCH)
    trained, error = 0, None
    try:
        for X, Y in data_iter:
            y_hat, state = net(X, state)  # no detach: state leads into the last batch's graph
            l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            l.backward()
            updater.step()
            trained += 1
    except RuntimeError as exc:
        assert re.search(_FREED, str(exc)), exc  # the error of rnn-state/no-detach, not another
        error = type(exc).__name__
    return {"batches that trained": trained, "failed at batch": trained + 1, "error": error}


@case(
    "rnn-state/detach-in-place",
    question="Does state.detach_() between batches make the notebook's loop train?",
    expect="Detaching the state throws away what it learned, so the model cannot learn across batches.",
    outcome=Returns(
        {
            "state.requires_grad before detach_, per batch": _FLAGS,
            "mean loss per epoch": _FELL,
        }
    ),
    see_also=("rnn-state/requires-grad-flips", "rnn-state/detach-rebinding", _RNN_DOC),
)
def detach_in_place():
    """`state.detach_()` turns the carried state into a leaf without `grad_fn` before it enters
    the next forward, so each batch's graph ends at the batch boundary and each backward is a
    first backward.

    `detach_()` works on the tensor object itself: it drops its `grad_fn` and sets
    `requires_grad=False`, keeping the values (and the storage). Batch b+1's graph then has
    `state` as an input that needs no gradient: no edge leads into batch b's freed graph, and
    `l.backward()` only runs batch b+1's nodes. The values still flow forward, which is
    truncated backpropagation through time: the state is carried, the gradient stops at 20 steps.
    The loss falls over the two epochs (the case declares only that, not the numbers, which
    depend on the seed). The flags are those of `rnn-state/requires-grad-flips`: detaching does
    not stop the *next* output from requiring grad.
    """
    net, data_iter, updater, loss = notebook()
    state = net.begin_state(batch_size=BATCH)
    flags, losses = [], []
    for _epoch in range(EPOCHS):
        for X, Y in data_iter:
            y = Y.T.reshape(-1)
            flags.append(state.requires_grad)
            state.detach_()  # cut the graph at the batch boundary; the values carry on
            y_hat, state = net(X, state)
            l = loss(y_hat, y.long()).mean()  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            if len(losses) < 2:
                snapshot(f"batch {len(losses) + 1}, before backward", l)
            l.backward()
            updater.step()
            losses.append(l.item())
    return {
        "state.requires_grad before detach_, per batch": flags,
        "mean loss per epoch": epoch_means(losses),
    }


@case(
    "rnn-state/detach-rebinding",
    question="Does state = state.detach() train exactly like state.detach_()?",
    expect="detach() leaves the old state attached somewhere, so the results differ slightly.",
    outcome=Returns(
        {
            "batches compared": BATCHES_PER_EPOCH,
            "losses identical bit for bit": True,
            "weights identical": True,
        }
    ),
    see_also=("rnn-state/detach-in-place", "detach/detach-in-place-same-object"),
)
def detach_rebinding():
    """Yes: both hand the next forward a tensor with the same values and no history; only which
    Python object carries it differs.

    `state.detach_()` modifies the object `state` refers to (it drops its `grad_fn`);
    `state = state.detach()` makes a new tensor over the same storage and rebinds the name,
    leaving the old object attached to the old graph until it is garbage. The forward sees the
    same numbers, records the same ops and the backward stops at the same place, so two epochs
    from the same seed, one per variant, produce the same losses and the same weights exactly (`==`, not
    "close"). The difference matters only when another name still refers to the old object
    (`detach_()` changes it under that name too) or when the tensor is a view
    (`detach/detach-in-place-on-view`).
    """

    def run(rebind: bool) -> tuple[list[float], list[torch.Tensor]]:
        torch.manual_seed(0), random.seed(0)  # the same model and data for both runs
        net, data_iter, updater, loss = notebook()
        state, losses = net.begin_state(batch_size=BATCH), []
        for X, Y in data_iter:  # one epoch is enough to compare
            if rebind:
                state = state.detach()  # a new leaf over the same storage
            else:
                state.detach_()  # the same object, its grad_fn dropped
            y_hat, state = net(X, state)
            l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            l.backward()
            updater.step()
            losses.append(l.item())
        return losses, [p.detach().clone() for p in net.parameters()]

    (l1, w1), (l2, w2) = run(rebind=False), run(rebind=True)
    return {
        "batches compared": len(l1),
        "losses identical bit for bit": l1 == l2,
        "weights identical": all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True)),
    }


@case(
    "rnn-state/fresh-state",
    question="Does starting every batch from begin_state() (the notebook's commented-out line) train too?",
    expect="A state reset to zeros every batch cannot learn anything, or needs detach_() as well.",
    outcome=Returns(
        {
            "state.requires_grad at batch start, per batch": [False] * (EPOCHS * BATCHES_PER_EPOCH),
            "mean loss per epoch": _FELL,
        }
    ),
    see_also=("rnn-state/windows-do-not-continue", "rnn-state/detach-in-place"),
)
def fresh_state():
    """Yes: a fresh `begin_state()` is a new leaf of zeros with no history, so no graph crosses
    the batch boundary; what it gives up is any information carried from one batch to the next.

    Replacing `state` by `torch.zeros(...)` cuts the graph the way `detach_()` does (the new
    tensor has no `grad_fn` and does not require grad: every flag is `False`), and it also
    throws the *values* away: every window starts from h₀ = 0. Carrying the state is worth it
    only when row r of batch b+1 continues the text where row r of batch b ended. With the
    notebook's overlapping windows it does not (`rnn-state/windows-do-not-continue`): row r of
    the next batch starts 30 tokens after row r of this batch ended, so the carried state
    summarises unrelated tokens and a zero state loses nothing real. With sequential
    partitioning (each row a contiguous stream) a fresh state would forget the past that the
    next window does continue.
    """
    net, data_iter, updater, loss = notebook()
    flags, losses = [], []
    for _epoch in range(EPOCHS):
        for X, Y in data_iter:
            state = net.begin_state(batch_size=BATCH)  # new zeros: no history, no carried values
            flags.append(state.requires_grad)
            y_hat, state = net(X, state)
            l = loss(y_hat, Y.T.reshape(-1).long())  # noqa: E741 (the notebook's name)
            updater.zero_grad()  # grads from the previous batch must not accumulate
            l.backward()
            updater.step()
            losses.append(l.item())
    return {
        "state.requires_grad at batch start, per batch": flags,
        "mean loss per epoch": epoch_means(losses),
    }


@case(
    "rnn-state/windows-do-not-continue",
    question="Is row r of the next batch the continuation of row r of this batch, as carrying the state assumes?",
    expect="Batches come in order without shuffling, so each row continues where it left off.",
    outcome=Returns(
        {
            "tokens skipped between row r of batch b and row r of batch b+1": [30],
            "overlap of neighbouring rows in a batch": [19],
        }
    ),
    see_also=("rnn-state/fresh-state", "rnn-state/detach-in-place"),
)
def windows_do_not_continue():
    """No: with `X[:, i] = x[i:T-num_steps+i]` row j of the table is the window starting at
    token j, and a batch holds 50 consecutive windows, so row r of batch b+1 starts 50 tokens
    after row r of batch b, which covered only 20: 30 tokens are skipped.

    The case builds the table from token *positions* (0, 1, 2, ...) instead of token values,
    with the same slicing and the same unshuffled `DataLoader`, and measures, for every row of
    every pair of consecutive batches, how many positions lie between the end of the row and the
    start of the same row in the next batch: always 30 (= batch size 50 − window 20). Inside a
    batch, neighbouring rows overlap by 19 tokens. The row that *does* continue row r of batch
    b is row r + 20 of the same batch (or row r − 30 of the next one), and an RNN's state cannot
    be handed from one row to another. So the state carried by `detach_()` into row r is the
    summary of a window 30 tokens back: with these windows carrying is not truncated
    backpropagation through a stream, just a different initial state.
    """
    positions = torch.arange(1000)
    batches = [X for X, _ in loader(positions)]  # same windows and order as the training data
    skipped, overlap = set(), set()
    for this, after in zip(batches, batches[1:], strict=False):
        skipped.update((after[:, 0] - (this[:, -1] + 1)).tolist())
        overlap.update((this[:-1, -1] - this[1:, 0] + 1).tolist())
    return {
        "tokens skipped between row r of batch b and row r of batch b+1": sorted(skipped),
        "overlap of neighbouring rows in a batch": sorted(overlap),
    }
