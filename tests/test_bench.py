"""The strategy benchmark with a tiny configuration: what does not depend on timing."""

from __future__ import annotations

import json

import pytest
import torch

from rnn_autograd.bench import preset, run_bench, write_results
from rnn_autograd.bench.cost import least_squares
from rnn_autograd.bench.learning import _gradient_reach, evaluate_tokens
from rnn_autograd.bench.limits import counting_limit
from rnn_autograd.bench.report import CHARTS, SECTIONS, write_report
from rnn_autograd.bench.tasks import delayed_recall_limit
from rnn_autograd.cli import main
from rnn_autograd.commands.bench import _strategies
from rnn_autograd.pipeline.data import counting_sequence, sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.training import evaluate

WINDOWS = (1, 2, 3)


@pytest.fixture(scope="module")
def results():
    config = preset(
        "tiny",
        quiet=True,
        repeats=1,
        seeds=2,
        strategies=("fresh", "detach", "window:2", "tbptt:10,20"),
        cost_batches=6,
        windows=WINDOWS,
        train_runs=100,
        heldout_runs=80,
        train_epochs=1,
        recall_episodes=120,
        recall_epochs=1,
        recall_strategies=("fresh", "detach", "tbptt:4,12"),
        batching_runs=120,
        batching_sizes=(50, 48),
        batching_epochs=1,
    )
    return run_bench(config)


