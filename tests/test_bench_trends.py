"""The report's explanations follow the data: each direction-stating sentence is fed data that
agree with the mechanism's prediction and data that do not, and says which. And the mechanism
the sentences state (forwards with a graph, optimizer steps per batch) is checked on the trainer.
"""

from __future__ import annotations

import pytest
import torch

from rnn_autograd.bench.config import BenchConfig
from rnn_autograd.bench.report_learning import significance_lines
from rnn_autograd.bench.report_significance import window_slope_lines
from rnn_autograd.bench.seeds import batching_over_seeds
from rnn_autograd.bench.trends_cost import (
    between_tables_line,
    process_lines,
    saved_lines,
    time_prediction,
    window_lines,
    work_per_batch,
)
from rnn_autograd.bench.trends_learning import (
    accuracy_line,
    bars_line,
    batching_lines,
    curve_lines,
    limit_ratio_line,
    pair_prediction,
    recall_chance_lines,
    verdict,
)
from rnn_autograd.pipeline.data import counting_sequence, sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.training import train

KIB = 1024


@pytest.mark.parametrize(
    ("spec", "graph", "steps", "saved"),
    [
        ("fresh", 1, 1, 1),
        ("window:3", 1, 1 / 3, 3),
        ("tbptt:10,20", 2, 1, 2),
        ("tbptt:20,60", 3, 0.5, 6),
    ],
)
def test_the_work_per_batch_of_each_strategy(spec, graph, steps, saved):
    assert work_per_batch(spec, 10) == {"graph": graph, "steps": steps, "saved": saved}


@pytest.mark.parametrize(
    ("spec", "graph_forwards", "steps"),
    [("window:3", 6, 2), ("tbptt:10,20", 11, 6), ("detach", 6, 6)],
)
def test_the_trainer_runs_the_forwards_and_steps_the_work_model_counts(spec, graph_forwards, steps):
    torch.manual_seed(0)
    model = RNNModel(20, 8)
    batches = list(sequential_batches(counting_sequence(num_runs=60, seed=0), 4, 10))[:6]
    forwards, updates = [], []
    model.register_forward_hook(lambda *_: forwards.append(torch.is_grad_enabled()))
    train(
        model,
        batches,
        spec,
        epochs=1,
        lr=0.01,
        device="cpu",
        on_batch=lambda i, info: updates.append(info["update"]),
    )
    # tbptt:10,20 runs the last two batches again at every batch (the first has one)
    assert sum(forwards) == graph_forwards
    assert sum(updates) == steps


def test_the_time_prediction_says_whether_the_interval_holds_it():
    assert time_prediction("tbptt:10,20", 10, 1.7, 2.3).endswith("the interval agrees")
    assert "up to × 2," in time_prediction("tbptt:10,20", 10, 1.7, 2.3)
    assert time_prediction("tbptt:10,20", 10, 2.3, 2.6).endswith("measured above that")
    assert time_prediction("tbptt:10,20", 10, 0.6, 0.9).endswith("measured below that")
    assert time_prediction("window:4", 10, 1.3, 1.6).endswith("measured above that")
    assert time_prediction("window:4", 10, 0.6, 0.9).endswith("the interval agrees")
    assert "predicts × 1;" in time_prediction("detach", 10, 0.9, 1.1)


def _cost(saved: dict[str, float], rss=(300 * 2**20, 300 * 2**20), growth=0.0) -> dict:
    one = 37 * KIB
    return {
        "summary": {
            n: {
                "saved_ratio_to_fresh": r,
                "saved_peak_bytes": r * one,
                "rss_peak_bytes": {"median": rss[i % 2]},
                "rss_growth_bytes": {"max": growth},
            }
            for i, (n, r) in enumerate(saved.items())
        }
    }


def test_the_saved_bytes_sentence_says_when_a_ratio_is_off_the_prediction():
    good = {"fresh": 1.0, "detach": 1.0, "window:2": 2.0, "tbptt:10,20": 2.0}
    (line, _) = saved_lines(_cost(good), 10)
    assert line.endswith("Every measured ratio matches.")
    (line, _) = saved_lines(_cost({**good, "window:2": 1.0}), 10)
    assert "Unlike that: `window:2` saved × 1.00, not × 2." in line


