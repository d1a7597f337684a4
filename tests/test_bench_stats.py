"""The benchmark's figures over seeds: Student's t, the paired test, Holm, and the sentences."""

from __future__ import annotations

import math

import pytest

from rnn_autograd.bench import preset
from rnn_autograd.bench.config import PRESETS, BenchConfig
from rnn_autograd.bench.report_learning import _seeds_line, significance_lines
from rnn_autograd.bench.report_significance import time_ratio_lines, window_slope_lines
from rnn_autograd.bench.seeds import over_seeds
from rnn_autograd.bench.stats import (
    compare,
    holm,
    paired_t,
    summarize,
    t_quantile,
    t_sf_two_sided,
)
from rnn_autograd.errors import UsageError


# two-sided 5% critical values of Student's t from the standard tables
@pytest.mark.parametrize(("t", "df"), [(12.7062, 1), (4.3027, 2), (3.1824, 3), (2.7764, 4)])
def test_the_t_tail_matches_the_tables(t, df):
    assert t_sf_two_sided(t, df) == pytest.approx(0.05, abs=2e-5)
    assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-3)


def test_the_t_tail_at_zero_and_for_many_degrees_of_freedom_is_the_normal():
    assert t_sf_two_sided(0.0, 3) == pytest.approx(1.0)
    assert t_sf_two_sided(1.959964, 10**7) == pytest.approx(0.05, abs=1e-5)
    # df = 1 is the Cauchy distribution: P(|T| >= t) = 1 - 2 atan(t) / pi
    assert t_sf_two_sided(0.7, 1) == pytest.approx(1 - 2 * math.atan(0.7) / math.pi, rel=1e-9)


def test_summarize_gives_mean_sample_sd_and_the_t_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5
    assert s["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert s["ci95"] == pytest.approx(3.18245 * math.sqrt(5 / 3) / 2, rel=1e-4)
    assert summarize([7.0]) == {"n": 1, "mean": 7.0, "sd": None, "ci95": None}


def test_paired_t_tests_the_per_seed_differences():
    a, b = [2.0, 3.0, 5.0, 4.0], [1.0, 2.5, 3.0, 3.5]  # differences 1, .5, 2, .5
    r = paired_t(a, b)
    d = [1.0, 0.5, 2.0, 0.5]
    sd = math.sqrt(sum((x - 1.0) ** 2 for x in d) / 3)
    assert r["diff"] == pytest.approx(1.0)
    assert r["t"] == pytest.approx(1.0 / (sd / 2))
    assert r["df"] == 3
    assert r["p"] == pytest.approx(t_sf_two_sided(r["t"], 3))
    assert paired_t([1.0, 2.0], [0.0, 1.0])["p"] == 0.0  # the same difference on every seed
    assert paired_t([1.0, 2.0], [1.0, 2.0])["p"] == 1.0
    assert paired_t([1.0], [0.0])["p"] is None
    with pytest.raises(ValueError, match="as many"):
        paired_t([1.0, 2.0], [1.0])


def test_holm_adjusts_in_step_down_order_and_keeps_the_order_given():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])


PER_SEED = {
    "fresh": [2.30, 2.35, 2.28, 2.33],
    "detach": [2.10, 2.16, 2.12, 2.14],  # below fresh by about 0.19 on every seed
    "tbptt": [2.11, 2.12, 2.14, 2.12],  # beside detach: the sign of the gap changes with the seed
}


def test_compare_calls_significant_only_what_the_adjusted_test_supports():
    pairs = {(c["a"], c["b"]): c for c in compare(PER_SEED)}
    assert pairs["fresh", "detach"]["significant"] is True
    assert pairs["fresh", "tbptt"]["significant"] is True
    assert pairs["detach", "tbptt"]["significant"] is False
    assert all(c["p_holm"] >= c["p"] for c in pairs.values())
    one = compare({k: v[:1] for k, v in PER_SEED.items()})
    assert all(c["significant"] is None and c["p_holm"] is None for c in one)


def _fake_section(config: BenchConfig) -> dict:
    i = (config.seed - 10) // 2  # seeds 10, 12, 14, 16
    return {
        "rows": {name: {"perplexity": v[i], "curve": [config.seed]} for name, v in PER_SEED.items()}
    }


