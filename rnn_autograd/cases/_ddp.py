"""What the ``ddp`` cases share: a small recurrent model, and looks across the two ranks.

Private to the case library. The cases run on two processes (``@case(..., ranks=2)``), each a
function of ``(rank, world_size)`` as in a DistributedDataParallel script; the process group is
already joined (gloo, 127.0.0.1) and the RNG seeded alike on both ranks, so both build the same
model, and a rank's own data comes from ``rank_batch``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

VOCAB, HIDDEN, STEPS = 6, 8, 5


class TinyRNN(nn.Module):
    """One-hot tokens -> ``nn.RNN`` -> a linear head ``out``.

    ``spare="unused"`` adds a second head that the forward never calls (a head for another
    task, left in the model); ``spare="output"`` makes it a second output, ``forward`` then
    returning ``((out_logits, spare_logits), state)``.
    """

    def __init__(self, spare: str | None = None) -> None:
        super().__init__()
        self.rnn = nn.RNN(VOCAB, HIDDEN)
        self.out = nn.Linear(HIDDEN, VOCAB)
        self.spare = nn.Linear(HIDDEN, VOCAB) if spare else None
        self.two_heads = spare == "output"

    def forward(self, X: torch.Tensor, state: torch.Tensor):
        inputs = nn.functional.one_hot(X.T, VOCAB).to(torch.float32)  # (steps, batch, vocab)
        Y, state = self.rnn(inputs, state)  # Y: (steps, batch, hidden)
        H = Y.reshape(-1, HIDDEN)  # (steps * batch, hidden)
        if self.two_heads:
            return (self.out(H), self.spare(H)), state
        return self.out(H), state

    def begin_state(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(1, batch_size, HIDDEN)


def stream(rows: int, batches: int, seed: int = 1) -> torch.Tensor:
    """A token table ``(rows, batches * STEPS + 1)``: each row one contiguous token stream."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(VOCAB, (rows, batches * STEPS + 1), generator=g)


def batch_of(table: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequential batch ``b`` of ``table``: columns ``b * STEPS ..``, targets shifted by one."""
    cols = slice(b * STEPS, (b + 1) * STEPS)
    return table[:, cols], table[:, b * STEPS + 1 : (b + 1) * STEPS + 1]


def rank_rows(table: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's contiguous share of the rows: rows ``rank * b .. (rank + 1) * b - 1``."""
    b = table.shape[0] // world_size
    return table[rank * b : (rank + 1) * b]


def loss_of(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the rank's tokens; logits are time-major (``TinyRNN``)."""
    return nn.functional.cross_entropy(logits, Y.T.reshape(-1))


def gathered(t: torch.Tensor) -> list[torch.Tensor]:
    """``t`` as it is on every rank, rank 0's first (``all_gather``: a collective)."""
    out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t.detach().contiguous())
    return out


def same_on_every_rank(t: torch.Tensor) -> bool:
    """Whether ``t`` holds the same numbers, bit for bit, on every rank."""
    first, *rest = gathered(t)
    return all(torch.equal(first, r) for r in rest)


def grads_same_on_every_rank(model: nn.Module) -> bool:
    """Whether every gradient that exists is identical across ranks (a collective per param)."""
    return all(same_on_every_rank(p.grad) for p in model.parameters() if p.grad is not None)


def three_iterations_with_a_spare(model: nn.Module, rank: int, world_size: int) -> dict:
    """Three iterations of ``model`` (a DDP TinyRNN with an unused ``spare``) on this rank's rows:
    the two fixes of the unused-parameter error (``find_unused_parameters``, ``static_graph``)
    run the same loop, so their observations compare like with like."""
    table = rank_rows(stream(4, 3), rank, world_size)
    averaged = []
    for b in range(3):
        X, Y = batch_of(table, b)
        model.zero_grad(set_to_none=True)  # each iteration's gradient on its own
        logits, _ = model(X, model.module.begin_state(X.shape[0]))
        loss_of(logits, Y).backward()
        averaged.append(grads_same_on_every_rank(model.module))
    return {
        "iterations": 3,
        "gradients the same on both ranks after each": averaged,
        "spare.weight.grad": model.module.spare.weight.grad,
    }


def counted_allreduce(counter: dict, bucket):
    """A DDP communication hook (``register_comm_hook(counter, counted_allreduce)``) that counts
    the buckets it all-reduces in ``counter["calls"]``, then does what DDP's default does:
    average the bucket over the ranks (sum by all-reduce, divide by the world size).

    ``bucket`` has no annotation on purpose: DDP checks that one, if given, is dist.GradBucket.
    """
    counter["calls"] += 1
    work = dist.all_reduce(bucket.buffer(), async_op=True)
    world = dist.get_world_size()
    # in place on the all-reduced bucket, which DDP then copies into each .grad
    return work.get_future().then(lambda fut: fut.value()[0].div_(world))


class TemperedRNN(TinyRNN):
    """``TinyRNN`` whose logits are divided by a buffer, ``temperature`` (a model's state that is
    not a parameter: DDP broadcasts it from rank 0 before every synced forward)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("temperature", torch.ones(()))

    def forward(self, X: torch.Tensor, state: torch.Tensor):
        logits, state = super().forward(X, state)
        return logits / self.temperature, state  # DivBackward0 saves the temperature