def test_the_process_sentence_says_whether_resident_size_tells_strategies_apart():
    flat = _cost({"fresh": 1.0, "window:2": 2.0})
    assert "cannot tell the strategies apart" in process_lines(flat)[0]
    grown = _cost({"fresh": 1.0, "window:2": 2.0}, rss=(300 * 2**20, 310 * 2**20), growth=2**20)
    assert "more than the saved tensors account for" in process_lines(grown)[0]


def _sweep(slope=37 * KIB, fwd=0.4e-3, close=3.0e-3, detach=2.0e-3) -> dict:
    jitter = [0.98, 1.0, 1.03, 0.99]
    return {
        "rows": {
            "detach": {
                "saved_peak_bytes": 37 * KIB,
                "time_per_batch_s": {"median": detach, "values": [detach * j for j in jitter]},
            },
            "window:4": {
                "forward_batch_s": fwd,
                "closing_batch_s": close,
                "forward_batch_s_per_repeat": [fwd] * 4,
                "closing_batch_s_per_repeat": [close * j for j in reversed(jitter)],
            },
        },
        "fit": {"saved_slope_bytes": slope, "saved_intercept_bytes": 0.0},
        "trace_window": 4,
    }


def test_the_window_sentences_check_the_line_and_where_the_time_goes():
    assert window_lines(_sweep())[0].endswith("The fit is that line.")
    assert "The fit is not: 20.0 KiB per batch" in window_lines(_sweep(slope=20 * KIB))[0]
    # (3.0 - 0.4) / 4 = 0.65 ms per batch against 2.0 - 0.4 = 1.6 ms for detach
    assert "smaller, significantly over the 4 repeats" in window_lines(_sweep(), "time")[0]
    # (8.0 - 0.4) / 4 = 1.9 ms against 1.6 ms: larger in every repeat
    assert (
        "the opposite of what the fixed costs predict"
        in window_lines(_sweep(close=8.0e-3), "time")[0]
    )
    # (6.8 - 0.4) / 4 = 1.6 ms: the same as detach's, within the jitter
    assert "not distinguishable over the 4 repeats" in window_lines(_sweep(close=6.8e-3), "time")[0]


def test_the_window_slope_says_rises_when_time_rises():
    rows = {1: [1.0, 1.01, 0.99], 2: [1.2, 1.22, 1.19], 4: [1.6, 1.62, 1.59]}
    sweep = {
        "rows": {
            f"window:{k}": {"window": k, "time_per_batch_s": {"values": v}} for k, v in rows.items()
        }
    }
    assert "time per batch **rises** with the window" in window_slope_lines(sweep)[0]


@pytest.mark.parametrize(
    ("expected", "low", "significant", "said"),
    [
        ("detach", "detach", True, "as predicted"),
        ("detach", "fresh", True, "the opposite of the prediction"),
        ("detach", "fresh", False, "the 4 seeds cannot confirm it"),
        (None, "fresh", True, "a difference the mechanism does not predict"),
        (None, "fresh", False, "as predicted, no difference shows"),
    ],
)
def test_the_verdict_sets_the_measured_difference_against_the_prediction(
    expected, low, significant, said
):
    assert verdict(expected, low, significant, 4) == said


def _section(per_seed: dict[str, list[float]], steps=None, reach=None, recall=None) -> dict:
    rows = {}
    for name, v in per_seed.items():
        rows[name] = {
            "per_seed": {
                "perplexity": v,
                "accuracy": v,
                "recall_accuracy": (recall or {}).get(name, v),
            },
            "perplexity": sum(v) / len(v),
            "accuracy": sum(v) / len(v),
            "recall_accuracy": sum((recall or {}).get(name, v)) / len(v),
            "optimizer_steps": (steps or {}).get(name, 72),
            "limit_perplexity": 1.5,
            "curve_perplexity": [20.0, 5.0, 2.0],
        }
        if reach is not None:
            rows[name]["gradient_reach"] = reach[name]
    from rnn_autograd.bench.stats import compare

    return {
        "rows": rows,
        "num_steps": 10,
        "num_keys": 4,
        "seeds": [0, 2, 4, 6],
        "limits": {"carried": {}},
        "comparisons": {
            "perplexity": compare({n: r["per_seed"]["perplexity"] for n, r in rows.items()})
        },
    }


