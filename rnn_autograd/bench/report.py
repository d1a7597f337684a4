"""The strategy benchmark's report: ``report.md`` (tables) and PNG charts, from a results dict.

Everything here reads the dict that ``rnn_autograd.bench.run_bench`` returns (and writes as
``results.json``); nothing is measured here, and no number is typed in by hand. The charts are
drawn by ``rnn_autograd.bench.charts``.
"""

from __future__ import annotations

from pathlib import Path

from .charts import CHARTS, write_charts
from .markdown import table as _table
from .report_learning import _mean_sd, learn_section, recall_section
from .report_significance import time_ratio_lines, window_slope_lines
from .trends_cost import between_tables_line, process_lines, saved_lines, window_lines
from .trends_learning import batching_lines

__all__ = ["CHARTS", "SECTIONS", "render_report", "write_report"]

#: The report's section titles, in order (the tests check that each is present).
SECTIONS = (
    "Cost per batch",
    "Cost against the window",
    "What each strategy learns",
    "A dependency longer than num_steps",
    "Overlapping windows against sequential partitioning",
    "How to read these figures",
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _kib(nbytes: float | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 1024:.1f}"


def _spread(stats: dict, fmt=lambda v: f"{v:.2f}") -> str:
    # no-break spaces: a cell's figure and its range stay on one line
    return f"{fmt(stats['median'])}\u00a0[{fmt(stats['min'])},\u00a0{fmt(stats['max'])}]"


def _cost_section(results: dict) -> list[str]:
    cost = results["cost"]
    num_steps = results["config"]["num_steps"]
    out = [
        f"## {SECTIONS[0]}",
        "",
        f"{cost['batches']} batches per strategy and repeat, {cost['repeats']} repeats, "
        "strategies interleaved within each repeat (order rotated) so that drift of the machine "
        "hits all alike. A run's time per batch is the median over its optimizer periods (the "
        "first skipped); the table gives the median [min, max] over repeats, ratios taken within "
        "a repeat (tokens per second are the inverse ratio; every process figure is in "
        "`results.json`).",
        "",
    ]
    rows = [
        [
            f"`{name}`",
            _spread(s["time_per_batch_s"], _ms),
            _spread(s["time_ratio_to_fresh"]),
            _kib(s["saved_peak_bytes"]),
            f"{s['saved_ratio_to_fresh']:.2f}",
        ]
        for name, s in cost["summary"].items()
    ]
    out += _table(
        ["strategy", "ms / batch", "time / fresh", "saved peak (KiB)", "saved / fresh"], rows
    )
    out += time_ratio_lines(cost, num_steps=num_steps)
    out += saved_lines(cost, num_steps)
    out += process_lines(cost)
    return out


def _window_section(results: dict) -> list[str]:
    sweep = results["window_sweep"]
    fit = sweep["fit"]
    out = [f"## {SECTIONS[1]}", ""]
    rows = [
        [
            f"`{name}`",
            str(r["window"]),
            _spread(r["time_per_batch_s"], _ms),
            _kib(r["saved_peak_bytes"]),
        ]
        for name, r in sweep["rows"].items()
    ]
    out += _table(["strategy", "window (batches)", "ms / batch", "saved peak (KiB)"], rows)
    out += between_tables_line(results["cost"], sweep)
    out += [
        f"Least-squares fit over `window:K`: saved peak = {fit['saved_intercept_bytes'] / 1024:.1f} KiB "
        f"+ **{fit['saved_slope_bytes'] / 1024:.1f} KiB per batch of window** "
        f"(R² = {fit['saved_r2']:.4f}); time per batch = {_ms(fit['time_intercept_s'])} ms "
        f"{'-' if fit['time_slope_s'] < 0 else '+'} {_ms(abs(fit['time_slope_s']))} ms per "
        "batch of window.",
        "",
        f"Saved bytes against the batch index, least-squares slope: `detach` "
        f"**{sweep['detach_trace_slope_bytes']:.1f} bytes per batch**, `window:{sweep['trace_window']}` "
        f"within a window **{sweep['window_trace_slope_bytes'] / 1024:.1f} KiB per batch**.",
        "",
        *window_lines(sweep, "saved"),
        "Time: a window runs each batch's forward when the batch arrives and backpropagates "
        "through every batch's graph once, at its end, as `detach` does after each batch; what "
        "it does *less* often is what happens once per backward: the call into the autograd "
        "engine, clipping, the optimizer step and `zero_grad`, once per K batches. The "
        "mechanism therefore predicts time per batch = the same forward and backward + those "
        "fixed costs / K: falling as the window grows, by at most the fixed costs of one step. "
        "Whether this run shows it:",
        "",
        *window_lines(sweep, "time"),
        *window_slope_lines(sweep),
        "![cost against window](cost_vs_window.png)",
        "",
    ]
    return out


def _batching_section(results: dict) -> list[str]:
    bat = results["batching"]
    decay = "" if bat["lr_decay"] == 1 else f" times {bat['lr_decay']} per epoch"
    out = [
        f"## {SECTIONS[4]}",
        "",
        f"The counting sequence, num_steps {bat['num_steps']}, the same number of batches of "
        "the same shape for both batchings (overlapping windows therefore see fewer distinct "
        "tokens: B + T - 1 new ones per batch instead of B * T). The first target of a window "
        "is where a carried state matters most; *against fresh* is its cross-entropy less that "
        "of `fresh` in the same batching (negative: the carried state helps). With the notebook's overlapping windows, row r of "
        "batch b+1 starts batch_size tokens after row r of batch b, so the state carried into "
        "it was computed on a window that ended batch_size - num_steps tokens before the new "
        "one begins: it is the state of another place in the sequence. With sequential "
        "partitioning the carried state is exactly the past of the row.",
        "",
        "Each limit is exact for the row's context: `fresh` (zeros), `carried` (the true past) "
        "or `after a gap of G` (the Bayes predictor given the earlier window, knowing the gap; "
        "`rnn_autograd.bench.limits.gap_limit`). A trained RNN applies the same recurrence at the "
        "jump between windows as between two neighbouring tokens, so it can use that state only "
        "as far as the jump resembles a step.",
        "",
        f"Every row trains from the same seeded weights with {bat['optimizer']} at learning rate "
        f"{bat['lr']}{decay}, gradients clipped at norm {bat['clip']}, for {bat['epochs']} "
        "epochs; the training curves are the third panel of the learning curves chart.",
        "",
        _batching_seeds_line(bat),
        "",
    ]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731 - local formatter
    # Three narrow tables rather than one of eleven columns, which ran past a page's column.
    key = ["batching", "batch size", "strategy"]

    def keyed(r: dict) -> list[str]:
        return [r["batching"], str(r["batch_size"]), f"`{r['strategy']}`"]

    out += _table(
        [*key, "held-out perplexity", "its limit", "ppl / limit"],
        [
            [
                *keyed(r),
                _mean_sd(r, "perplexity"),
                f"{fmt(r['limit_perplexity'])} ({r['limit_context']})",
                fmt(r["limit_perplexity"] and r["perplexity"] / r["limit_perplexity"]),
            ]
            for r in bat["rows"]
        ],
    )
    out += _table(
        [*key, "CE at first target (nats)", "its limit", "against fresh"],
        [
            [
                *keyed(r),
                _mean_sd(r, "first_target_ce"),
                fmt(r["limit_first_target_ce"]),
                _signed(r),
            ]
            for r in bat["rows"]
        ],
    )
    out += _table(
        [*key, "distinct training tokens", "what a carried state carries"],
        [[*keyed(r), str(r["distinct_train_tokens"]), r["carried_state_is"]] for r in bat["rows"]],
    )
    out += [
        f"The first target of a window has one token of context without a carried state: "
        f"its exact limit is {bat['fresh_first_target_ce']:.3f} nats; with the true past "
        f"carried it is {bat['carried_ce']:.3f} nats.",
        "",
        *batching_lines(bat),
    ]
    return out


def _signed(row: dict) -> str:
    # the first target against fresh, signed, with its sd over seeds where there are several
    d = row["first_target_vs_fresh"]
    if d is None:
        return ""
    sd = row.get("summary", {}).get("first_target_vs_fresh", {}).get("sd")
    return f"{d:+.3f}" if sd is None else f"{d:+.3f}\u00a0±\u00a0{sd:.3f}"


def _batching_seeds_line(bat: dict) -> str:
    seeds = bat.get("seeds", [])
    if len(seeds) < 2:
        return (
            "One seed: the figures are one run's, and no difference can be called significant "
            "(run the benchmark with `--seeds 3` or more)."
        )
    return (
        f"Every row trained once per seed ({len(seeds)} seeds: {', '.join(map(str, seeds))}; "
        "the seed sets the initial weights and draws the training and held-out data), every "
        "row of one seed from the same weights; the rows of one batching share its batches. "
        "The tables give the mean ± the sample standard deviation over seeds; the ratio to "
        "the limit is that of the mean; the learning curves are the first seed's."
    )


def _reading_section(results: dict) -> list[str]:
    return [
        f"## {SECTIONS[5]}",
        "",
        "- Perplexity is `exp` of the mean cross-entropy (natural log) over every predicted "
        "token, as the trainer computes it; accuracy is the fraction of targets equal to the "
        "argmax of the logits. The limits (`rnn_autograd.bench.limits`) are the same two figures for "
        "the Bayes-optimal predictor, computed exactly with a hidden Markov filter: no model "
        "can beat them in expectation (a finite held-out set can by sampling noise).",
        "- `carried` limit: the predictor has seen the whole past. `fresh` limit: its context "
        "starts again every num_steps tokens (target k of a window sees k tokens).",
        "- Saved bytes count the storages of tensors saved for backward "
        "(`rnn_autograd.diagnose.memory.SavedTensorMeter`), parameters excluded: the same on every "
        "machine for one torch version. Times and process peaks depend on the machine; read "
        "them as ratios. The process peak is reset before each run where Linux allows it "
        "(`/proc/self/clear_refs`); its growth during the run is what the run added to the "
        "resident size (it includes allocator caching, so it is coarser than saved bytes).",
        "",
    ]


def render_report(results: dict) -> str:
    """The markdown report for a results dict."""
    m = results["machine"]
    head = [
        "# Hidden-state strategies between batches: cost and what they learn",
        "",
        f"Preset `{results['config']['preset']}`, run in {results['wall_s']:.1f} s on "
        f"{m['platform']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads), "
        f"torch {m['torch']}, Python {m['python']}. Model: {results['config']['cell']} with "
        f"{results['config']['num_hiddens']} hidden units. Every figure below is in "
        "`results.json`.",
        "",
    ]
    body = (
        _cost_section(results)
        + _window_section(results)
        + learn_section(results, SECTIONS[2])
        + recall_section(results, SECTIONS[3])
        + _batching_section(results)
        + _reading_section(results)
    )
    return "\n".join(head + body)


def write_report(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md`` and the charts into ``out_dir``; returns the paths by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "report.md"
    report.write_text(render_report(results) + "\n", encoding="utf-8")
    paths = {"report.md": report}
    for p in write_charts(results, out_dir):
        paths[p.name] = p
    return paths
