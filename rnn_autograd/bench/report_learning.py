"""The report's learning sections (3 and 4; 5 is in ``report``): figures over seeds, the tests.

Each figure is the mean over the seeds with its sample standard deviation; the sentences under
each table are generated from ``rnn_autograd.bench.stats.compare`` (paired t-tests over seeds,
Holm-adjusted): a difference is called significant only where the test says so.
"""

from __future__ import annotations

from .markdown import table
from .trends_learning import (
    accuracy_line,
    bars_line,
    curve_lines,
    limit_ratio_line,
    pair_prediction,
    recall_chance_lines,
)
from .trends_learning import verdict as verdict_of

__all__ = [
    "LEARN_COLUMNS",
    "learn_section",
    "recall_section",
    "significance_lines",
]

# The columns every learned-perplexity table shares (counting sequence and delayed recall).
LEARN_COLUMNS = [
    "strategy",
    "held-out perplexity",
    "limit (context)",
    "ppl / limit",
    "accuracy",
    "accuracy limit",
]
LABELS = {"perplexity": "held-out perplexity", "recall_accuracy": "recall accuracy"}


def _mean_sd(row: dict, metric: str) -> str:
    s = row.get("summary", {}).get(metric)
    if s is None or s["sd"] is None:
        return f"{row[metric]:.3f}"
    return f"{s['mean']:.3f}\u00a0±\u00a0{s['sd']:.3f}"  # one line in a cell


def _learn_rows(section: dict, extra: list[str]) -> list[list[str]]:
    rows = []
    for name, r in section["rows"].items():
        limit = r["limit_perplexity"]
        row = [
            f"`{name}`",
            _mean_sd(r, "perplexity"),
            f"{limit:.3f} ({r['limit_context']})" if limit else "n/a",
            f"{r['perplexity'] / limit:.3f}" if limit else "n/a",
            _mean_sd(r, "accuracy"),
            f"{r['limit_accuracy']:.3f}" if limit else "n/a",
        ]
        for k in extra:
            row.append(r[k] if isinstance(r[k], str) else _mean_sd(r, k))
        rows.append(row)
    return rows


def _seeds_line(section: dict) -> str:
    seeds = section.get("seeds", [])
    if len(seeds) < 2:
        return (
            "One seed: the figures are one run's, and no difference between strategies can be "
            "called significant (run the benchmark with `--seeds 3` or more)."
        )
    return (
        f"Every strategy trained once per seed ({len(seeds)} seeds: "
        f"{', '.join(map(str, seeds))}; the seed sets the initial weights and draws the training "
        "and held-out data); within one seed all strategies start from the same weights on the "
        "same batches. The table gives the mean ± the sample standard deviation over seeds; the "
        "ratio to the limit is that of the mean; the learning curves are the first seed's."
    )


def significance_lines(section: dict, alpha: float = 0.05, predict=None) -> list[str]:
    """One sentence per pair of strategies and compared figure, generated from the tests.

    ``predict(section, a, b, metric)`` (``trends_learning.pair_prediction``), where given, adds to
    each sentence which of the two the mechanism predicts lower, why, and whether the test
    agrees."""
    comparisons = section.get("comparisons", {})
    n = len(section.get("seeds", []))
    if n < 2 or not comparisons:
        return []
    out = [
        f"Which differences hold: a paired t-test over the {n} seeds (two-sided, the per-seed "
        f"differences against zero, {_dof(n - 1)}), p-values adjusted by Holm's "
        f"method over the pairs of each figure, significant where the adjusted p < {alpha}. "
        "The ± is the half-width of the 95% t interval of the mean difference, not adjusted: "
        "an interval can exclude zero where the adjusted test does not call the difference "
        "significant.",
        "",
    ]
    for metric, pairs in comparisons.items():
        label = LABELS.get(metric, metric)
        for c in pairs:
            low, high = (c["a"], c["b"]) if c["diff"] < 0 else (c["b"], c["a"])
            verdict = (
                f"**significant** at {alpha}"
                if c["significant"]
                else f"not distinguishable over {n} seeds"
            )
            why = ""
            if predict is not None:
                expected, reason = predict(section, c["a"], c["b"], metric)
                said = f"`{expected}` predicted lower" if expected else "no difference predicted"
                why = f"; {said} ({reason}): {verdict_of(expected, low, c['significant'], n)}"
            out.append(
                f"- {label}: `{low}` below `{high}` by {abs(c['diff']):.3f} ± {c['ci95']:.3f} "
                f"(adjusted p = {c['p_holm']:.3g}): {verdict}{why}."
            )
        out.append("")
    return out