def test_a_pair_is_predicted_by_steps_then_carried_context_then_reach():
    s = _section(
        {"detach": [2.1] * 4, "window:2": [2.7] * 4, "fresh": [2.3] * 4}, steps={"window:2": 36}
    )
    assert pair_prediction(s, "detach", "window:2", "perplexity")[0] == "detach"
    assert pair_prediction(s, "fresh", "detach", "perplexity")[0] == "detach"
    r = _section(
        {"detach": [1.5] * 4, "tbptt:4,12": [1.3] * 4}, reach={"detach": 0.0, "tbptt:4,12": 1.0}
    )
    assert pair_prediction(r, "detach", "tbptt:4,12", "perplexity")[0] == "tbptt:4,12"
    assert pair_prediction(r, "detach", "tbptt:4,12", "recall_accuracy")[0] == "detach"
    same = _section({"detach": [2.1] * 4, "tbptt:10,20": [2.1] * 4})
    assert pair_prediction(same, "detach", "tbptt:10,20", "perplexity")[0] is None


def test_the_significance_sentence_says_when_the_seeds_contradict_the_mechanism():
    agrees = _section({"fresh": [2.30, 2.32, 2.31, 2.33], "detach": [2.10, 2.13, 2.11, 2.12]})
    (line,) = [x for x in significance_lines(agrees, predict=pair_prediction) if x.startswith("- ")]
    assert "`detach` predicted lower" in line and line.endswith(": as predicted.")
    flipped = _section({"fresh": [2.10, 2.13, 2.11, 2.12], "detach": [2.30, 2.32, 2.31, 2.33]})
    (line,) = [
        x for x in significance_lines(flipped, predict=pair_prediction) if x.startswith("- ")
    ]
    assert line.endswith("the opposite of the prediction.")


def test_recall_above_chance_is_expected_only_where_backward_reaches_the_key():
    rec = _section(
        {"detach": [1.5] * 4, "tbptt:4,12": [1.3] * 4},
        reach={"detach": 0.0, "tbptt:4,12": 1.0},
        recall={"detach": [0.24, 0.27, 0.25, 0.26], "tbptt:4,12": [0.9, 0.95, 0.85, 0.97]},
    )
    lines = [x for x in recall_chance_lines(rec) if x.startswith("- ")]
    assert (
        lines[0].startswith("- `detach`")
        and "at chance" in lines[0]
        and lines[0].endswith("as predicted.")
    )
    assert (
        "above chance" in lines[1]
        and "4 of 4 seeds" in lines[1]
        and lines[1].endswith("as predicted.")
    )
    odd = _section(
        {"detach": [1.5] * 4}, reach={"detach": 0.0}, recall={"detach": [0.9, 0.95, 0.85, 0.97]}
    )
    assert [x for x in recall_chance_lines(odd) if x.startswith("- ")][0].endswith(
        "not as predicted."
    )


def test_accuracy_and_bars_sentences_follow_the_data():
    close = _section({"a": [0.81, 0.80, 0.81, 0.80], "detach": [0.80, 0.81, 0.80, 0.81]})
    assert "0 of 1 pairs differ significantly" in accuracy_line(close)[0]
    apart = _section({"fresh": [0.5, 0.51, 0.5, 0.52], "detach": [0.8, 0.81, 0.8, 0.82]})
    assert (
        "1 of 1 pairs" in accuracy_line(apart)[0]
        and "Every pair differs." in accuracy_line(apart)[0]
    )
    above = _section({"detach": [2.1] * 4, "fresh": [2.3] * 4})
    assert bars_line(above)[0].startswith("Every strategy's perplexity stands above its limit")
    low = _section({"detach": [1.2] * 4})
    assert bars_line(low)[0].startswith("`detach` below the limit")


