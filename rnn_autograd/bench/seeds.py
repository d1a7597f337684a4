"""A learning section repeated over seeds: the mean per strategy, every seed's figure, the tests.

``over_seeds(section, config, metrics, compared)`` runs ``section`` once per seed
(``config.seeds`` of them: ``config.seed``, ``config.seed + 2``, ...; a stride of 2 because a
section draws its training data from its seed and its held-out data from the seed after it, so
no seed's training data is another's held-out data). Within one seed every strategy starts from
the same weights on the same batches, so the seeds pair the strategies; the comparisons are
``rnn_autograd.bench.stats.compare`` (paired t-test, Holm-adjusted). The first seed's run keeps
everything that is not averaged (learning curves, per-position figures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .config import BenchConfig
from .stats import compare, summarize

__all__ = ["SEED_STRIDE", "over_seeds", "seed_list"]

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