def _limits_lines(lim: dict, section: dict) -> list[str]:
    return [
        f"Limits (exact, Bayes-optimal): carried (entropy rate) "
        f"**{lim['carried']['perplexity']:.4f}** (accuracy {lim['carried']['accuracy']:.4f}); "
        f"fresh every {section['num_steps']} tokens **{lim['fresh']['perplexity']:.4f}** "
        f"(accuracy {lim['fresh']['accuracy']:.4f}). A carried strategy is evaluated on "
        f"held-out rows of {section['heldout_row_tokens']} tokens, each read from zeros and "
        f"carried to its end: its limit as evaluated is "
        f"**{lim['heldout_rows']['perplexity']:.4f}** (accuracy "
        f"{lim['heldout_rows']['accuracy']:.4f}), the one in the table.",
        "",
    ]


def learn_section(results: dict, title: str) -> list[str]:
    learn = results["learning"]
    lim = learn["limits"]
    data = results["config"]["data"]
    source = "The notebook's counting sequence" if data == "seed" else f"The text file `{data}`"
    out = [
        f"## {title}",
        "",
        f"{source}, sequential partitioning, batch size "
        f"{learn['batch_size']}, num_steps {learn['num_steps']}, the same budget of "
        f"{learn['token_budget']} training tokens for every strategy; held-out figures on "
        f"{learn['heldout_tokens']} unseen tokens, evaluated with the strategy's own context "
        "(a state carried across held-out batches, or a fresh one per batch for `fresh`).",
        "",
        _seeds_line(learn),
        "",
    ]
    if lim:
        out += _limits_lines(lim, learn)
    else:
        out += ["No exact limit is known for real text: the limit columns read n/a.", ""]
    out += table(LEARN_COLUMNS, _learn_rows(learn, []))
    out += limit_ratio_line(learn)
    out += _steps_line(learn)
    out += significance_lines(learn, predict=pair_prediction)
    out += accuracy_line(learn)
    out += ["![perplexity against limit](perplexity_vs_limit.png)", ""]
    out += bars_line(learn)
    out += ["![learning curves](learning_curves.png)", ""]
    out += curve_lines(results)
    return out


def recall_section(results: dict, title: str) -> list[str]:
    rec = results["recall"]
    lim = rec["limits"]
    out = [
        f"## {title}",
        "",
        f"Delayed recall: each episode is a key (one of {rec['num_keys']}), "
        f"{rec['delay'] - 1} clock tokens, and the key again, {rec['delay']} steps after it "
        f"(`rnn_autograd.bench.tasks`); num_steps {rec['num_steps']} < delay {rec['delay']}; "
        f"a {rec['cell']} cell, learning rate {rec['lr']}, {rec['token_budget']} training "
        f"tokens for every strategy. "
        f"Recall accuracy is on the recall targets only: chance is {1 / rec['num_keys']:.3f}, "
        "remembering gives 1. The limit is what a predictor with the row's context could "
        "reach; a strategy can learn the recall only for the recalls its backward reaches the "
        "key of (the column *backward reaches the key for*), so a row with 0% there stands "
        "above a carried limit it has no gradient to approach.",
        "",
        _seeds_line(rec),
        "",
    ]
    out += _limits_lines(lim, rec)
    # two narrow tables rather than one of eight columns, whose cells wrapped on the page
    rows = _learn_rows(rec, ["spans_delay", "recall_accuracy"])
    out += table(LEARN_COLUMNS[:4], [r[:4] for r in rows])
    out += table(
        [LEARN_COLUMNS[0], *LEARN_COLUMNS[4:], "backward reaches the key for", "recall accuracy"],
        [[r[0], *r[4:]] for r in rows],
    )
    out += limit_ratio_line(rec)
    out += _steps_line(rec)
    out += significance_lines(rec, predict=pair_prediction)
    out += recall_chance_lines(rec)
    out += bars_line(rec)
    return out


def _steps_line(section: dict) -> list[str]:
    """The optimizer steps each strategy took in the same tokens (the first seed's run)."""
    steps: dict[int, list[str]] = {}
    for name, r in section["rows"].items():
        if r.get("optimizer_steps"):
            steps.setdefault(r["optimizer_steps"], []).append(f"`{name}`")
    if not steps:
        return []
    parts = [f"{', '.join(names)} {n}" for n, names in sorted(steps.items(), reverse=True)]
    return [
        f"Optimizer steps in the same {section['token_budget']} tokens: {'; '.join(parts)} "
        "(one per backward: a window steps once per K batches, TBPTT once per K1 steps).",
        "",
    ]


def _dof(k: int) -> str:
    return f"{k} degree{'' if k == 1 else 's'} of freedom"
