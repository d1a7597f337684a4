"""Under DDP: changing a parameter or a buffer in place, and what DDP itself writes in place.

DDP broadcasts rank 0's parameters and buffers once, when it is built; after that every rank
updates its own copy of the parameters, kept equal only because every rank applies the same
averaged gradient. Buffers are broadcast again before every synced forward. Autograd's version
counter guards what a forward saved for its backward, on each rank by itself.
"""

from __future__ import annotations

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from ..spec import ByTorch, Raises, Returns, case
from ._ddp import (
    TemperedRNN,
    TinyRNN,
    batch_of,
    gathered,
    loss_of,
    rank_rows,
    same_on_every_rank,
    stream,
)

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_DDP_API = (
    "https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html"
)


@case(
    "ddp/inplace-parameter-before-backward",
    question="Why does clipping the weights in place between forward and backward fail under DDP?",
    expect="The weights are changed under no_grad, so autograd should not notice.",
    # the shared fragment, as every case of this message declares it (explain ranks them
    # alike); the versions (3, expected 2) are checked in tests/test_cases_ddp.py
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="ddp/inplace-parameter-after-step",
    see_also=(_INPLACE, "versions/optimizer-step-bumps-version"),
    ranks=2,
)
def inplace_parameter_before_backward(rank, world_size):
    """The forward saved `weight_hh_l0` (its transpose, a view that shares its version
    counter) at the version it had then; `clamp_` bumped it; the backward checks the version of
    every saved tensor it unpacks, on each rank, and refuses.

    `no_grad` only stops the clamp from being recorded; it still writes into the tensor and
    bumps its version counter. The numbers in the message count every in-place write since the
    weight was made: its initialisation, DDP's broadcast of rank 0's parameters when it was
    built (on every rank, rank 0 included), then the clamp: "is at version 3; expected version
    2". Otherwise DDP changes nothing here: the graph and its saved tensors are each rank's own,
    and the check is autograd's, so both ranks raise the one-process error at the same node,
    before their bucket is complete (no all-reduce is left waiting).
    """
    model = DDP(TinyRNN())
    X, Y = batch_of(rank_rows(stream(4, 1), rank, world_size), 0)
    logits, _ = model(X, model.module.begin_state(X.shape[0]))
    with torch.no_grad():  # weight clipping, at the wrong moment: the forward saved the weight
        model.module.rnn.weight_hh_l0.clamp_(-0.1, 0.1)  # in place: bumps its version
    loss_of(logits, Y).backward()


@case(
    "ddp/inplace-parameter-after-step",
    question="Where may I change the parameters in place under DDP (clipping, renormalising), and do the ranks stay equal?",
    outcome=Returns(
        {
            "parameters the same on both ranks after 3 steps": True,
            "largest |weight_hh_l0|": 0.1,
        }
    ),
    see_also=(_INPLACE, _DDP_API),
    ranks=2,
)
def inplace_parameter_after_step(rank, world_size):
    """After `optimizer.step()` and before the next forward: nothing saved refers to the old
    values any more, and every rank applies the same change to the same numbers.

    The backward has run, so the graph that saved `weight_hh_l0` is freed; the next forward
    saves the clamped weight at its new version. DDP does not re-broadcast parameters before a
    forward (only buffers), so the ranks stay equal only because each step and each clamp is a
    deterministic function of parameters and averaged gradients that are equal on every rank;
    a change that depends on the rank's own data (or its RNG) would make them drift apart.
    """
    model = DDP(TinyRNN())
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    table = rank_rows(stream(4, 3), rank, world_size)
    for b in range(3):
        X, Y = batch_of(table, b)
        logits, _ = model(X, model.module.begin_state(X.shape[0]))
        opt.zero_grad(set_to_none=True)  # this batch's gradient only
        loss_of(logits, Y).backward()
        opt.step()
        with torch.no_grad():  # after the step: no saved tensor refers to the old weight
            model.module.rnn.weight_hh_l0.clamp_(-0.1, 0.1)  # in place, the same on each rank
    return {
        "parameters the same on both ranks after 3 steps": all(
            same_on_every_rank(p) for p in model.parameters()
        ),
        "largest |weight_hh_l0|": round(model.module.rnn.weight_hh_l0.abs().max().item(), 6),
    }


@case(
    "ddp/buffer-broadcast-at-forward",
    question="What does DDP do to a buffer that one rank changed, and does that bump its version?",
    outcome=ByTorch(
        {
            "<2.13": Raises(TypeError, r"unexpected keyword argument 'forward_sync_buffers'"),
            ">=2.13": Returns(
                {
                    "temperature on ranks 0, 1 before the forward": [2.0, 3.0],
                    "temperature on ranks 0, 1 after the forward": [2.0, 2.0],
                    "rank 1's version bumped by the broadcast": False,
                    "with forward_sync_buffers=False, after the forward": [2.0, 3.0],
                }
            ),
        }
    ),
    see_also=(_DDP_API, "ddp/inplace-parameter-before-backward"),
    ranks=2,
)
def buffer_broadcast_at_forward(rank, world_size):
    """Before every synced forward DDP copies rank 0's buffers over every rank's, in place, and
    keeps their version counters unchanged; `forward_sync_buffers=False` leaves each rank its
    own (torch 2.13 deprecates the older `broadcast_buffers=False` for it, with a FutureWarning).

    The broadcast (`_sync_buffers`, one coalesced broadcast from rank 0) runs at the start of
    `forward` when the previous forward was synced (or none came before), so rank 1's own
    temperature (3.0) is gone before its forward divides by it: both ranks compute with rank
    0's 2.0. It writes under `torch.autograd._unsafe_preserve_version_counter`, so the version
    stays as it was, and a graph that saved the buffer in an earlier forward would not notice
    the write. A change *you* make in place between forward and backward still bumps the version and
    fails as in one process (`ddp/inplace-parameter-before-backward`).

    `forward_sync_buffers` does not exist in torch 2.2.2 or 2.7.1: their DDP constructor
    refuses the keyword (a `TypeError`), and `broadcast_buffers=False` is the way to keep each
    rank's buffers there. The argument appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    seen = {}
    for broadcast in (True, False):
        model = DDP(TemperedRNN(), forward_sync_buffers=broadcast)
        with torch.no_grad():  # each rank its own temperature, after DDP's first broadcast
            model.module.temperature.fill_(2.0 + rank)  # in place: version + 1
        before = [t.item() for t in gathered(model.module.temperature)]
        version = model.module.temperature._version
        X, Y = batch_of(rank_rows(stream(4, 1), rank, world_size), 0)
        logits, _ = model(X, model.module.begin_state(X.shape[0]))
        seen[broadcast] = [t.item() for t in gathered(model.module.temperature)]
        bumped = gathered(torch.tensor(model.module.temperature._version != version))
    return {
        "temperature on ranks 0, 1 before the forward": before,
        "temperature on ranks 0, 1 after the forward": seen[True],
        "rank 1's version bumped by the broadcast": bool(bumped[1]),
        "with forward_sync_buffers=False, after the forward": seen[False],
    }
