"""The strategy benchmark's PNG charts, drawn from a results dict.

matplotlib's object interface (``Figure`` with the Agg canvas) is used, so no global pyplot
state or display is touched: the docs build and the tests can draw them anywhere.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHARTS", "write_charts"]

CHARTS = ("cost_vs_window.png", "perplexity_vs_limit.png", "learning_curves.png")


def strategy_colours(results: dict) -> dict[str, str]:
    """One colour per strategy name, the same in every chart of ``results``.

    Every strategy any section ran, in sorted order, takes the next colour of matplotlib's
    ten-colour cycle (a row named ``sequential B=32 detach`` is coloured by its strategy).
    """
    names = set(results["window_sweep"]["rows"])
    for key in ("learning", "recall"):
        names |= set(results[key]["rows"])
    names |= {r["strategy"] for r in results["batching"]["rows"]}
    palette = [
        f"tab:{c}"
        for c in [
            "blue",
            "orange",
            "green",
            "red",
            "purple",
            "brown",
            "pink",
            "gray",
            "olive",
            "cyan",
        ]
    ]
    return {name: palette[i % len(palette)] for i, name in enumerate(sorted(names))}


def write_charts(results: dict, out_dir: Path) -> list[Path]:
    """The three PNG charts; returns their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import ScalarFormatter

    out_dir = Path(out_dir)
    paths = []
    colour = strategy_colours(results)

    def save(fig: Figure, name: str) -> None:
        FigureCanvasAgg(fig)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        paths.append(out_dir / name)

    sweep = results["window_sweep"]
    windows = {n: r for n, r in sweep["rows"].items() if n.startswith("window:")}
    ks = [r["window"] for r in windows.values()]
    detach = sweep["rows"]["detach"]
    fit = sweep["fit"]
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(ks, [r["saved_peak_bytes"] / 1024 for r in windows.values()], "o-", label="window:K")
    ax1.plot(
        ks,
        [(fit["saved_intercept_bytes"] + fit["saved_slope_bytes"] * k) / 1024 for k in ks],
        "k:",
        label="least-squares fit",
    )
    ax1.axhline(detach["saved_peak_bytes"] / 1024, color=colour["detach"], ls="--", label="detach")
    ax1.set(xlabel="window K (batches)", ylabel="saved peak (KiB)", title="Saved for backward")
    ax1.legend()
    ax2.plot(
        ks,
        [r["time_per_batch_s"]["median"] * 1e3 for r in windows.values()],
        "o-",
        label="window:K",
    )
    ax2.axhline(
        detach["time_per_batch_s"]["median"] * 1e3, color=colour["detach"], ls="--", label="detach"
    )
    ax2.set(xlabel="window K (batches)", ylabel="ms per batch (median)", title="Time per batch")
    ax2.set_ylim(bottom=0)
    ax2.legend()
    save(fig, CHARTS[0])

    fig = Figure(figsize=(10, 4.6))
    axes = fig.subplots(1, 2)
    for ax, key, title in (
        (axes[0], "learning", "Counting sequence"),
        (axes[1], "recall", "Delayed recall"),
    ):
        rows = results[key]["rows"]
        names = list(rows)
        xs = range(len(names))
        ax.bar(
            xs,
            [rows[n]["perplexity"] for n in names],
            # the spread over seeds (sample standard deviation), where there are several
            yerr=[
                (rows[n].get("summary", {}).get("perplexity") or {}).get("sd") or 0 for n in names
            ],
            capsize=4,
            color=[colour.get(n, "tab:gray") for n in names],
        )
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
        # below the strategy names: inside the axes it covered a bar, which reach the bottom
        # a grey patch for the bars: each bar has its strategy's colour, none stands for all
        handles, _ = ax.get_legend_handles_labels()
        bars = Patch(facecolor="lightgray", edgecolor="k", label="held-out (mean ± sd over seeds)")
        ax.legend(
            handles=[bars, *handles],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.3),
            ncol=2,
            fontsize=9,
        )
    save(fig, CHARTS[1])

    # One panel under the other, the width of a page's column: side by side at 15 inches, the
    # legends were shrunk to a few pixels on the page.
    fig = Figure(figsize=(7.5, 12))
    axes = fig.subplots(3, 1)
    bat = results["batching"]
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
                color=colour.get(strategy, "tab:gray"),
                label=name,
            )
        for ctx, style in (("carried", "--"), ("fresh", ":")):
            if sec["limits"]:  # none for a text file
                limit = sec["limits"][ctx]["perplexity"]
                ax.axhline(limit, ls=style, color="k", lw=1, label=f"{ctx} limit")
        ax.set(xlabel="training tokens", ylabel="training perplexity", title=title, yscale="log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.legend(fontsize=9, loc="upper right")
    save(fig, CHARTS[2])
    return paths
