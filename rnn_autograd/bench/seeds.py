"""A learning section repeated over seeds: the mean per strategy, every seed's figure, the tests.

``over_seeds(section, config, metrics, compared)`` runs ``section`` once per seed
(``config.seeds`` of them: ``config.seed``, ``config.seed + 2``, ...; a stride of 2 because a
section draws its training data from its seed and its held-out data from the seed after it, so
no seed's training data is another's held-out data). Within one seed every strategy starts from
the same weights on the same batches, so the seeds pair the strategies; the comparisons are
``rnn_autograd.bench.stats.compare`` (paired t-test, Holm-adjusted). The first seed's run keeps
everything that is not averaged (learning curves, per-position figures).

``batching_over_seeds`` does the same for the batching section (5), whose rows are a list keyed
by batching, batch size and strategy, and tests only the differences its sentences state:
sequential against windows (held-out perplexity) and each carried strategy against ``fresh``
at the first target, within one batching and batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .config import BenchConfig
from .stats import compare, compare_pairs, summarize

__all__ = [
    "BATCHING_METRICS",
    "SEED_STRIDE",
    "batching_over_seeds",
    "over_seeds",
    "row_name",
    "seed_list",
]

SEED_STRIDE = 2


def seed_list(config: BenchConfig) -> list[int]:
    return [config.seed + SEED_STRIDE * i for i in range(config.seeds)]


def over_seeds(
    section: Callable[[BenchConfig], dict],
    config: BenchConfig,
    metrics: tuple[str, ...],
    compared: tuple[str, ...],
) -> dict:
    """``section``'s result with each row's ``metrics`` replaced by their mean over seeds.

    Each row gains ``per_seed`` ({metric: [one value per seed]}) and ``summary`` ({metric:
    ``summarize``}); the section gains ``seeds`` and ``comparisons`` ({metric: ``compare``} for
    each of ``compared``).
    """
    seeds = seed_list(config)
    runs = [section(replace(config, seed=s)) for s in seeds]
    base = runs[0]
    for name, row in base["rows"].items():
        row["per_seed"] = {m: [run["rows"][name][m] for run in runs] for m in metrics}
        row["summary"] = {m: summarize(v) for m, v in row["per_seed"].items()}
        for m in metrics:
            row[m] = row["summary"][m]["mean"]
    base["seeds"] = seeds
    base["comparisons"] = {
        m: compare({name: row["per_seed"][m] for name, row in base["rows"].items()})
        for m in compared
    }
    return base


BATCHING_METRICS = ("perplexity", "accuracy", "first_target_ce", "first_target_vs_fresh")


def row_name(row: dict) -> str:
    """A batching row's name: ``"windows B=50 detach"``."""
    return f"{row['batching']} B={row['batch_size']} {row['strategy']}"


def batching_over_seeds(section: Callable[[BenchConfig], dict], config: BenchConfig) -> dict:
    """The batching section over ``config.seeds`` seeds, as ``over_seeds``; its rows keep their
    order, the first seed's curves and per-position figures. ``comparisons["perplexity"]``:
    each sequential row against the windows row of the same size and strategy;
    ``comparisons["first_target_ce"]``: each carried row against ``fresh`` of the same batching
    and size (``a``, ``b`` are ``row_name``s; Holm over each list)."""
    seeds = seed_list(config)
    runs = [section(replace(config, seed=s)) for s in seeds]
    base = runs[0]
    by_seed = [{row_name(r): r for r in run["rows"]} for run in runs]
    per_seed: dict[str, list[float]] = {}
    for row in base["rows"]:
        name = row_name(row)
        row["per_seed"] = {
            m: [rows[name][m] for rows in by_seed]
            for m in BATCHING_METRICS
            if row[m] is not None  # no fresh row of the same batching: nothing to set against
        }
        row["summary"] = {m: summarize(v) for m, v in row["per_seed"].items()}
        for m, s in row["summary"].items():
            row[m] = s["mean"]
        per_seed[name] = row["per_seed"]["perplexity"]
    names = {row_name(r): r for r in base["rows"]}
    seq_win = [
        (n, row_name({**r, "batching": "windows"}))
        for n, r in names.items()
        if r["batching"] == "sequential" and row_name({**r, "batching": "windows"}) in names
    ]
    carried_fresh = [
        (n, row_name({**r, "strategy": "fresh"}))
        for n, r in names.items()
        if r["strategy"] != "fresh" and row_name({**r, "strategy": "fresh"}) in names
    ]
    first = {n: r["per_seed"]["first_target_ce"] for n, r in names.items()}
    base["seeds"] = seeds
    base["comparisons"] = {
        "perplexity": compare_pairs(per_seed, seq_win),
        "first_target_ce": compare_pairs(first, carried_fresh),
    }
    return base
