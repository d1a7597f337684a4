"""Under DDP: accumulating micro-batches (``no_sync``), and a hidden state carried per rank.

Gradient accumulation and a carried RNN state both stretch one update over several forwards.
DDP averages gradients when a synced backward fills its buckets; ``no_sync`` keeps a backward
local. A carried state is each rank's own: DDP never sends it, so it means something only if
each rank's rows continue from batch to batch, which is a question of how the data is split.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data.distributed import DistributedSampler

from ..spec import Raises, Returns, Satisfies, case
from ._ddp import (
    TinyRNN,
    batch_of,
    counted_allreduce,
    loss_of,
    rank_rows,
    same_on_every_rank,
    stream,
)

_NO_SYNC = "https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html#torch.nn.parallel.DistributedDataParallel.no_sync"
_COMM_HOOKS = "https://pytorch.org/docs/stable/ddp_comm_hooks.html"
_SAMPLER = (
    "https://pytorch.org/docs/stable/data.html#torch.utils.data.distributed.DistributedSampler"
)


def _accumulate(init: dict, micro: list, mode: str) -> tuple[DDP, int]:
    """Accumulate the micro-batches' mean loss into .grad; return the model and its all-reduces.

    ``mode``: "sync" (every backward synced), "no_sync" (all but the last forward+backward in
    ``no_sync``), "backward only" (the backward in ``no_sync``, the forward outside it).
    """
    model = DDP(TinyRNN())
    model.module.load_state_dict(init)  # the same start for every mode
    counter = {"calls": 0}
    model.register_comm_hook(counter, counted_allreduce)  # counts the buckets all-reduced
    for i, rows in enumerate(micro):
        X, Y = batch_of(rows, 0)
        last = i == len(micro) - 1
        local = mode == "no_sync" and not last
        with model.no_sync() if local else nullcontext():
            logits, _ = model(X, model.module.begin_state(X.shape[0]))
        with model.no_sync() if mode == "backward only" and not last else nullcontext():
            # each micro-batch's mean loss / count: the sum over micro-batches is their mean
            (loss_of(logits, Y) / len(micro)).backward()
    return model, counter["calls"]


@case(
    "ddp/no-sync-accumulation",
    question="Does accumulating micro-batches under no_sync() give the same gradient as syncing every backward, and how many all-reduces does each cost?",
    outcome=Returns(
        {
            "all-reduces, every backward synced": 4,
            "all-reduces, first 3 in no_sync": 1,
            "all-reduces, only the backward in no_sync": 4,
            "same gradient, synced vs no_sync": True,
            "equals one process on all 8 rows": True,
        }
    ),
    see_also=(_NO_SYNC, _COMM_HOOKS, "leaves/grads-accumulate"),
    ranks=2,
)
def no_sync_accumulation(rank, world_size):
    """The same gradient (up to float rounding), for one all-reduce instead of four: inside
    `no_sync` the reducer ignores the `AccumulateGrad` hooks, and the first synced backward
    averages everything accumulated in `.grad` so far.

    A forward outside `no_sync` arms the reducer for one round of hooks; inside it, the forward
    does not, the backward's hooks are ignored, and `AccumulateGrad` just adds the local
    gradient into `.grad`. The last micro-batch runs outside: its hooks copy the whole `.grad`
    (all four micro-batches, divided by the world size) into the bucket, which is all-reduced
    once. Syncing every backward averages four times; since averaging is linear, the sum of the
    averages is the average of the sums, in another order of float additions. What arms the
    reducer is the *forward*: a backward alone inside `no_sync`, after a forward outside it,
    is still synced. This model fits one bucket, so one all-reduce per synced backward (the
    counting communication hook counts buckets). Each rank's 4 micro-batches of one row, mean
    loss divided by 4, averaged over 2 ranks, is the mean loss over all 8 rows in one process.
    """
    init = TinyRNN().state_dict()  # one set of weights, the same on both ranks (same seed)
    table = stream(8, 1)
    micro = [rank_rows(table, rank, world_size)[i : i + 1] for i in range(4)]  # 4 rows each
    synced, synced_calls = _accumulate(init, micro, "sync")
    local, local_calls = _accumulate(init, micro, "no_sync")
    _, backward_only_calls = _accumulate(init, micro, "backward only")
    one = TinyRNN()  # one process, all 8 rows in one batch
    one.load_state_dict(init)
    X, Y = batch_of(table, 0)
    loss_of(one(X, one.begin_state(8))[0], Y).backward()

    def close(a, b):
        return all(
            torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7) for p, q in zip(a, b, strict=True)
        )

    return {
        "all-reduces, every backward synced": synced_calls,
        "all-reduces, first 3 in no_sync": local_calls,
        "all-reduces, only the backward in no_sync": backward_only_calls,
        "same gradient, synced vs no_sync": close(synced.parameters(), local.parameters()),
        "equals one process on all 8 rows": close(local.parameters(), one.parameters()),
    }


@case(
    "ddp/carried-state-detach",
    question="Under DDP, how does each rank carry its RNN state across batches, and does training still match one process?",
    outcome=Returns(
        {
            "state shape on each rank": [1, 2, 8],
            "state the same on both ranks": False,
            "parameters the same on both ranks": True,
            "parameters equal one process with all 4 rows": True,
            "rank 0's state equals rows 0-1 of one process's": True,
        }
    ),
    see_also=("rnn-state/detach-rebinding", "ddp/sampler-shuffle-breaks-state"),
    ranks=2,
)
def carried_state_detach(rank, world_size):
    """Each rank carries the state of its own rows and detaches it at every batch boundary,
    exactly as one process would; DDP averages the parameters' gradients and never touches the
    state, so two ranks of 2 rows train as one process of 4 rows.

    The state is not a parameter: no `AccumulateGrad`, no bucket, no broadcast. It stays on its
    rank, shaped `(layers, rows of this rank, hidden)`, and differs between ranks because their
    rows differ. `state.detach()` cuts the previous batch's graph, already freed by its backward
    (`rnn-state/detach-rebinding`); then each rank's backward reaches only its own batch. Rank
    `r` holds rows `2r, 2r + 1` of every batch (a contiguous share), so batch `b + 1` continues
    batch `b` row for row. The mean loss over a rank's rows, averaged over the ranks by DDP, is
    the mean over all rows: the same gradient, step for step, as one process (up to rounding).
    """
    table = stream(4, 3)  # 4 rows, 3 sequential batches
    model = DDP(TinyRNN())
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    one = TinyRNN()  # the same weights in one process, with all 4 rows
    one.load_state_dict(model.module.state_dict())
    one_opt = torch.optim.SGD(one.parameters(), lr=0.5)
    mine = rank_rows(table, rank, world_size)
    state, one_state = model.module.begin_state(2), one.begin_state(4)
    for b in range(3):
        for net, optimizer, rows, carried in (
            (model, opt, mine, state),
            (one, one_opt, table, one_state),
        ):
            X, Y = batch_of(rows, b)
            # cut the graph at the batch boundary: the last backward freed it
            logits, carried = net(X, carried.detach())
            optimizer.zero_grad(set_to_none=True)  # this batch's gradient only
            loss_of(logits, Y).backward()
            optimizer.step()  # in place on the parameters; the state saved nothing of them
            if net is model:
                state = carried
            else:
                one_state = carried
    return {
        "state shape on each rank": list(state.shape),
        "state the same on both ranks": same_on_every_rank(state),
        "parameters the same on both ranks": all(same_on_every_rank(p) for p in model.parameters()),
        "parameters equal one process with all 4 rows": all(
            torch.allclose(p, q, rtol=1e-5, atol=1e-6)
            for p, q in zip(model.module.parameters(), one.parameters(), strict=True)
        ),
        "rank 0's state equals rows 0-1 of one process's": torch.allclose(
            state, one_state[:, 2 * rank : 2 * rank + 2], atol=1e-6
        ),
    }


@case(
    "ddp/carried-state-no-detach",
    question="Under DDP, what happens when the carried state is not detached between batches?",
    expect="DDP synchronises the state across ranks, so the graph question does not arise.",
    outcome=Raises(RuntimeError, r"backward through the graph a second time"),
    fix="ddp/carried-state-detach",
    see_also=("rnn-state/no-detach",),
    ranks=2,
)
def carried_state_no_detach(rank, world_size):
    """The same error as in one process, on both ranks at once: the state still leads into the
    previous batch's graph, whose saved tensors that batch's backward freed.

    DDP adds hooks to the parameters' `AccumulateGrad` nodes and nothing to the state, so the
    state's `grad_fn` chain is each rank's own autograd business. Batch 2's backward runs
    through batch 2's nodes (some parameters' hooks fire, their gradients wait in the bucket),
    then reaches batch 1's nodes, whose saved tensors are gone, and raises. Both ranks run
    the same loop and fail at the same point, before their bucket was complete, so neither is
    left waiting in an all-reduce.
    """
    model = DDP(TinyRNN())
    table = rank_rows(stream(4, 2), rank, world_size)
    state = model.module.begin_state(2)
    for b in range(2):
        X, Y = batch_of(table, b)
        logits, state = model(X, state)  # no detach: state leads into the last batch's graph
        loss_of(logits, Y).backward()


def _continues(chunks: list[int]) -> int:
    """How many steps read the chunk right after the one read before."""
    return sum(b == a + 1 for a, b in zip(chunks[:-1], chunks[1:], strict=True))


@case(
    "ddp/sampler-shuffle-breaks-state",
    question="Why is a carried state meaningless with a shuffling DistributedSampler, and what split keeps it meaningful?",
    outcome=Returns(
        {
            "rank 0 reads, shuffled sampler": Satisfies(
                lambda c: sorted(c) != c and len(set(c)) == 4, "4 chunks, not in order"
            ),
            "rank 0 reads, unshuffled sampler": [0, 2, 4, 6],
            "rank 0 reads, contiguous share": [0, 1, 2, 3],
            "steps that continue the last chunk (shuffled, unshuffled, contiguous)": Satisfies(
                lambda t: t[0] < 3 and t[1:] == (0, 3), "< 3, 0, 3"
            ),
        }
    ),
    see_also=(_SAMPLER, "ddp/carried-state-detach", "rnn-state/windows-do-not-continue"),
)
def sampler_shuffle_breaks_state():
    """A carried state summarises the tokens just before the next batch only if the rank's
    next chunk continues its last one; `DistributedSampler` deals items out across ranks
    (strided, and by default shuffled), so a rank's consecutive chunks are not neighbours.

    Cut one token stream into 8 chunks of `num_steps` tokens, chunk `k` right after `k - 1`,
    and let each of 2 ranks read one chunk per step. `DistributedSampler` (no process group
    needed when `num_replicas` and `rank` are given) permutes the indices with a generator
    seeded by `seed + epoch` when `shuffle=True`, then gives rank `r` every second index
    starting at `r`: rank 0 reads chunks in random order, or, unshuffled, 0, 2, 4, 6, skipping
    the one rank 1 reads. Either way the state carried into a chunk comes from a chunk that
    does not precede it. The split that keeps it meaningful gives each rank a contiguous share
    (here chunks 0-3 and 4-7; in the pipeline, a contiguous block of the sequential batching's
    rows) read in order: every step continues the last. A sampler cannot shuffle *and* keep
    that; shuffle the order of whole streams between epochs instead, if at all.
    """
    chunks = list(range(8))
    shuffled = list(DistributedSampler(chunks, num_replicas=2, rank=0, shuffle=True))
    strided = list(DistributedSampler(chunks, num_replicas=2, rank=0, shuffle=False))
    contiguous = chunks[:4]  # rank 0's contiguous share; rank 1 reads chunks 4-7
    return {
        "rank 0 reads, shuffled sampler": shuffled,
        "rank 0 reads, unshuffled sampler": strided,
        "rank 0 reads, contiguous share": contiguous,
        "steps that continue the last chunk (shuffled, unshuffled, contiguous)": (
            _continues(shuffled),
            _continues(strided),
            _continues(contiguous),
        ),
    }