def _batching(seq_ppl: float, win_ppl: float, seq_first: float, win_first: float) -> dict:
    rows = []
    for batching, ppl, first in (
        ("sequential", seq_ppl, seq_first),
        ("windows", win_ppl, win_first),
    ):
        rows.append(
            {
                "batching": batching,
                "batch_size": 50,
                "strategy": "detach",
                "perplexity": ppl,
                "first_target_vs_fresh": first,
                "curve_perplexity": [20.0, ppl],
            }
        )
        rows.append(
            {
                "batching": batching,
                "batch_size": 50,
                "strategy": "fresh",
                "perplexity": ppl,
                "first_target_vs_fresh": 0.0,
                "curve_perplexity": [20.0, ppl],
            }
        )
    return {"rows": rows}


def test_the_batching_sentences_count_the_pairs_and_check_each_first_target():
    good = batching_lines(_batching(2.5, 3.4, -0.1, 0.36))
    assert "lower in 2 of 2 pairs" in good[0]
    assert "Between batch sizes" not in good[0]  # one size: nothing to compare
    two = _batching(2.5, 3.4, -0.1, 0.36)
    two["rows"] += [
        {**r, "batch_size": 48, "perplexity": r["perplexity"] - 0.1} for r in two["rows"]
    ]
    assert (
        "Between batch sizes 50, 48 the same batching and strategy differ by at most 0.100"
        in (batching_lines(two)[0])
    )
    assert all(x.endswith(": as predicted.") for x in good if x.startswith("- "))
    bad = batching_lines(_batching(3.4, 2.5, 0.2, -0.3))
    assert "lower in 0 of 2 pairs" in bad[0]
    assert all(x.endswith("not as predicted.") for x in bad if x.startswith("- "))


def test_the_curve_sentences_count_where_fewer_steps_lie_above():
    learning = _section({"detach": [2.1] * 4, "window:2": [2.7] * 4}, steps={"window:2": 36})
    learning["rows"]["window:2"]["curve_perplexity"] = [21.0, 8.0, 3.0]
    recall = _section(
        {"detach": [1.5] * 4, "tbptt:4,12": [1.3] * 4}, reach={"detach": 0.0, "tbptt:4,12": 1.0}
    )
    recall["rows"]["tbptt:4,12"]["curve_perplexity"] = [3.0, 1.5, 1.2]
    results = {"learning": learning, "recall": recall, "batching": _batching(2.5, 3.4, -0.1, 0.3)}
    text = " ".join(curve_lines(results))
    assert "its curve lies above every such curve at 3 of 3 points" in text
    assert "ends at 1.200, the lowest: as predicted." in text
    assert "in 2 of 2 pairs" in text
    learning["rows"]["window:2"]["curve_perplexity"] = [19.0, 4.0, 1.9]
    recall["rows"]["tbptt:4,12"]["curve_perplexity"] = [3.0, 2.5, 2.4]
    text = " ".join(curve_lines(results))
    assert "at 0 of 3 points" in text and "`detach` ends lower." in text


def test_the_two_tables_detach_times_are_compared_by_their_ranges():
    def t(lo, mid, hi):
        return {"time_per_batch_s": {"min": lo, "median": mid, "max": hi}}

    cost = {"summary": {"detach": t(1.0e-3, 1.2e-3, 1.4e-3)}}
    alike = {"rows": {"detach": t(1.1e-3, 1.3e-3, 1.5e-3)}}
    assert "Their ranges overlap" in between_tables_line(cost, alike)[0]
    loaded = {"rows": {"detach": t(5.0e-3, 6.2e-3, 6.9e-3)}}
    assert "the machine's load changed" in between_tables_line(cost, loaded)[0]
    same = {"rows": {**alike["rows"], "window:1": t(1.0e-3, 1.2e-3, 1.6e-3)}}
    assert "as the same work predicts" in between_tables_line(cost, same)[2]
    noisy = {"rows": {**alike["rows"], "window:1": t(4.0e-3, 7.2e-3, 9.6e-3)}}
    assert "the machine's load, not the work" in between_tables_line(cost, noisy)[2]