@pytest.fixture(scope="module")
def outputs(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    write_results(results, out)
    write_report(results, out)
    return out


def test_saved_bytes_of_detach_do_not_grow_with_the_batch_index(results):
    for run in results["cost"]["runs"]["detach"]:
        trace = run["saved_trace"]
        assert len(trace) >= 6
        assert trace == [trace[0]] * len(trace)
        assert trace[0] > 0
    assert results["window_sweep"]["detach_trace_slope_bytes"] == 0


@pytest.mark.parametrize("k", WINDOWS)
def test_saved_bytes_of_window_k_grow_linearly_within_a_window(results, k):
    per_batch = results["window_sweep"]["rows"]["detach"]["saved_peak_bytes"]
    trace = results["window_sweep"]["rows"][f"window:{k}"]["saved_trace"]
    # batch j of a window holds the graphs of batches 0..j: (j + 1) batches' worth, then backward
    assert trace == [(i % k + 1) * per_batch for i in range(len(trace))]


def test_the_window_fit_has_one_batch_of_saved_bytes_per_batch_of_window(results):
    sweep = results["window_sweep"]
    per_batch = sweep["rows"]["detach"]["saved_peak_bytes"]
    assert sweep["fit"]["saved_slope_bytes"] == pytest.approx(per_batch)
    assert sweep["fit"]["saved_intercept_bytes"] == pytest.approx(0, abs=1e-6)
    assert sweep["fit"]["saved_r2"] == pytest.approx(1.0)


def test_fresh_and_detach_save_the_same_bytes_and_tbptt_saves_its_span(results):
    summary = results["cost"]["summary"]
    assert summary["detach"]["saved_peak_bytes"] == summary["fresh"]["saved_peak_bytes"]
    # tbptt:10,20 with num_steps 10 backpropagates through two batches
    assert summary["tbptt:10,20"]["saved_ratio_to_fresh"] == pytest.approx(2.0, rel=0.1)
    assert summary["fresh"]["time_ratio_to_fresh"]["median"] == 1.0


def test_every_learned_perplexity_stands_beside_the_limit_of_its_context(results):
    learn = results["learning"]
    assert learn["limits"]["carried"]["perplexity"] == counting_limit().perplexity
    fresh = counting_limit(context="fresh", num_steps=learn["num_steps"])
    assert learn["limits"]["fresh"]["perplexity"] == fresh.perplexity
    # held-out rows are read from zeros and carried to their end: a fresh context that long
    rows_limit = counting_limit(context="fresh", num_steps=learn["heldout_row_tokens"])
    assert learn["limits"]["heldout_rows"]["perplexity"] == rows_limit.perplexity
    assert counting_limit().perplexity < rows_limit.perplexity < fresh.perplexity
    for name, row in learn["rows"].items():
        context = "fresh" if name == "fresh" else "carried"
        assert row["limit_context"] == context
        key = "fresh" if name == "fresh" else "heldout_rows"
        assert row["limit_perplexity"] == learn["limits"][key]["perplexity"]
        assert row["perplexity"] > 1


def test_the_recall_section_reports_recall_accuracy_beside_its_limits(results):
    rec = results["recall"]
    carried = delayed_recall_limit(rec["delay"], rec["num_keys"], "carried")
    assert rec["limits"]["carried"]["perplexity"] == carried.perplexity
    assert set(rec["rows"]) == {"fresh", "detach", "tbptt:4,12"}
    for row in rec["rows"].values():
        assert 0 <= row["recall_accuracy"] <= 1
    assert rec["rows"]["tbptt:4,12"]["gradient_reach"] == 1.0
    assert rec["rows"]["detach"]["gradient_reach"] == 0.0


def test_the_batching_section_compares_windows_and_sequential_at_each_batch_size(results):
    rows = results["batching"]["rows"]
    seen = {(r["batching"], r["batch_size"], r["strategy"]) for r in rows}
    assert seen == {
        (b, n, s) for b in ("windows", "sequential") for n in (50, 48) for s in ("detach", "fresh")
    }
    carried = {
        r["batch_size"]: r["carried_state_is"]
        for r in rows
        if r["batching"] == "windows" and r["strategy"] == "detach"
    }
    assert "moves by 1 (as a true continuation)" in carried[50]
    assert "moves by 4" in carried[48]
    for r in rows:
        expected = {"fresh": "fresh", "detach": "carried"}[r["strategy"]]
        if r["batching"] == "windows" and r["strategy"] == "detach":
            expected = f"after a gap of {r['batch_size'] - results['batching']['num_steps']}"
        assert r["limit_context"] == expected
        fresh_first = results["batching"]["fresh_first_target_ce"]
        carried = results["batching"]["carried_ce"]
        if r["strategy"] == "fresh":
            assert r["limit_first_target_ce"] == pytest.approx(fresh_first)
            assert r["first_target_vs_fresh"] == 0
        else:  # mostly the true past (or a window pinning the phase); the first batch from zeros
            assert carried < r["limit_first_target_ce"] < fresh_first
    distinct = {r["batching"]: r["distinct_train_tokens"] for r in rows if r["batch_size"] == 50}
    assert distinct["sequential"] > distinct["windows"]


def test_every_batching_row_records_its_training_curve_within_its_token_budget(results):
    for r in results["batching"]["rows"]:
        assert len(r["curve_tokens"]) == len(r["curve_perplexity"]) > 0
        assert r["curve_tokens"] == sorted(r["curve_tokens"])
        assert r["curve_tokens"][-1] <= r["train_tokens"]


def test_the_report_states_the_batching_sections_training_recipe(results, outputs):
    bat = results["batching"]
    report = (outputs / "report.md").read_text()
    assert f"{bat['optimizer']} at learning rate {bat['lr']}," in report
    assert f"for {bat['epochs']} epochs" in report


def test_results_json_holds_every_section_and_the_machine(outputs):
    data = json.loads((outputs / "results.json").read_text())
    for key in (
        "config",
        "machine",
        "cost",
        "window_sweep",
        "learning",
        "recall",
        "batching",
        "wall_s",
    ):
        assert key in data
    for key in ("platform", "cpu_count", "torch", "python", "torch_threads"):
        assert key in data["machine"]


def test_the_report_has_every_section_and_the_charts_are_pngs(outputs):
    report = (outputs / "report.md").read_text()
    positions = [report.index(f"## {title}") for title in SECTIONS]
    assert positions == sorted(positions)
    for chart in CHARTS:
        assert f"]({chart})" in report
        assert (outputs / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("carry", [True, False], ids=["carried", "fresh"])
def test_the_benchmark_evaluation_gives_the_trainers_perplexity_and_accuracy(carry):
    torch.manual_seed(0)
    model = RNNModel(20, 16)
    batches = sequential_batches(counting_sequence(num_runs=200, seed=3), 8, 10)
    ours = evaluate_tokens(model, batches, carry)
    ppl, acc = evaluate(model, batches, "cpu", carry_state=carry)
    assert ours["perplexity"] == pytest.approx(ppl, rel=1e-6)
    assert ours["accuracy"] == pytest.approx(acc)
    assert sum(ours["per_position_ce"]) / 10 == pytest.approx(ours["cross_entropy_nats"])


def test_least_squares_recovers_an_exact_line():
    slope, intercept, r2 = least_squares([1, 2, 4, 8], [5, 7, 11, 19])
    assert (slope, intercept, r2) == pytest.approx((2.0, 3.0, 1.0))


@pytest.mark.parametrize(
    ("spec", "reach"),
    [("fresh", 0.0), ("detach", 0.0), ("window:4", 0.625), ("tbptt:4,8", 0.5), ("tbptt:4,12", 1.0)],
)
def test_the_share_of_recalls_whose_backward_reaches_the_key(spec, reach):
    assert _gradient_reach(spec, delay=6, num_steps=4) == pytest.approx(reach)


def test_a_tbptt_spec_keeps_its_comma_inside_the_strategy_list():
    assert _strategies("detach, fresh,window:4,tbptt:10,20") == (
        "detach",
        "fresh",
        "window:4",
        "tbptt:10,20",
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--strategies", "sometimes"], "unknown strategy 'sometimes'"),
        (["--strategies", "carry"], "'carry' fails on its second batch"),
        (["--strategies", "tbptt:7,14"], "multiples of num_steps"),
        (["--repeats", "0"], "argument --repeats: expected a whole number >= 1"),
        (["--data", "no/such/file.txt"], "no such file"),
        (["--device", "tpu"], "--device must be cpu or cuda"),
    ],
    ids=["unknown-strategy", "carry", "tbptt-steps", "repeats", "data", "device"],
)
def test_a_bad_argument_is_one_line_on_stderr_and_exit_status_2(argv, fragment, tmp_path, capsys):
    try:
        code = main(["bench", "--quick", "--quiet", "--out", str(tmp_path), *argv])
    except SystemExit as exc:  # a bad number is argparse's error, raised from parse_args
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1
    assert not (tmp_path / "results.json").exists()


def test_the_learning_sections_run_once_per_seed_and_report_mean_and_tests(results, outputs):
    for key in ("learning", "recall"):
        section = results[key]
        assert section["seeds"] == [0, 2]
        for row in section["rows"].values():
            values = row["per_seed"]["perplexity"]
            assert len(values) == 2
            assert row["perplexity"] == pytest.approx(sum(values) / 2)
        assert section["comparisons"]["perplexity"]
    report = (outputs / "report.md").read_text(encoding="utf-8")
    assert "paired t-test over the 2 seeds" in report
    assert " ± " in report


def test_the_batching_section_runs_once_per_seed_and_reports_mean_sd_and_tests(results, outputs):
    bat = results["batching"]
    assert bat["seeds"] == [0, 2]
    for row in bat["rows"]:
        values = row["per_seed"]["perplexity"]
        assert len(values) == 2 and row["perplexity"] == pytest.approx(sum(values) / 2)
        assert row["summary"]["first_target_ce"]["sd"] is not None
    # sequential against windows at each size and strategy; carried against fresh at each
    assert len(bat["comparisons"]["perplexity"]) == 4
    assert len(bat["comparisons"]["first_target_ce"]) == 2 * 2
    report = (outputs / "report.md").read_text(encoding="utf-8")
    section = report[report.index(f"## {SECTIONS[4]}") : report.index(f"## {SECTIONS[5]}")]
    assert "Every row trained once per seed (2 seeds: 0, 2;" in section
    assert "paired t-test over the 2 seeds" in section and "One seed" not in section
    assert section.count("95% interval over 2 seeds; adjusted p = ") == 8
    assert "\u00a0±\u00a0" in section  # mean ± sd in the tables


def _legend_overlaps_axes(fig) -> list[str]:
    """The titles of axes whose legend covers part of the axes' data area."""
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None and legend.get_window_extent(renderer).overlaps(
            ax.get_window_extent(renderer)
        ):
            out.append(ax.get_title())
    return out


def test_the_legend_check_catches_a_legend_drawn_over_the_data():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title("inside")
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="upper left")
    fig.canvas.draw()
    assert _legend_overlaps_axes(fig) == ["inside"]


