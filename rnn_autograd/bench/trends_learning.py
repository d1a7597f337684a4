"""The report's explanations of the learning sections: what the mechanism predicts, checked.

Every sentence here that states a direction (one strategy below another, a curve above
another, recall above chance) is generated from the measured figures of the same run, beside
what the mechanism predicts (``rnn_autograd.bench.trends_cost`` says which mechanism); where
the data disagree the sentence says so, or says that the run cannot tell. The predictions:
fewer optimizer steps in the same tokens learn less (a window steps once per K batches); a
state carried over the batch boundary gives context that zeros do not; a recall is learnt only
where some backward reaches its key.
"""

from __future__ import annotations

from ..pipeline.state import TBPTT, Window, parse_strategy
from .stats import compare, paired_t

__all__ = [
    "accuracy_line",
    "bars_line",
    "batching_lines",
    "curve_lines",
    "limit_ratio_line",
    "pair_prediction",
    "recall_chance_lines",
    "verdict",
]


def verdict(expected_low: str | None, low: str, significant: bool | None, n: int) -> str:
    """The measured difference against the prediction."""
    if expected_low is None:
        return (
            "a difference the mechanism does not predict"
            if significant
            else "as predicted, no difference shows"
        )
    if not significant:
        return f"the {n} seeds cannot confirm it"
    return "as predicted" if low == expected_low else "the opposite of the prediction"


def _reach(spec: str, num_steps: int) -> int:
    """The farthest back, in steps, that one backward of ``spec`` reaches."""
    s = parse_strategy(spec)
    if isinstance(s, Window):
        return s.k * num_steps
    if isinstance(s, TBPTT):
        return s.k2
    return num_steps


def pair_prediction(section: dict, a: str, b: str, metric: str) -> tuple[str | None, str]:
    """Which of strategies ``a``, ``b`` the mechanism predicts lower on ``metric`` (None: no
    difference), and why. Fewer optimizer steps in the same tokens come first, then context
    carried over a batch boundary, then (recall) a backward that reaches the key."""
    ra, rb = section["rows"][a], section["rows"][b]
    T = section["num_steps"]
    recall = "gradient_reach" in ra
    if metric == "recall_accuracy":
        if ra["gradient_reach"] == rb["gradient_reach"]:
            return None, "backward reaches the key equally often in both"
        low = a if ra["gradient_reach"] < rb["gradient_reach"] else b
        return low, f"backward reaches the key less often in `{low}`"
    sa, sb = ra.get("optimizer_steps"), rb.get("optimizer_steps")
    if sa and sb and sa != sb:
        more, fewer = (a, b) if sa > sb else (b, a)
        return more, (
            f"`{more}` takes {max(sa, sb)} optimizer steps in the same tokens, "
            f"`{fewer}` {min(sa, sb)}"
        )
    ca, cb = (parse_strategy(n).carries_state for n in (a, b))
    if ca != cb:
        carried = a if ca else b
        return carried, (
            f"`{carried}` carries the state over each batch boundary, with as many steps"
        )
    if recall and ra["gradient_reach"] != rb["gradient_reach"]:
        far = a if ra["gradient_reach"] > rb["gradient_reach"] else b
        near = b if far == a else a
        return far, (
            f"`{far}`'s backward reaches the key for {section['rows'][far]['gradient_reach']:.0%} "
            f"of recalls, `{near}`'s for {section['rows'][near]['gradient_reach']:.0%}"
        )
    return None, (
        f"the same steps and context; the gradient reaches {_reach(a, T)} against "
        f"{_reach(b, T)} steps, which matters only for a dependency longer than a batch"
    )


def accuracy_line(section: dict) -> list[str]:
    """Whether accuracy separates the strategies (paired tests over seeds, Holm-adjusted)."""
    rows = section["rows"]
    if len(section.get("seeds", [])) < 2 or len(rows) < 2:
        return []
    tests = compare({n: r["per_seed"]["accuracy"] for n, r in rows.items()})
    sig = [c for c in tests if c["significant"]]
    means = [r["accuracy"] for r in rows.values()]
    head = (
        f"Accuracy: the means span {min(means):.3f} to {max(means):.3f}; "
        f"{len(sig)} of {len(tests)} pairs differ significantly (the same paired tests). "
    )
    why = (
        "Accuracy counts only whether the likeliest token is right: inside a run of the "
        "counting sequence the next token is the last plus one, which every strategy learns; "
        "what a carried context adds is where a run ends, which moves the probabilities "
        "(perplexity) far more than the likeliest token."
        if section.get("limits")
        else ""
    )
    return [head + (why if len(sig) < len(tests) else "Every pair differs."), ""]