def test_the_limit_ratio_sentence_says_which_stands_closer_to_its_own_limit():
    s = _section({"fresh": [2.3] * 4, "detach": [2.1] * 4})
    s["rows"]["fresh"]["limit_perplexity"] = 1.86  # 2.3 / 1.86 = 1.24
    s["rows"]["detach"]["limit_perplexity"] = 1.63  # 2.1 / 1.63 = 1.29
    assert "`fresh` stands closer to its limit" in limit_ratio_line(s)[0]
    s["rows"]["detach"]["limit_perplexity"] = 1.75  # 1.20
    assert "as close to their limit as `fresh` or closer" in limit_ratio_line(s)[0]


def _batching_seeded(seq_ppl, win_ppl, seq_first, win_first, seeds=4, noise=0.01):
    """The batching section over ``seeds`` seeds from ``batching_over_seeds``, on made-up runs:
    per seed the given figures plus a seed-dependent wobble of size ``noise``."""

    def section(config):
        wobble = noise * ((config.seed // 2) % 3 - 1)  # seeds 0, 2, 4, 6: -1, 0, +1, -1
        rows = []
        for batching, ppl, first, sign in (
            ("sequential", seq_ppl, seq_first, 1),
            ("windows", win_ppl, win_first, -1),
        ):
            for spec, d in (("detach", first), ("fresh", 0.0)):
                rows.append(
                    {
                        "batching": batching,
                        "batch_size": 50,
                        "strategy": spec,
                        "perplexity": ppl + sign * wobble * (1 if spec == "detach" else 2),
                        "accuracy": 0.5,
                        "first_target_ce": 2.0 + d + wobble * (1 if spec == "detach" else 3),
                        "first_target_vs_fresh": d - 2 * wobble * (spec == "detach"),
                        "curve_perplexity": [20.0, ppl, config.seed],
                    }
                )
        return {"rows": rows}

    return batching_over_seeds(section, BenchConfig(seed=0, seeds=seeds))


def _bullets(lines):
    return [x for x in lines if x.startswith("- ")]


def test_the_batching_sentences_follow_the_tests_over_seeds_when_the_data_agree():
    bat = _batching_seeded(2.5, 3.4, -0.2, 0.3)
    assert bat["seeds"] == [0, 2, 4, 6]
    row = bat["rows"][0]
    assert len(row["per_seed"]["perplexity"]) == 4 and row["summary"]["perplexity"]["sd"] > 0
    assert row["curve_perplexity"][-1] == 0  # the first seed's curve
    lines = batching_lines(bat)
    assert "paired t-test over the 4 seeds" in lines[0] and "One seed" not in lines[0]
    bullets = _bullets(lines)
    assert len(bullets) == 4  # two batchings tested per strategy, two first targets
    assert all("adjusted p = " in x and x.endswith(": as predicted.") for x in bullets)


def test_the_batching_sentences_say_when_the_seeds_disagree_or_cannot_tell():
    bad = _bullets(batching_lines(_batching_seeded(3.4, 2.5, 0.2, -0.3)))
    seq_win = [x for x in bad if "sequential less windows" in x]
    assert len(seq_win) == 2 and all("the opposite of the prediction" in x for x in seq_win)
    (seq_first,) = [x for x in bad if x.startswith("- sequential, B=50")]
    assert seq_first.endswith("the opposite of the prediction.")
    (win_first,) = [x for x in bad if x.startswith("- windows, B=50")]
    assert win_first.endswith("not as predicted: significantly better.")
    # differences the size of the wobble between seeds: no test can call them
    vague = _bullets(batching_lines(_batching_seeded(3.0, 3.005, -0.003, -0.003, noise=0.05)))
    assert len(vague) == 4
    assert all("cannot confirm it" in x for x in vague if not x.startswith("- windows"))
    (win_first,) = [x for x in vague if x.startswith("- windows")]
    assert win_first.endswith("as predicted, no difference shows over 4 seeds.")


def test_the_batching_sentences_with_one_seed_test_nothing_and_say_so():
    one = _batching_seeded(2.5, 3.4, -0.2, 0.3, seeds=1)
    lines = batching_lines(one)
    assert (
        lines[0].startswith("One seed:") and "no difference can be called significant" in lines[0]
    )
    assert not any("adjusted p" in x for x in lines)
    assert all(x.endswith(": as predicted.") for x in _bullets(lines))
