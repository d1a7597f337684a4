"""The report's explanations of the cost sections: what the mechanism predicts, checked.

Every sentence here that states a direction (one strategy below another, time falling with the
window, bytes growing with it) is generated from the measured figures of the same run, beside
what the mechanism predicts: where the data disagree the sentence says so, or says that the
run cannot tell. The mechanism, from ``rnn_autograd.pipeline.state`` and ``training``:

* ``fresh``, ``detach`` and ``window:K`` run each batch's forward once with a graph and
  backward through it once: the first two after every batch, a window once per K batches
  (through all K batches' graphs, kept alive until then); ``tbptt:K1,K2`` advances without a
  graph and, every K1 steps, runs the last K2 steps again from the state that entered them and
  backpropagates through them (``tests/test_bench_trends.py`` counts these forwards);
* the trainer clips, steps the optimizer and clears the gradients once per backward;
* ``fresh`` starts every batch from zeros; the others carry the state, detached.
"""

from __future__ import annotations

from ..pipeline.state import TBPTT, Window, parse_strategy
from .stats import paired_t

__all__ = [
    "between_tables_line",
    "process_lines",
    "saved_lines",
    "time_prediction",
    "window_lines",
    "work_per_batch",
]


def work_per_batch(spec: str, num_steps: int) -> dict:
    """Per batch trained: batches run forward and backward with a graph (``graph``), optimizer
    steps (``steps``), and the batches of graph alive at the peak (``saved``)."""
    s = parse_strategy(spec)
    if isinstance(s, Window):
        return {"graph": 1.0, "steps": 1 / s.k, "saved": s.k}
    if isinstance(s, TBPTT):
        b1, b2 = s.k1 // num_steps, s.k2 // num_steps
        return {"graph": b2 / b1, "steps": 1 / b1, "saved": b2}
    return {"graph": 1.0, "steps": 1.0, "saved": 1}


def time_prediction(spec: str, num_steps: int, low: float, high: float) -> str:
    """What the work per batch predicts for a strategy's time against ``fresh``, and whether the
    measured 95% interval ``[low, high]`` of the ratio agrees."""
    w = work_per_batch(spec, num_steps)
    if w["graph"] > 1:
        # (graph x work + steps x step) / (work + step), plus forwards without a graph between
        # updates: between x 1 (a step costs all) and x graph (forward and backward cost all)
        top = w["graph"] + 1 - w["steps"]
        expected = (1.0 if w["steps"] == 1 else 0.0, top)
        why = (
            f"it runs forward and backward through {w['graph']:g} batches for every batch it "
            f"trains, so its work predicts up to × {top:g}, near it where forward and backward "
            "outweigh the step"
        )
    elif w["steps"] < 1:
        why = (
            f"the same forward and backward per batch as `fresh`, and {w['steps']:g} of its "
            "optimizer steps, so its work predicts × 1 or a little less"
        )
        expected = (0.0, 1.0)
    else:
        why = "the same forward, backward and step per batch as `fresh`: its work predicts × 1"
        expected = (1.0, 1.0)
    if high < expected[0]:
        return f"{why}; measured below that"
    if low > expected[1]:
        return f"{why}; measured above that"
    return f"{why}; the interval agrees"


def saved_lines(cost: dict, num_steps: int) -> list[str]:
    """Saved bytes against ``fresh``: predicted from the batches of graph alive at the peak."""
    parts, off = [], []
    for name, s in cost["summary"].items():
        predicted = work_per_batch(name, num_steps)["saved"]
        measured = s["saved_ratio_to_fresh"]
        parts.append(f"`{name}` {predicted}")
        if abs(measured - predicted) > 0.02 * predicted:
            off.append(f"`{name}` saved × {measured:.2f}, not × {predicted}")
    head = (
        "Saved bytes: one batch's graph saves the same tensors whichever strategy built it, so "
        "the peak is one batch's bytes times the batches whose graph is alive at once: "
        + ", ".join(parts)
        + " (a window keeps its K batches until its backward; TBPTT holds K2 / num_steps "
        "batches; `detach` frees each batch's graph in its own backward, as `fresh` does). "
    )
    tail = "Every measured ratio matches." if not off else "Unlike that: " + "; ".join(off) + "."
    return [head + tail, ""]


def process_lines(cost: dict) -> list[str]:
    """Why the process's resident size does not (or does) tell the strategies apart."""
    summary = cost["summary"]
    peaks = [s["rss_peak_bytes"]["median"] for s in summary.values()]
    growth = max(s["rss_growth_bytes"]["max"] for s in summary.values())
    saved = max(s["saved_peak_bytes"] for s in summary.values())
    if not any(peaks):
        return ["The process's resident size is not readable here.", ""]
    spread = max(peaks) - min(peaks)
    line = (
        f"The process's peak resident size was {min(peaks) / 2**20:.0f} to "
        f"{max(peaks) / 2**20:.0f} MiB (medians over repeats) and grew by at most "
        f"{growth / 1024:.0f} KiB during a run, against at most {saved / 1024:.0f} KiB saved "
        "for backward: "
    )
    if spread <= saved and growth <= saved:
        line += (
            "the interpreter and torch dwarf the saved tensors, and memory freed by one run's "
            "backward is reused by the next, so the resident size cannot tell the strategies "
            "apart at these sizes; the saved bytes can."
        )
    else:
        line += (
            "more than the saved tensors account for: the allocator keeps what it once held, "
            "so read the resident size as coarse."
        )
    return [line, ""]