def recall_chance_lines(rec: dict, alpha: float = 0.05) -> list[str]:
    """Recall accuracy against chance: above it only where backward reaches the key."""
    chance = 1 / rec["num_keys"]
    out = [
        f"Recall accuracy against chance ({chance:.3f}), a one-sample t-test over seeds: the "
        "mechanism predicts chance where no backward reaches the key (nothing teaches the "
        "state to keep it), more where one does.",
        "",
    ]
    for name, r in rec["rows"].items():
        values = r.get("per_seed", {}).get("recall_accuracy", [r["recall_accuracy"]])
        t = paired_t(values, [chance] * len(values))
        above = t["p"] is not None and t["p"] < alpha and t["diff"] > 0
        below = t["p"] is not None and t["p"] < alpha and t["diff"] < 0
        predicted_above = r["gradient_reach"] > 0
        measured = "above chance" if above else "below chance" if below else "at chance"
        agrees = (above == predicted_above) and not below
        learnt = sum(v > (chance + 1) / 2 for v in values)
        out.append(
            f"- `{name}` (backward reaches the key for {r['gradient_reach']:.0%} of recalls): "
            f"{measured}"
            + ("" if t["p"] is None else f" (p = {t['p']:.3g})")
            + f", {learnt} of {len(values)} seeds past halfway from chance to 1: "
            + ("as predicted." if agrees else "not as predicted.")
        )
    return [*out, ""]


def bars_line(section: dict) -> list[str]:
    """Every held-out perplexity beside its limit: above it, as it must be in expectation."""
    rows = [(n, r) for n, r in section["rows"].items() if r.get("limit_perplexity")]
    if not rows:
        return []
    below = [n for n, r in rows if r["perplexity"] < r["limit_perplexity"]]
    if not below:
        return ["Every strategy's perplexity stands above its limit, as no model can beat it.", ""]
    names = ", ".join(f"`{n}`" for n in below)
    return [f"{names} below the limit: sampling noise of the finite held-out set.", ""]


def curve_lines(results: dict) -> list[str]:
    """The learning curves (first seed): falling, and which lies above which, checked."""
    out = []
    for key, title in (("learning", "counting sequence"), ("recall", "delayed recall")):
        rows = results[key]["rows"]
        falls = [n for n, r in rows.items() if r["curve_perplexity"][-1] < r["curve_perplexity"][0]]
        steps = {n: r.get("optimizer_steps") or 0 for n, r in rows.items()}
        fewest = min(steps, key=lambda n: steps[n])
        most = max(steps.values())
        text = (
            f"Learning curves, {title}: {len(falls)} of {len(rows)} curves fall from their "
            "first point to their last. "
        )
        if steps[fewest] and steps[fewest] < most:
            mine = rows[fewest]["curve_perplexity"]
            others = [r["curve_perplexity"] for n, r in rows.items() if steps[n] == most]
            above = sum(all(v > o[i] for o in others) for i, v in enumerate(mine))
            text += (
                f"`{fewest}` takes {steps[fewest]} optimizer steps where others take {most}, "
                f"so at the same tokens it has learnt less: its curve lies above every "
                f"such curve at {above} of {len(mine)} points."
            )
        reach = {n: r.get("gradient_reach", 0) for n, r in rows.items()}
        if key == "recall" and len(set(reach.values())) > 1:
            far = max(reach, key=lambda n: reach[n])
            last = {n: r["curve_perplexity"][-1] for n, r in rows.items()}
            lowest = min(last, key=lambda n: last[n])
            text += (
                f"`{far}`, whose backward reaches the key most often, ends at "
                f"{last[far]:.3f}"
                + (", the lowest: as predicted." if lowest == far else f"; `{lowest}` ends lower.")
            )
        out += [text, ""]
    bat = results["batching"]["rows"]
    by = {(r["batching"], r["batch_size"], r["strategy"]): r["curve_perplexity"][-1] for r in bat}
    pairs = [(v, by[("windows", B, s)]) for (b, B, s), v in by.items() if b == "sequential"]
    lower = sum(seq < win for seq, win in pairs)
    out += [
        f"Learning curves, batching (the first seed's): a sequential curve ends below the windows' curve of the same "
        f"batch size and strategy in {lower} of {len(pairs)} pairs (training perplexity on "
        "batches it trains on; the windows' curves are the noisier, their batches overlapping).",
        "",
    ]
    return out


def _name(batching: str, B: int, spec: str) -> str:
    return f"{batching} B={B} {spec}"  # as rnn_autograd.bench.seeds.row_name


def _tested(c: dict | None, n: int, unit: str = "") -> str:
    # the test's figures for one stated difference: mean over seeds, 95% interval, adjusted p
    if c is None or c["p_holm"] is None:
        return unit
    return f" ± {c['ci95']:.3f}{unit} (95% interval over {n} seeds; adjusted p = {c['p_holm']:.3g})"


