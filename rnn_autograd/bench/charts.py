"""The strategy benchmark's PNG charts, drawn from a results dict.

matplotlib's object interface (``Figure`` with the Agg canvas) is used, so no global pyplot
state or display is touched: the docs build and the tests can draw them anywhere. Every legend
stands outside its axes (below them), where it cannot cover a curve or a bar, in the axis
labels' font size; every artist drawn for a strategy has that strategy's colour (its ``gid`` is
the strategy's name, so that a test can find it).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHARTS", "figures", "strategy_colours", "write_charts"]

CHARTS = ("cost_vs_window.png", "perplexity_vs_limit.png", "learning_curves.png")
_PALETTE = [
    f"tab:{c}"
    for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")
]
LEGEND_FONT = 10  # matplotlib's axis labels are 10 pt ("medium"): the legend is no smaller


def strategy_colours(results: dict) -> dict[str, str]:
    """One colour per strategy name, the same in every chart of ``results``.

    Every strategy any section ran, in sorted order, takes the next colour of matplotlib's
    ten-colour cycle (a row named ``sequential B=32 detach`` is coloured by its strategy).
    """
    names = set(results["window_sweep"]["rows"])
    for key in ("learning", "recall"):
        names |= set(results[key]["rows"])
    names |= {r["strategy"] for r in results["batching"]["rows"]}
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(names))}


def _legend_below(ax, ncol: int, handles=None, gap: float = 0.14) -> None:
    """The legend under the axes' x-axis label: outside the data area, nothing covered."""
    kw = {"handles": handles} if handles is not None else {}
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -gap),
        ncol=ncol,
        fontsize=LEGEND_FONT,
        frameon=False,
        **kw,
    )


def _cost_figure(results: dict, colour: dict):
    from matplotlib.figure import Figure

    sweep = results["window_sweep"]
    windows = {n: r for n, r in sweep["rows"].items() if n.startswith("window:")}
    ks = [r["window"] for r in windows.values()]
    detach = sweep["rows"]["detach"]
    fit = sweep["fit"]
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for ax, y, spread in (
        (ax1, lambda r: r["saved_peak_bytes"] / 1024, None),
        (ax2, lambda r: r["time_per_batch_s"]["median"] * 1e3, "time_per_batch_s"),
    ):
        ys = [y(r) for r in windows.values()]
        ax.plot(ks, ys, "-", color="0.6", zorder=1)  # joins the windows' points, no strategy
        for (name, r), k, v in zip(windows.items(), ks, ys, strict=True):
            err = None
            if spread:  # the range over repeats, min to max
                s = r[spread]
                err = [[v - s["min"] * 1e3], [s["max"] * 1e3 - v]]
            ax.errorbar(
                [k],
                [v],
                yerr=err,
                fmt="o",
                ms=7,
                capsize=4,
                color=colour[name],
                label=name,
                gid=name,
                zorder=2,
            )
        ax.axhline(y(detach), color=colour["detach"], ls="--", label="detach", gid="detach")
        ax.set_xticks(ks)
    ax1.plot(
        ks,
        [(fit["saved_intercept_bytes"] + fit["saved_slope_bytes"] * k) / 1024 for k in ks],
        "k:",
        label="least-squares fit",
    )
    ax1.set(xlabel="window K (batches)", ylabel="saved peak (KiB)", title="Saved for backward")
    ax2.set(
        xlabel="window K (batches)",
        ylabel="ms per batch (median, bars: range)",
        title="Time per batch",
    )
    ax2.set_ylim(bottom=0)
    _legend_below(ax1, ncol=3)
    _legend_below(ax2, ncol=3)
    return fig