def window_lines(sweep: dict, part: str = "saved", alpha: float = 0.05) -> list[str]:
    """The saved bytes' line against K (``part="saved"``) or where a window's time goes
    (``part="time"``), checked against the run."""
    rows = sweep["rows"]
    fit = sweep["fit"]
    one = rows["detach"]["saved_peak_bytes"]
    slope, icpt = fit["saved_slope_bytes"], fit["saved_intercept_bytes"]
    linear = abs(slope - one) <= 0.02 * one and abs(icpt) <= 0.02 * one
    out = [
        "Backward runs when a window closes, so every batch's saved tensors live until then: "
        f"the mechanism predicts saved peak = K × one batch's bytes ({one / 1024:.1f} KiB, "
        "`detach`'s peak), through zero. "
        + (
            "The fit is that line."
            if linear
            else f"The fit is not: {slope / 1024:.1f} KiB per batch, intercept "
            f"{icpt / 1024:.1f} KiB."
        ),
        "",
    ]
    if part == "saved":
        return out
    out = []
    k = sweep["trace_window"]
    win, det = rows.get(f"window:{k}", {}), rows["detach"]
    fwd, close = win.get("forward_batch_s"), win.get("closing_batch_s")
    if fwd is None or close is None:
        return out
    d = det["time_per_batch_s"]["median"]
    share, detach_share = (close - fwd) / k, d - fwd
    # the same per repeat (repeats pair the two: each measures both), tested over the repeats
    t = None
    if win.get("closing_batch_s_per_repeat") and len(det["time_per_batch_s"].get("values", [])) > 1:
        shares = [
            (c - f) / k
            for c, f in zip(
                win["closing_batch_s_per_repeat"], win["forward_batch_s_per_repeat"], strict=True
            )
        ]
        theirs = [
            v - f
            for v, f in zip(
                det["time_per_batch_s"]["values"], win["forward_batch_s_per_repeat"], strict=True
            )
        ]
        t = paired_t(shares, theirs)
    n = len(det["time_per_batch_s"].get("values", []))
    if t is None or t["p"] is None:
        said = "smaller (medians, no test)" if share < detach_share else "not smaller"
        said += (
            ", as the fixed cost of a backward call and of a step, shared by K batches, predicts."
            if share < detach_share
            else ", so the fixed costs do not show against this run's noise."
        )
    elif t["p"] < alpha and t["diff"] < 0:
        said = (
            f"smaller, significantly over the {n} repeats (paired t-test, p = {t['p']:.3g}), "
            "as the fixed cost of a backward call and of a step, shared by K batches, predicts."
        )
    elif t["p"] < alpha:
        said = (
            f"larger, significantly over the {n} repeats (p = {t['p']:.3g}): the opposite of "
            "what the fixed costs predict."
        )
    else:
        said = (
            f"not distinguishable over the {n} repeats (paired t-test, p = {t['p']:.3g}): the "
            "fixed costs do not show against this run's noise."
        )
    out += [
        f"Where the time goes (medians over the repeats' batches): in `window:{k}` a batch "
        f"inside the window only runs forward, {fwd * 1e3:.2f} ms; the batch that closes it "
        f"runs its forward, one backward through all {k} batches, clip, optimizer step and "
        f"zero_grad, {close * 1e3:.2f} ms. Backward and step therefore cost "
        f"{share * 1e3:.2f} ms per batch of the window, against {detach_share * 1e3:.2f} ms "
        "for `detach` (its time per batch less the same forward), which does them every "
        f"batch: {said}",
        "",
    ]
    return out


def between_tables_line(cost: dict, sweep: dict) -> list[str]:
    """The same work timed twice: ``detach`` in both cost tables, and ``window:1`` (a backward
    and a step after every batch) beside ``detach``. Where the ranges over repeats do not
    overlap, the machine's load changed, not the work."""

    def apart(x: dict, y: dict) -> bool:
        return x["max"] < y["min"] or y["max"] < x["min"]

    a = cost["summary"].get("detach", {}).get("time_per_batch_s")
    b = sweep["rows"]["detach"]["time_per_batch_s"]
    out = []
    if a is not None:
        out += [
            f"`detach` is timed in both tables: {a['median'] * 1e3:.2f} ms above, "
            f"{b['median'] * 1e3:.2f} ms here (medians). "
            + (
                "Their ranges do not overlap: the same work took another time, so the "
                "machine's load changed between the two measurements; compare within a table."
                if apart(a, b)
                else "Their ranges overlap: the same work, measured alike."
            ),
            "",
        ]
    w1 = sweep["rows"].get("window:1")
    if w1 is not None:
        out += [
            "`window:1` does `detach`'s work (a backward and a step after every batch): "
            + (
                "here their ranges do not overlap, which the machine's load, not the work, "
                "explains."
                if apart(w1["time_per_batch_s"], b)
                else "their ranges overlap, as the same work predicts."
            ),
            "",
        ]
    return out