def batching_lines(bat: dict, alpha: float = 0.05) -> list[str]:
    """Sequential against windows, and the first target against fresh: each stated difference
    decided by its paired t-test over seeds (``bat["comparisons"]``, Holm-adjusted, from
    ``rnn_autograd.bench.seeds.batching_over_seeds``); with one seed, one run's directions."""
    rows = bat["rows"]
    n = len(bat.get("seeds", []))
    tests = {(c["a"], c["b"]): c for cs in bat.get("comparisons", {}).values() for c in cs}
    tested = n >= 2 and bool(tests)
    by = {(r["batching"], r["batch_size"], r["strategy"]): r for r in rows}
    seq_lower, pairs, per_pair = 0, 0, []
    for (batching, B, spec), r in by.items():
        other = by.get(("windows", B, spec))
        if batching == "sequential" and other:
            pairs += 1
            seq_lower += r["perplexity"] < other["perplexity"]
            c = tests.get((_name(batching, B, spec), _name("windows", B, spec)))
            if tested and c is not None:
                low = "sequential" if c["diff"] < 0 else "windows"
                per_pair.append(
                    f"- B={B}, `{spec}`: held-out perplexity, sequential less windows, "
                    f"{c['diff']:+.3f}{_tested(c, n)}: "
                    f"{verdict('sequential', low, c['significant'], n)}."
                )
    sizes = sorted({B for _, B, _ in by}, reverse=True)
    size_gap = max(
        (
            abs(by[(b, sizes[0], s)]["perplexity"] - r["perplexity"])
            for (b, size, s), r in by.items()
            if size < sizes[0] and (b, sizes[0], s) in by
        ),
        default=None,
    )
    head = (
        f"Each difference below is a paired t-test over the {n} seeds (within a seed every row "
        "starts from the same weights), Holm-adjusted within each figure, significant where the "
        f"adjusted p < {alpha}; a difference is the mean over seeds. "
        if tested
        else "One seed: the directions below are this run's, and no difference can be called "
        "significant (run the benchmark with `--seeds 3` or more). "
    )
    out = [
        head + "Sequential partitioning is predicted below overlapping windows in held-out "
        "perplexity: in the same batches it sees B × T distinct tokens per batch, not "
        f"B + T - 1. Measured: lower in {seq_lower} of {pairs} pairs of the same batch size and "
        "strategy."
        + (
            ""
            if size_gap is None
            else f" Between batch sizes {', '.join(map(str, sizes))} the same batching and "
            f"strategy differ by at most {size_gap:.3f} in held-out perplexity: besides the "
            "phase a window's state carries (the table above), the sizes change the batches "
            "and their number; no difference between sizes is tested."
        )
        + (" Each pair, tested:" if per_pair else ""),
        "",
        *per_pair,
        *([""] if per_pair else []),
    ]
    for (batching, B, spec), r in by.items():
        d = r["first_target_vs_fresh"]
        if spec == "fresh" or d is None:
            continue
        c = tests.get((_name(batching, B, spec), _name(batching, B, "fresh"))) if tested else None
        sig = c is not None and c["significant"]
        if batching == "sequential":
            pred = "predicted below `fresh`: the state is the row's true past"
            if c is None:
                said = "as predicted" if d < 0 else "not as predicted"
            else:
                said = verdict("carried", "carried" if d < 0 else "fresh", c["significant"], n)
        else:
            pred = (
                "predicted no better than `fresh`: the state is another place's, read by a "
                "recurrence trained to continue it"
            )
            if c is None:
                said = "as predicted" if d >= 0 else "not as predicted"
            elif not sig:
                said = f"as predicted, no difference shows over {n} seeds"
            else:
                said = "as predicted" if d > 0 else "not as predicted: significantly better"
        out.append(
            f"- {batching}, B={B}, `{spec}`: first target against `fresh` {d:+.3f}"
            f"{_tested(c, n, ' nats')}; {pred}: {said}."
        )
    return [*out, ""]


def limit_ratio_line(section: dict) -> list[str]:
    """``ppl / limit``: whether ``fresh`` stands closer to its own limit than the carried
    strategies to theirs, and why that can be while their perplexity is lower."""
    rows = section["rows"]
    fresh = rows.get("fresh")
    carried = {
        n: r["perplexity"] / r["limit_perplexity"]
        for n, r in rows.items()
        if n != "fresh" and r.get("limit_perplexity") and parse_strategy(n).carries_state
    }
    if not fresh or not fresh.get("limit_perplexity") or not carried:
        return []
    own = fresh["perplexity"] / fresh["limit_perplexity"]
    best = min(carried, key=lambda n: carried[n])
    head = (
        f"`ppl / limit` sets each strategy against the limit of its own context: `fresh` "
        f"{own:.3f}, the closest carried one `{best}` {carried[best]:.3f}. "
    )
    higher = fresh["perplexity"] > rows[best]["perplexity"]
    if own < carried[best]:
        return [
            head
            + "`fresh` stands closer to its limit"
            + (" although its perplexity is higher" if higher else "")
            + ": the "
            "carried limit is lower by what a carried state can tell about the tokens before the "
            "batch, and the model must learn to keep that in the state and read it, on top of "
            "what `fresh` must learn; in the same tokens it has learnt part of it.",
            "",
        ]
    return [head + "The carried strategies stand as close to their limit as `fresh` or closer.", ""]
