"""One training step per hidden-state strategy, timed with pytest-benchmark.

Run with ``pytest tests/benchmarks/test_strategies.py --benchmark-only``; the default test run
does not collect this folder. Each round times one call of ``Strategy.train_batch`` plus the
optimizer step the trainer would take (clip, step, zero_grad) on a notebook-sized model. The
set-up (model, strategy state warmed to the point of the timed batch) runs outside the timing via
``benchmark.pedantic(..., setup=...)``. For ``window:K`` and ``tbptt`` the timed call is the
batch that runs backward, the most expensive of their period: compare it with ``K`` batches of
``detach``. Speed is read as ratios between these rows, never as an absolute figure.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnn_autograd.pipeline.data import counting_sequence, sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.state import TBPTT, Window, parse_strategy
from rnn_autograd.pipeline.training import lm_loss

VOCAB, HIDDEN, BATCH, STEPS = 20, 256, 32, 20
STRATEGIES = ["fresh", "detach", "detach-inplace", "window:2", "window:4", "tbptt:20,40"]


def _batches():
    tokens = counting_sequence(num_runs=BATCH * STEPS * 10 // 5 + BATCH, seed=0)
    return list(sequential_batches(tokens, BATCH, STEPS))


def _batches_before_update(spec: str) -> int:
    s = parse_strategy(spec)
    if isinstance(s, Window):
        return s.k - 1
    if isinstance(s, TBPTT):
        return s.k2 // STEPS - 1  # fill the span so that the timed update spans all of K2
    return 1  # detach: a state carried from one earlier batch


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared machine, two threads contend and the spread explodes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("spec", STRATEGIES)
def test_one_training_step(benchmark, spec):
    torch.manual_seed(0)
    batches = _batches()
    model = RNNModel(VOCAB, HIDDEN)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    params = list(model.parameters())

    def step():
        nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        # set_to_none: the next backward writes fresh .grad tensors instead of adding to zeros
        opt.zero_grad(set_to_none=True)

    def setup():
        strategy = parse_strategy(spec)
        strategy.begin_epoch()
        for X, Y in batches[: _batches_before_update(spec)]:
            if strategy.train_batch(model, X, Y, lm_loss).update:
                step()
        X, Y = batches[_batches_before_update(spec)]
        return (strategy, X, Y), {}

    def timed(strategy, X, Y):
        result = strategy.train_batch(model, X, Y, lm_loss)
        assert result.update  # the timed batch is the one that backpropagates
        step()

    benchmark.pedantic(timed, setup=setup, rounds=20, warmup_rounds=2)