def test_over_seeds_averages_keeps_every_seed_and_tests_the_pairs():
    section = over_seeds(
        _fake_section, BenchConfig(seed=10, seeds=4), ("perplexity",), ("perplexity",)
    )
    assert section["seeds"] == [10, 12, 14, 16]
    row = section["rows"]["detach"]
    assert row["per_seed"]["perplexity"] == PER_SEED["detach"]
    assert row["perplexity"] == pytest.approx(sum(PER_SEED["detach"]) / 4)
    assert row["curve"] == [10]  # what is not averaged is the first seed's
    assert len(section["comparisons"]["perplexity"]) == 3


def test_the_sentences_follow_the_tests():
    section = over_seeds(
        _fake_section, BenchConfig(seed=10, seeds=4), ("perplexity",), ("perplexity",)
    )
    lines = [x for x in significance_lines(section) if x.startswith("- ")]
    assert len(lines) == 3
    (d_f,) = [x for x in lines if "`detach` below `fresh`" in x]
    assert "**significant** at 0.05" in d_f
    (t_d,) = [x for x in lines if "`detach`" in x and "`tbptt`" in x]
    assert "not distinguishable over 4 seeds" in t_d
    one = over_seeds(_fake_section, BenchConfig(seed=10, seeds=1), ("perplexity",), ("perplexity",))
    assert significance_lines(one) == []
    assert "no difference between strategies can be called significant" in _seeds_line(one)


def test_the_docs_preset_is_tiny_over_several_seeds():
    docs, tiny = preset("docs"), preset("tiny")
    assert docs.seeds >= 3 and tiny.seeds == 1
    own = {"preset", "seeds", "repeats"}
    assert docs.repeats >= 3
    assert {k: v for k, v in docs.to_dict().items() if k not in own} == {
        k: v for k, v in tiny.to_dict().items() if k not in own
    }
    assert set(PRESETS["docs"]) == own - {"preset"}
    with pytest.raises(UsageError, match="seeds"):
        preset("tiny", seeds=0)


def _cost(ratios: dict[str, list[float]]) -> dict:
    n = len(next(iter(ratios.values())))
    summary = {k: {"time_ratio_to_fresh": {"values": v}} for k, v in ratios.items()}
    return {"repeats": n, "summary": summary}


def test_time_ratio_lines_call_a_strategy_slower_only_when_every_repeat_agrees_closely():
    cost = _cost(
        {
            "fresh": [1.0, 1.0, 1.0, 1.0],
            "window:4": [0.70, 0.72, 0.69, 0.71],  # faster in every repeat, closely
            "detach": [0.95, 1.06, 1.01, 0.97],  # both sides of 1
        }
    )
    lines = [x for x in time_ratio_lines(cost) if x.startswith("- ")]
    (w,) = [x for x in lines if "`window:4`" in x]
    assert "**faster** than `fresh`, significant" in w
    assert "× 0.70" in w
    (d,) = [x for x in lines if "`detach`" in x]
    assert "not distinguishable from `fresh` over 4 repeats" in d
    one = time_ratio_lines(_cost({"fresh": [1.0], "detach": [0.9]}))
    assert one[0].startswith("One repeat")


def _sweep(times: dict[int, list[float]]) -> dict:
    return {
        "rows": {
            f"window:{k}": {"window": k, "time_per_batch_s": {"values": v}}
            for k, v in times.items()
        }
    }


def test_the_window_slope_is_called_a_trend_only_when_the_repeats_agree():
    falls = _sweep({1: [1.00, 1.02, 0.99], 2: [0.80, 0.83, 0.79], 4: [0.60, 0.61, 0.58]})
    (line, _) = window_slope_lines(falls)
    assert "time per batch **falls** with the window here, significantly" in line
    noisy = _sweep({1: [1.0, 0.7, 1.2], 2: [0.8, 1.3, 0.9], 4: [1.3, 0.6, 1.1]})
    (line, _) = window_slope_lines(noisy)
    assert "no trend distinguishable from flat over 3 repeats" in line
    assert window_slope_lines(_sweep({1: [1.0], 2: [0.9]}))[0].startswith("One repeat")
