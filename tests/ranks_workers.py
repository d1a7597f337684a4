"""Functions the two worker processes of ``rnn_autograd.spec.ranks`` run in tests/test_ranks.py.

A module of its own (not a test file) because the workers import it by name.
"""

from __future__ import annotations

import time
import warnings


def raise_per_rank(rank: int, world_size: int) -> None:
    if rank == 0:
        raise ValueError("rank 0's own message")
    raise KeyError("rank 1's")


def warn_alike(rank: int, world_size: int) -> int:
    warnings.warn("the same on every rank", UserWarning, stacklevel=1)
    return rank * 10


def rank_1_hangs(rank: int, world_size: int) -> None:
    if rank == 1:
        time.sleep(60)  # past any deadline the test sets


def rank_times_ten(rank: int, world_size: int) -> int:
    return rank * 10
