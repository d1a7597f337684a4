"""The report's statements about time: which strategies' time per batch differs from fresh's,
and whether time per batch rises or falls with the window. Both are t-tests over the repeats
(each repeat measures every strategy, interleaved), computed by ``rnn_autograd.bench.stats``;
the sentences say "significant" only where the test does.
"""

from __future__ import annotations

import math

from .cost import least_squares
from .report_learning import _dof
from .stats import holm, paired_t
from .trends_cost import time_prediction

__all__ = ["time_ratio_lines", "window_slope_lines"]


def time_ratio_lines(cost: dict, alpha: float = 0.05, num_steps: int | None = None) -> list[str]:
    """Whether each strategy's time per batch differs from ``fresh``'s: a t-test over repeats.

    Each repeat gives a ratio to ``fresh`` measured within it; the test is of the mean log
    ratio against zero (a paired t-test of log times, repeats pairing), Holm-adjusted over the
    strategies; the ratio shown is the geometric mean, with its 95% t interval. With
    ``num_steps``, each line adds what the strategy's work per batch predicts.
    """
    named = {n: s["time_ratio_to_fresh"]["values"] for n, s in cost["summary"].items()}
    named = {n: v for n, v in named.items() if n != "fresh"}
    n = cost["repeats"]
    if n < 2 or not named:
        return ["One repeat: no difference in time can be called significant.", ""]
    tests = {k: paired_t([math.log(x) for x in v], [0.0] * len(v)) for k, v in named.items()}
    done = {k: t for k, t in tests.items() if t["p"] is not None}
    adjusted = dict(zip(done, holm([t["p"] for t in done.values()]), strict=True))
    out = [
        f"Time against `fresh`, over the {n} repeats: a t-test of the log of each repeat's ratio "
        f"against zero ({_dof(n - 1)}, two-sided), Holm-adjusted over the "
        f"strategies, significant where the adjusted p < {alpha}; the ratio is the geometric "
        "mean with its 95% interval.",
        "",
    ]
    for name, t in tests.items():
        ratio = math.exp(t["diff"])
        span = f"[{math.exp(t['diff'] - t['ci95']):.2f}, {math.exp(t['diff'] + t['ci95']):.2f}]"
        p = adjusted.get(name)
        if p is not None and p < alpha:
            verdict = f"**{'slower' if ratio > 1 else 'faster'}** than `fresh`, significant"
        else:
            verdict = f"not distinguishable from `fresh` over {n} repeats"
        shown = "n/a" if p is None else f"{p:.3g}"
        why = ""
        if num_steps is not None and t["ci95"] is not None:
            lo, hi = math.exp(t["diff"] - t["ci95"]), math.exp(t["diff"] + t["ci95"])
            why = "; " + time_prediction(name, num_steps, lo, hi)
        out.append(f"- `{name}`: × {ratio:.2f} {span} (adjusted p = {shown}): {verdict}{why}.")
    return out + [""]


def window_slope_lines(sweep: dict, alpha: float = 0.05) -> list[str]:
    """The slope of time per batch against the window K, fitted in each repeat, tested over the
    repeats against zero (one-sample t-test, two-sided)."""
    rows = [r for n, r in sweep["rows"].items() if n.startswith("window:")]
    ks = [r["window"] for r in rows]
    per_repeat = list(zip(*(r["time_per_batch_s"]["values"] for r in rows), strict=True))
    slopes = [least_squares(ks, list(times))[0] for times in per_repeat]
    n = len(slopes)
    if n < 2 or len(set(ks)) < 2:
        return [
            "One repeat: no trend of time per batch with the window can be called significant.",
            "",
        ]
    t = paired_t(slopes, [0.0] * n)
    ms = lambda v: f"{v * 1e3:.3f}"  # noqa: E731 - local formatter
    if t["p"] is not None and t["p"] < alpha:
        verdict = f"time per batch **{'rises' if t['diff'] > 0 else 'falls'}** with the window here, significantly"
    else:
        verdict = f"no trend distinguishable from flat over {n} repeats"
    return [
        f"Slope of time per batch against K, fitted in each of the {n} repeats: "
        f"{ms(t['diff'])} ± {ms(t['ci95'])} ms per batch of window (mean and 95% t interval; "
        f"t-test against zero, {_dof(n - 1)}, p = {t['p']:.3g}): {verdict}.",
        "",
    ]