def _perplexity_figure(results: dict, colour: dict):
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(10, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, title in (
        (axes[0], "learning", "Counting sequence"),
        (axes[1], "recall", "Delayed recall"),
    ):
        rows = results[key]["rows"]
        names = list(rows)
        xs = range(len(names))
        bars = ax.bar(
            xs,
            [rows[n]["perplexity"] for n in names],
            # the spread over seeds (sample standard deviation), where there are several
            yerr=[
                (rows[n].get("summary", {}).get("perplexity") or {}).get("sd") or 0 for n in names
            ],
            capsize=4,
            color=[colour[n] for n in names],
        )
        for bar, n in zip(bars, names, strict=True):
            bar.set_gid(n)
        ax.scatter(
            xs,
            # NaN is not drawn: a text file has no known limit
            [rows[n]["limit_perplexity"] or float("nan") for n in names],
            color="k",
            marker="_",
            s=600,
            zorder=3,
            label="its limit",
        )
        ax.set_xticks(list(xs), names, rotation=30, ha="right")
        ax.set(ylabel="perplexity", title=title)
        ax.set_ylim(bottom=1)
        # a grey patch for the bars: each bar has its strategy's colour, none stands for all
        handles, _ = ax.get_legend_handles_labels()
        patch = Patch(facecolor="lightgray", edgecolor="k", label="held-out, mean ± sd")
        _legend_below(ax, ncol=2, handles=[patch, *handles], gap=0.22)
    return fig


def _curves_figure(results: dict, colour: dict):
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    # One panel under the other, the width of a page's column: side by side at 15 inches, the
    # legends were shrunk to a few pixels on the page.
    fig = Figure(figsize=(7.5, 15), layout="constrained")
    axes = fig.subplots(3, 1)
    bat = results["batching"]
    sizes = list(dict.fromkeys(r["batch_size"] for r in bat["rows"]))
    markers = dict(zip(sizes, "os^vD", strict=False))  # one marker per batch size
    # the batching rows (always on the counting sequence), named by batching, size, strategy
    batching = {
        "limits": bat["limits"],
        "rows": {f"{r['batching']} B={r['batch_size']} {r['strategy']}": r for r in bat["rows"]},
    }
    for ax, sec, title in (
        (axes[0], results["learning"], "Counting sequence"),
        (axes[1], results["recall"], "Delayed recall"),
        (axes[2], batching, f"Batching (num_steps {bat['num_steps']})"),
    ):
        for name, r in sec["rows"].items():
            strategy = r.get("strategy", name)
            dashes = "-" if r.get("batching", "sequential") == "sequential" else "-."
            ax.plot(
                r["curve_tokens"],
                r["curve_perplexity"],
                dashes,
                color=colour[strategy],
                marker=markers.get(r.get("batch_size")) if "batching" in r else None,
                markevery=4,
                label=name,
                gid=strategy,
            )
        for ctx, style in (("carried", "--"), ("fresh", ":")):
            if sec["limits"]:  # none for a text file
                limit = sec["limits"][ctx]["perplexity"]
                ax.axhline(limit, ls=style, color="k", lw=1, label=f"{ctx} limit")
        ax.set(xlabel="training tokens", ylabel="training perplexity", title=title)
        values = [v for r in sec["rows"].values() for v in r["curve_perplexity"]]
        if values and max(values) > 4 * min(values):  # a log axis where the curves span a lot
            ax.set_yscale("log")
            # labelled ticks at 1, 2, 3, 5 x 10^n, the rest unlabelled: a label on every minor
            # tick was most of the chart's drawing time, and unreadable
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        _legend_below(ax, ncol=2 if len(sec["rows"]) > 4 else 3, gap=0.2)
    return fig


def figures(results: dict) -> dict[str, object]:
    """The charts as matplotlib ``Figure`` objects (drawn on an Agg canvas), by file name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    colour = strategy_colours(results)
    out = {}
    for name, draw in zip(CHARTS, (_cost_figure, _perplexity_figure, _curves_figure), strict=True):
        fig = draw(results, colour)
        FigureCanvasAgg(fig)
        out[name] = fig
    return out


def write_charts(results: dict, out_dir: Path) -> list[Path]:
    """The three PNG charts; returns their paths."""
    out_dir = Path(out_dir)
    paths = []
    for name, fig in figures(results).items():
        fig.savefig(out_dir / name, dpi=110)
        paths.append(out_dir / name)
    return paths
