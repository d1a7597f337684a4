"""Exact best-achievable next-token figures on the synthetic sequences (rnn_autograd.bench.limits)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_autograd.bench.limits import (
    counting_limit,
    counting_source,
    exact_limit,
    gap_limit,
    monte_carlo,
)
from rnn_autograd.bench.tasks import delayed_recall_limit, delayed_recall_source


def test_runs_of_length_one_are_uniform_over_eleven_values_so_perplexity_is_eleven():
    for context, steps in (("carried", None), ("fresh", 3)):
        result = counting_limit(run_length=1, context=context, num_steps=steps)
        assert result.perplexity == pytest.approx(11.0)
        assert result.accuracy == pytest.approx(1 / 11)


def test_carried_limit_is_one_uniform_choice_of_eleven_per_run_of_five():
    # once a visible break has fixed the phase, only the first token of a run is uncertain
    result = counting_limit(run_length=5, low=0, high=10, context="carried")
    assert result.cross_entropy_nats == pytest.approx(math.log(11) / 5, rel=1e-9)
    assert result.perplexity == pytest.approx(11 ** (1 / 5), rel=1e-9)


@pytest.mark.parametrize("num_steps", [1, 2, 5, 20, 35])
def test_fresh_limit_is_never_below_the_carried_limit(num_steps):
    carried = counting_limit(context="carried")
    fresh = counting_limit(context="fresh", num_steps=num_steps)
    assert fresh.cross_entropy_nats >= carried.cross_entropy_nats - 1e-12
    assert fresh.accuracy <= carried.accuracy + 1e-12


def test_fresh_limit_falls_as_the_window_grows():
    ces = [counting_limit(context="fresh", num_steps=t).cross_entropy_nats for t in range(1, 30)]
    assert all(b <= a + 1e-12 for a, b in zip(ces, ces[1:], strict=False))
    assert ces[0] > ces[-1]


def test_fresh_per_position_figures_have_one_entry_per_target_and_average_to_the_limit():
    result = counting_limit(context="fresh", num_steps=7)
    assert len(result.per_position) == 7
    assert np.mean(result.per_position) == pytest.approx(result.cross_entropy_nats)


@pytest.mark.parametrize(
    ("context", "num_steps"), [("carried", None), ("fresh", 7)], ids=["carried", "fresh-7"]
)
def test_exact_limit_agrees_with_the_filter_run_over_a_long_sample(context, num_steps):
    # num_steps 7 is prime to the run length, so windows visit every phase equally often
    source = counting_source()
    tokens = source.sample(60_000, np.random.default_rng(1))
    ce, acc = monte_carlo(source, tokens, context, num_steps)
    exact = exact_limit(source, context, num_steps)
    assert ce == pytest.approx(exact.cross_entropy_nats, abs=0.02)
    assert acc == pytest.approx(exact.accuracy, abs=0.01)


def test_sampled_counting_sequence_is_made_of_runs_of_consecutive_integers():
    tokens = counting_source().sample(2000, np.random.default_rng(0))
    assert tokens.min() >= 0 and tokens.max() <= 14
    steps = np.diff(tokens)
    # a step other than +1 can only be a run boundary, and those come at most every 5 tokens
    breaks = np.nonzero(steps != 1)[0]
    assert np.all(np.diff(breaks) % 5 == 0)


def test_unknown_context_and_missing_window_are_errors():
    with pytest.raises(ValueError, match="context must be"):
        counting_limit(context="windowed")
    with pytest.raises(ValueError, match="needs num_steps"):
        counting_limit(context="fresh")


def test_delayed_recall_carried_limit_is_one_key_per_episode():
    result = delayed_recall_limit(delay=6, num_keys=4, context="carried")
    assert result.cross_entropy_nats == pytest.approx(math.log(4) / 7, rel=1e-9)


def test_delayed_recall_fresh_limit_is_above_carried_when_the_window_is_shorter_than_the_delay():
    carried = delayed_recall_limit(delay=6, num_keys=4, context="carried")
    short = delayed_recall_limit(delay=6, num_keys=4, context="fresh", num_steps=5)
    assert short.cross_entropy_nats > carried.cross_entropy_nats + 0.05


@pytest.mark.parametrize(("context", "num_steps"), [("carried", None), ("fresh", 5)])
def test_delayed_recall_limit_agrees_with_the_filter_over_a_long_sample(context, num_steps):
    source = delayed_recall_source(delay=6, num_keys=3)
    tokens = source.sample(40_000, np.random.default_rng(2))
    ce, acc = monte_carlo(source, tokens, context, num_steps)
    exact = exact_limit(source, context, num_steps)
    assert ce == pytest.approx(exact.cross_entropy_nats, abs=0.02)
    assert acc == pytest.approx(exact.accuracy, abs=0.01)


@pytest.mark.parametrize("gap", [0, 7, 28, 30])
def test_an_earlier_window_of_sixteen_tokens_fixes_the_phase_whatever_the_gap(gap):
    # consecutive tokens run at most 0..14, so 16 tokens hold a visible run boundary; the phase
    # then advances deterministically across any gap, and the carried limit is reached
    result = gap_limit(counting_source(), context_tokens=16, gap=gap, num_steps=10)
    assert result.cross_entropy_nats == pytest.approx(counting_limit().cross_entropy_nats)


def test_a_short_earlier_window_helps_less_than_the_true_past_and_more_than_nothing():
    carried = counting_limit().cross_entropy_nats
    fresh = counting_limit(context="fresh", num_steps=10).cross_entropy_nats
    short = gap_limit(counting_source(), context_tokens=2, gap=3, num_steps=10).cross_entropy_nats
    assert carried < short < fresh
