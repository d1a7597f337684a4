"""Token streams and the three ways to cut them into ``(X, Y)`` batches.

``Y`` is always ``X`` shifted by one token: ``Y[i, t]`` is the token that follows ``X[i, t]``.
Both are LongTensors of shape ``(batch_size, num_steps)``.

* ``window_batches``: the notebook's overlapping windows. Row ``r`` of the whole table holds tokens
  ``r .. r + num_steps - 1``; rows are batched in order. Consecutive rows overlap by
  ``num_steps - 1`` tokens, so a hidden state carried from one batch to the next does *not* carry
  the past of the next row.
* ``sequential_batches``: the corpus is split into ``batch_size`` contiguous rows and each batch
  takes the next ``num_steps`` columns. Row ``i`` of batch ``b + 1`` continues exactly where row
  ``i`` of batch ``b`` ended, the only batching under which carrying the state means anything::

      corpus  a b c d e f | g h i j k l |          (batch_size 2, num_steps 3)
      batch 0: X = [[a b c],    batch 1: X = [[d e f],
                    [g h i]]                  [j k l]]

* ``random_batches``: non-overlapping subsequences at a random offset, shuffled; carrying state
  across these batches is meaningless.

Each function checks its arguments at once (a corpus too short for one batch is a ``UsageError``
naming the numbers) and returns a ``Batches``: iterable any number of times, with ``len``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

import torch

from ..errors import UsageError
from .bounds import check_int, check_memory

__all__ = [
    "BATCHINGS",
    "Batches",
    "counting_sequence",
    "make_batches",
    "random_batches",
    "sequential_batches",
    "window_batches",
]

BATCHINGS = ("sequential", "windows", "random")


def counting_sequence(
    num_runs: int = 200, run_length: int = 5, low: int = 0, high: int = 10, seed: int = 0
) -> list[int]:
    """The notebook's synthetic data: ``num_runs`` runs of ``run_length`` consecutive integers.

    Each run starts at an integer drawn uniformly from ``[low, high]`` (both ends included, as
    ``random.randint``), so tokens lie in ``[low, high + run_length - 1]``. Seeded: the same
    arguments give the same list.

    Args:
        num_runs: the number of runs (>= 1).
        run_length: the number of consecutive integers in each run (>= 1).
        low: the smallest start of a run (>= 0).
        high: the largest start of a run (>= ``low``).
        seed: the seed of the starts.

    >>> counting_sequence(num_runs=2, seed=1)
    [2, 3, 4, 5, 6, 9, 10, 11, 12, 13]
    """
    num_runs, run_length = check_int(num_runs, "num_runs"), check_int(run_length, "run_length")
    low, high = check_int(low, "low", lo=0), check_int(high, "high", lo=0)
    check_int(seed, "seed", lo=None)
    # a Python list of ints and then a LongTensor of them: about 16 bytes per token
    check_memory(
        16 * num_runs * run_length, f"{num_runs} runs of {run_length} tokens", "use fewer runs"
    )
    if num_runs < 1 or run_length < 1 or high < low:
        raise UsageError(
            f"counting_sequence needs num_runs >= 1, run_length >= 1 and low <= high; "
            f"got num_runs={num_runs}, run_length={run_length}, low={low}, high={high}"
        )
    rng = random.Random(seed)
    seq: list[int] = []
    for _ in range(num_runs):
        start = rng.randint(low, high)
        seq.extend(range(start, start + run_length))
    return seq


def _as_tokens(tokens: Sequence[int] | torch.Tensor) -> torch.Tensor:
    if isinstance(tokens, str | bytes):
        raise UsageError(
            "tokens must be a sequence of integer ids, not text; encode it with a Vocab"
        )
    try:
        # no dtype asked for: floats stay floats, so that 0.5 is refused, not cut to 0
        t = torch.as_tensor(tokens)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise UsageError(
            f"tokens must be a 1-D sequence of integer ids (a list or a LongTensor); got "
            f"{type(tokens).__name__}"
        ) from None
    if t.numel() == 0:
        t = t.long()  # torch.as_tensor([]) is float32: an empty list has no dtype to refuse
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise UsageError(f"tokens must be integer ids; got {t.dtype} values")
    t = t.long()
    if t.dim() != 1:
        raise UsageError(f"tokens must be a 1-D sequence of ids; got shape {tuple(t.shape)}")
    if len(t) and int(t.min()) < 0:
        raise UsageError(f"tokens must be ids >= 0; got {int(t.min())}")
    return t


def _check_sizes(batch_size: int, num_steps: int) -> None:
    check_int(batch_size, "batch_size")
    check_int(num_steps, "num_steps")
    if batch_size < 1 or num_steps < 1:
        raise UsageError(
            f"batch_size and num_steps must be >= 1; got batch_size={batch_size}, num_steps={num_steps}"
        )


class Batches:
    """A re-iterable stream of ``(X, Y)`` batches with a known length.

    ``make(i)`` builds batch ``i``; building is lazy so that large corpora are cut as they are read.
    """

    def __init__(self, kind: str, count: int, make: Callable[[int], tuple[torch.Tensor, ...]]):
        self.kind = kind
        self._count = count
        self._make = make

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(self._count):
            yield self._make(i)

    def __repr__(self) -> str:
        return f"Batches({self.kind!r}, {self._count} batches)"


def window_batches(
    tokens: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int
) -> Batches:
    """The notebook's overlapping windows, in order; an incomplete last batch is dropped.

    There are ``len(tokens) - num_steps`` windows; window ``r`` is ``X = tokens[r : r + num_steps]``
    with ``Y = tokens[r + 1 : r + num_steps + 1]``. Batch ``b`` holds windows
    ``b * batch_size .. (b + 1) * batch_size - 1``.

    Args:
        tokens: the token ids of the corpus, in order (a sequence of ints or a 1-D tensor).
        batch_size: the number of rows (sequences) in every batch.
        num_steps: the number of time steps in every row.
    """
    t = _as_tokens(tokens)
    _check_sizes(batch_size, num_steps)
    rows = len(t) - num_steps
    count = max(rows, 0) // batch_size
    if count == 0:
        raise UsageError(
            f"corpus too short for one batch of windows: {len(t)} tokens give {max(rows, 0)} "
            f"windows of {num_steps} steps, fewer than batch_size={batch_size}; "
            f"need at least {batch_size + num_steps} tokens"
        )
    # (rows, num_steps + 1): window r and its target share storage with the corpus (no copy)
    table = t.unfold(0, num_steps + 1, 1)

    def make(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows_b = table[b * batch_size : (b + 1) * batch_size]  # (batch, num_steps + 1)
        return rows_b[:, :-1].contiguous(), rows_b[:, 1:].contiguous()

    return Batches("windows", count, make)


def sequential_batches(
    tokens: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int, offset: int = 0
) -> Batches:
    """Sequential partitioning: row ``i`` of batch ``b + 1`` continues row ``i`` of batch ``b``.

    The tokens from ``offset`` on are cut into ``batch_size`` contiguous rows of
    ``(len(tokens) - offset - 1) // batch_size`` tokens (the ``- 1`` leaves room for the last
    target); batch ``b`` holds columns ``b * num_steps .. (b + 1) * num_steps - 1`` of the rows.

    Args:
        tokens: the token ids of the corpus, in order (a sequence of ints or a 1-D tensor).
        batch_size: the number of rows (sequences) in every batch.
        num_steps: the number of time steps in every row.
        offset: the number of tokens left out at the front (``0 <= offset < len(tokens)``).
    """
    t = _as_tokens(tokens)
    _check_sizes(batch_size, num_steps)
    check_int(offset, "offset", lo=0)
    if not 0 <= offset < max(len(t), 1):
        raise UsageError(f"offset must lie in [0, {len(t) - 1}]; got {offset}")
    row_len = (len(t) - offset - 1) // batch_size
    count = max(row_len, 0) // num_steps
    if count == 0:
        raise UsageError(
            f"corpus too short for one sequential batch: {len(t)} tokens (offset {offset}) give "
            f"rows of {max(row_len, 0)} tokens for batch_size={batch_size}, fewer than "
            f"num_steps={num_steps}; need at least {batch_size * num_steps + 1 + offset} tokens"
        )
    n = row_len * batch_size
    xs = t[offset : offset + n].reshape(batch_size, row_len)  # (batch, row_len)
    ys = t[offset + 1 : offset + n + 1].reshape(batch_size, row_len)

    def make(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        cols = slice(b * num_steps, (b + 1) * num_steps)
        return xs[:, cols].contiguous(), ys[:, cols].contiguous()

    return Batches("sequential", count, make)


def random_batches(
    tokens: Sequence[int] | torch.Tensor, batch_size: int, num_steps: int, seed: int = 0
) -> Batches:
    """Random sampling (d2l's ``seq_data_iter_random``): shuffled non-overlapping subsequences.

    A random offset in ``[0, num_steps - 1]`` is dropped from the front, the rest is cut into
    subsequences of ``num_steps`` tokens, shuffled, and batched; an incomplete last batch is
    dropped. ``seed`` fixes offset and order, so the same seed gives the same batches.

    Args:
        tokens: the token ids of the corpus, in order (a sequence of ints or a 1-D tensor).
        batch_size: the number of rows (sequences) in every batch.
        num_steps: the number of time steps in every row.
        seed: fixes the offset and the order of the subsequences.
    """
    t = _as_tokens(tokens)
    _check_sizes(batch_size, num_steps)
    check_int(seed, "seed", lo=None)
    rng = random.Random(seed)
    offset = rng.randint(0, num_steps - 1)
    num_subseqs = max(len(t) - offset - 1, 0) // num_steps
    count = num_subseqs // batch_size
    if count == 0:
        raise UsageError(
            f"corpus too short for one random batch: {len(t)} tokens (offset {offset}) give "
            f"{num_subseqs} subsequences of {num_steps} steps, fewer than batch_size={batch_size}; "
            f"need at least {batch_size * num_steps + num_steps} tokens"
        )
    starts = [offset + i * num_steps for i in range(num_subseqs)]
    rng.shuffle(starts)
    starts_t = torch.tensor(starts, dtype=torch.long)
    steps = torch.arange(num_steps)

    def make(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = starts_t[b * batch_size : (b + 1) * batch_size, None] + steps  # (batch, num_steps)
        return t[idx], t[idx + 1]

    return Batches("random", count, make)


def make_batches(
    kind: str,
    tokens: Sequence[int] | torch.Tensor,
    batch_size: int,
    num_steps: int,
    seed: int = 0,
) -> Batches:
    """Batches by name: ``"sequential"``, ``"windows"`` or ``"random"`` (``seed`` for random).

    Args:
        kind: ``"sequential"`` (``sequential_batches``), ``"windows"`` (``window_batches``) or
            ``"random"`` (``random_batches``).
        tokens: the token ids of the corpus, in order (a sequence of ints or a 1-D tensor).
        batch_size: the number of rows (sequences) in every batch.
        num_steps: the number of time steps in every row.
        seed: the seed of random batching; the other kinds ignore it.

    Returns:
        The ``Batches``: ``len()`` of them, iterable again every epoch.
    """
    check_int(seed, "seed", lo=None)
    if kind == "sequential":
        return sequential_batches(tokens, batch_size, num_steps)
    if kind == "windows":
        return window_batches(tokens, batch_size, num_steps)
    if kind == "random":
        return random_batches(tokens, batch_size, num_steps, seed=seed)
    raise UsageError(f"unknown batching {kind!r}; expected one of: {', '.join(BATCHINGS)}")
