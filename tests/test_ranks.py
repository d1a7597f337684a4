"""The two-process runner of the ``ddp`` cases: answers, errors, warnings and a bounded wait."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import ranks_workers

from rnn_autograd.spec import ranks

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def workers():
    """Workers that can import ``ranks_workers``; stopped afterwards (the next case restarts)."""
    ranks.shutdown()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(TESTS))
        yield
    ranks.shutdown()


def test_the_ranks_answer_in_rank_order_and_their_warnings_come_back_once(workers):
    with pytest.warns(UserWarning, match="the same on every rank") as caught:
        assert ranks.on_ranks(ranks_workers.warn_alike) == [0, 10]
    assert len(caught) == 1


def test_an_exception_comes_back_as_its_type_with_rank_0s_message(workers):
    with pytest.raises(ValueError, match="^rank 0's own message$"):
        ranks.on_ranks(ranks_workers.raise_per_rank)


def test_a_worker_that_ended_between_cases_is_replaced_before_the_next(workers):
    assert ranks.on_ranks(ranks_workers.rank_times_ten) == [0, 10]
    ranks._POOL.procs[1].kill()  # noqa: SLF001 - a worker gone between two cases
    ranks._POOL.procs[1].wait(timeout=10)  # noqa: SLF001
    assert ranks.on_ranks(ranks_workers.rank_times_ten) == [0, 10]


def test_a_rank_past_the_deadline_is_killed_with_its_peer_and_the_call_raises(workers, monkeypatch):
    monkeypatch.setattr(ranks, "TIMEOUT", 2.0)
    procs = list(ranks._POOL.procs)  # noqa: SLF001 - the workers the earlier tests started
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="rank 1 gave no answer"):
        ranks.on_ranks(ranks_workers.rank_1_hangs)
    assert time.monotonic() - start < 15
    assert procs and all(p.poll() is not None for p in procs), "both workers were killed"
    assert ranks._POOL.procs == []  # noqa: SLF001 - and forgotten: the next call starts anew
