"""The hidden-state strategy benchmark: what each strategy costs and what it learns.

``run_bench(config) -> results`` runs every section (``cost``, ``learning``) and
returns one JSON-able dict (every raw figure, the machine, the torch version);
``rnn_autograd.bench.report.write_report(results, dir)`` turns it into ``report.md`` and PNG
charts; ``write_results`` writes ``results.json``. The ``rnn-autograd bench`` command does all
three. ``preset("tiny" | "quick" | "full", **overrides)`` gives a configuration; the docs build
runs ``tiny`` (seconds)::

    from rnn_autograd.bench import preset, run_bench, write_report, write_results

    results = run_bench(preset("tiny", quiet=True))
    write_results(results, out_dir)
    write_report(results, out_dir)

Sections:

1. cost per batch: time, tokens/s, saved-for-backward bytes and process peak, per strategy,
   strategies interleaved within each repeat; ratios to ``fresh``;
2. cost against the window (``window:1,2,4,...``) with least-squares slopes;
3. what each strategy learns on the counting sequence, beside the exact limits
   (``config.strategies``, as section 1);
4. the delayed recall task, a dependency longer than num_steps (``recall_strategies``);
5. the notebook's overlapping windows against sequential partitioning
   (``batching_strategies``, batch sizes ``batching_sizes``).

Sections 3, 4 and 5 run once per seed (``config.seeds``; ``rnn_autograd.bench.seeds``).

The benchmark drives the project's trainer (``rnn_autograd.pipeline.train``) and measures through
its ``on_batch`` hook; nothing here changes how a strategy trains.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

from ..pipeline.outputs import check_output_dir, write_json
from .config import BenchConfig
from .cost import cost_section, validate, window_section
from .learning import batching_section, learning_section, recall_section
from .seeds import batching_over_seeds, over_seeds

__all__ = ["machine_info", "run_bench", "write_results"]


def machine_info() -> dict:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def _log(config: BenchConfig, message: str) -> None:
    if not config.quiet:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_bench(config: BenchConfig) -> dict:
    """Run every section with ``config``; return the results dict (JSON-able).

    Args:
        config: sizes, seeds, strategies and threads of the run (``BenchConfig``, usually
            ``preset(name)``); an invalid one is a ``UsageError``.

    Returns:
        The results: ``config``, ``machine``, one entry per section (``cost``,
        ``window_sweep``, ``learning``, ``recall``, ``batching``) and ``wall_s``.
    """
    validate(config)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    try:
        results: dict = {"config": config.to_dict(), "machine": machine_info()}
        steps = [
            ("cost", cost_section),
            ("window_sweep", window_section),
            ("learning", _learning_over_seeds),
            ("recall", _recall_over_seeds),
            ("batching", _batching_over_seeds),
        ]
        for key, run in steps:
            t0 = time.perf_counter()
            _log(config, f"{key} ...")
            results[key] = run(config)
            _log(config, f"{key} done in {time.perf_counter() - t0:.1f} s")
        results["wall_s"] = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads_before)
    return results


def _learning_over_seeds(config: BenchConfig) -> dict:
    metrics = ("perplexity", "cross_entropy_nats", "accuracy")
    return over_seeds(learning_section, config, metrics, compared=("perplexity",))


def _recall_over_seeds(config: BenchConfig) -> dict:
    metrics = ("perplexity", "cross_entropy_nats", "accuracy", "recall_accuracy")
    return over_seeds(recall_section, config, metrics, compared=("perplexity", "recall_accuracy"))


def _batching_over_seeds(config: BenchConfig) -> dict:
    return batching_over_seeds(batching_section, config)


def write_results(results: dict, out_dir: str | Path) -> Path:
    """Write ``results.json`` into ``out_dir``; returns its path."""
    out = check_output_dir(out_dir, "out_dir")
    out.mkdir(parents=True, exist_ok=True)
    # valid JSON always: a non-finite figure is written as null and listed under "non_finite"
    return write_json(out / "results.json", results, indent=1, default=_jsonable)


def _jsonable(value):
    if isinstance(value, tuple | set):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")