def test_every_legend_stands_outside_its_axes_in_the_axis_labels_size(results):
    from rnn_autograd.bench.charts import figures

    for name, fig in figures(results).items():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert _legend_overlaps_axes(fig) == [], name
        for ax in fig.axes:
            legend = ax.get_legend()
            assert legend is not None, (name, ax.get_title())
            box = legend.get_window_extent(renderer)
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, (name, "legend cut off")
            assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, (name, "legend cut off")
            sizes = {t.get_fontsize() for t in legend.get_texts()}
            assert min(sizes) >= ax.xaxis.label.get_fontsize(), (name, sizes)


def test_every_strategy_has_one_colour_in_every_chart(results):
    from matplotlib.colors import to_hex

    from rnn_autograd.bench.charts import figures, strategy_colours

    expected = strategy_colours(results)
    seen: dict[str, set[str]] = {}
    for fig in figures(results).values():
        for artist in fig.findobj(lambda a: a.get_gid() in expected):
            get = getattr(artist, "get_color", None) or artist.get_facecolor
            seen.setdefault(artist.get_gid(), set()).add(to_hex(get()))
    assert set(seen) == set(expected)  # every strategy of the run is drawn somewhere
    assert seen == {name: {to_hex(c)} for name, c in expected.items()}
    assert len(set(expected.values())) == len(expected)  # and no two share a colour
