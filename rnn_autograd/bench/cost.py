"""The benchmark's cost sections: time, saved-for-backward bytes and process peak per batch.

Measurements go through the trainer's ``on_batch`` hook: the time stamp after each batch, and
the peak of bytes saved for backward during that batch (``SavedTensorMeter``, parameters
excluded, its peak reset after every batch so that ``saved_trace[i]`` is batch ``i``'s peak).
Strategies are measured interleaved: every repeat runs each once, in an order rotated per
repeat, so that drift of a shared machine hits all alike; ratios are taken within a repeat.
Also the helpers the learning sections share: seeded model, data, the call into the trainer.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from itertools import islice

import torch

from ..diagnose.memory import (
    SavedTensorMeter,
    process_peak_rss_bytes,
    process_rss_bytes,
    reset_process_peak,
)
from ..errors import UsageError
from ..pipeline.data import counting_sequence, sequential_batches
from ..pipeline.model import RNNModel
from ..pipeline.state import TBPTT, Window, parse_strategy
from ..pipeline.training import train
from .config import BenchConfig, check_config

__all__ = ["cost_section", "least_squares", "measure_run", "validate", "window_section"]

SEED_VOCAB, RUN_LENGTH = 20, 5  # the notebook's 20 classes; runs of 5


def validate(config: BenchConfig) -> None:
    """Check a configuration before any work; ``UsageError`` names what is wrong."""
    check_config(config)
    groups = [
        (set(config.strategies) | {f"window:{k}" for k in config.windows}, config.num_steps),
        (set(config.recall_strategies), config.recall_num_steps),
        (set(config.batching_strategies), config.batching_num_steps),
    ]
    for specs, num_steps in groups:
        for spec in specs:
            strategy = parse_strategy(spec)  # raises UsageError for an unknown form
            if strategy.spec == "carry":
                raise UsageError(
                    "'carry' fails on its second batch by design, so it cannot be benchmarked; "
                    "drop it from the strategies"
                )
            if isinstance(strategy, TBPTT):
                strategy._spans(num_steps)  # K1, K2 multiples of num_steps, else UsageError
    if config.repeats < 1 or config.cost_batches < 1:
        raise UsageError(
            f"repeats and cost batches must be >= 1; got {config.repeats}, {config.cost_batches}"
        )
    if config.data != "seed":
        _check_text_length(config)
    if not config.recall_num_steps < config.recall_delay:
        raise UsageError(
            f"the recall task needs num_steps < delay (a dependency longer than a batch); "
            f"got recall num_steps={config.recall_num_steps}, delay={config.recall_delay}"
        )


def _check_text_length(config: BenchConfig) -> None:
    """A text file long enough for every cost measurement (whole periods, at least two) and
    for one held-out batch in its last tenth (the learning section)."""
    from ..pipeline.corpus import load_char_corpus

    have = len(load_char_corpus(config.data, max_chars=config.max_chars).ids)
    specs = [*config.strategies, *(f"window:{k}" for k in config.windows)]
    periods = [_period(s, config.num_steps) for s in specs]
    most = max(max(math.ceil(config.cost_batches / p), 2) * p for p in periods)
    batch_tokens = config.batch_size * config.num_steps
    need = max(most * batch_tokens + 1, 10 * (batch_tokens + 1))
    if have < need:
        raise UsageError(
            f"data {config.data}: {have} characters after normalising are too few for the "
            f"benchmark's batches ({need} needed at batch size {config.batch_size} x "
            f"{config.num_steps} steps); give a longer text file, or use the seed data"
        )


def least_squares(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Slope, intercept and R² of the least-squares line through ``(xs, ys)``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return slope, intercept, (1 - ss_res / ss_tot) if ss_tot else 1.0


def _stats(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def _period(spec: str, num_steps: int) -> int:
    """Batches between optimizer steps: a time measurement covers whole periods."""
    s = parse_strategy(spec)
    if isinstance(s, Window):
        return s.k
    if isinstance(s, TBPTT):
        return s.k1 // num_steps
    return 1


def _model(config: BenchConfig, vocab_size: int) -> RNNModel:
    torch.manual_seed(config.seed)  # every strategy starts from the same weights
    return RNNModel(vocab_size, config.num_hiddens, cell=config.cell)


def _text_or_counting(config: BenchConfig, runs: int, seed: int) -> tuple[list[int], int]:
    if config.data == "seed":
        return counting_sequence(num_runs=runs, seed=seed), SEED_VOCAB
    from ..pipeline.corpus import load_char_corpus

    corpus = load_char_corpus(config.data, max_chars=config.max_chars)
    return corpus.ids, len(corpus.vocab)


def _fit(
    model, batches, spec, config: BenchConfig, epochs: int, on_batch=None, lr_decay: float = 1.0
):
    return train(
        model,
        batches,
        spec,
        epochs=epochs,
        lr=config.lr,
        lr_decay=lr_decay,
        clip=config.clip,
        optimizer=config.optimizer,
        device=config.device,
        on_batch=on_batch,
    )


def measure_run(config: BenchConfig, spec: str, n_batches: int) -> dict:
    """Train ``spec`` for ``n_batches`` sequential batches; per-batch times and saved bytes."""
    tokens, vocab = _text_or_counting(
        config,
        runs=n_batches * config.batch_size * config.num_steps // RUN_LENGTH + 10,
        seed=config.seed,
    )
    batches = list(
        islice(sequential_batches(tokens, config.batch_size, config.num_steps), n_batches)
    )
    model = _model(config, vocab)
    meter = SavedTensorMeter(exclude=list(model.parameters()))
    stamps: list[float] = []
    trace: list[int] = []

    def on_batch(i: int, info: dict) -> None:
        if config.device != "cpu" and torch.cuda.is_available():
            torch.cuda.synchronize()  # the stamp covers the batch's queued kernels
        stamps.append(time.perf_counter())
        trace.append(meter.peak_bytes)
        meter.reset_peak()

    # the peak from here on, less the size now: what this run adds (None where unknown)
    peak_is_fresh = reset_process_peak()
    rss_before = process_rss_bytes()
    start = time.perf_counter()
    with meter:
        _fit(model, batches, spec, config, epochs=1, on_batch=on_batch)
    period = _period(spec, config.num_steps)
    # whole periods only (a window's batches differ: only the last runs backward), the first
    # skipped (first touches of memory); the median resists a neighbour stealing the CPU
    per_period = [
        (stamps[i + period] - stamps[i]) / period
        for i in range(period - 1, len(stamps) - period, period)
    ]
    seconds = statistics.median(per_period)
    return {
        "time_per_batch_s": seconds,
        "mean_time_per_batch_s": (stamps[-1] - stamps[period - 1]) / (len(stamps) - period),
        "tokens_per_s": config.batch_size * config.num_steps / seconds,
        "batches": len(stamps),
        "first_batch_s": stamps[0] - start,
        # each batch's own duration: a window's closing batch (its backward) apart from the rest
        "batch_s": [b - a for a, b in zip([start, *stamps], stamps, strict=False)],
        "saved_trace": trace,
        "saved_peak_bytes": max(trace),
        "rss_peak_bytes": (peak := process_peak_rss_bytes()),
        # the kernel updates the peak lazily, so it can read a little below the size before
        "rss_growth_bytes": max(peak - rss_before, 0)
        if peak_is_fresh and peak and rss_before
        else None,
    }


def _interleaved(config: BenchConfig, specs: list[str]) -> dict[str, list[dict]]:
    """Every spec measured once per repeat, in an order rotated each repeat."""

    def n_for(spec: str) -> int:
        p = _period(spec, config.num_steps)
        return max(math.ceil(config.cost_batches / p), 2) * p

    for spec in specs:  # warm-up: allocator, lazy imports, first-call dispatch
        measure_run(config, spec, 2 * _period(spec, config.num_steps))
    runs: dict[str, list[dict]] = {s: [] for s in specs}
    for r in range(config.repeats):
        order = specs[r % len(specs) :] + specs[: r % len(specs)]
        for spec in order:
            runs[spec].append(measure_run(config, spec, n_for(spec)))
        if not config.quiet:
            print(f"[bench]   repeat {r + 1}/{config.repeats}", file=sys.stderr, flush=True)
    return runs


def cost_section(config: BenchConfig) -> dict:
    specs = list(dict.fromkeys(["fresh", *config.strategies]))
    runs = _interleaved(config, specs)
    base = runs["fresh"]
    summary = {}
    for spec, rs in runs.items():
        times = [r["time_per_batch_s"] for r in rs]
        ratios = [
            r["time_per_batch_s"] / b["time_per_batch_s"] for r, b in zip(rs, base, strict=True)
        ]
        summary[spec] = {
            "time_per_batch_s": _stats(times),
            "time_ratio_to_fresh": _stats(ratios),
            "tokens_per_s_ratio_to_fresh": _stats([1 / q for q in ratios]),
            "saved_peak_bytes": rs[0]["saved_peak_bytes"],
            "saved_ratio_to_fresh": rs[0]["saved_peak_bytes"] / base[0]["saved_peak_bytes"],
            "rss_peak_bytes": _stats([r["rss_peak_bytes"] or 0 for r in rs]),
            "rss_growth_bytes": _stats([r["rss_growth_bytes"] or 0 for r in rs]),
        }
    return {
        "batches": config.cost_batches,
        "repeats": config.repeats,
        "runs": runs,
        "summary": summary,
    }


def _split_window(spec: str, runs: list[dict], num_steps: int) -> dict:
    """The median duration of a batch that only runs forward (inside a window) and of one that
    closes a period (forward, backward over the period, clip, step), over the repeats' batches
    after the first period, and per repeat; None for a strategy whose every batch closes one."""
    period = _period(spec, num_steps)
    per_repeat = []
    for r in runs:
        inner, closing = [], []
        for i, d in enumerate(r["batch_s"][period:], start=period):
            (closing if (i + 1) % period == 0 else inner).append(d)
        per_repeat.append((inner, closing))
    inner = [d for i, _ in per_repeat for d in i]
    closing = [d for _, c in per_repeat for d in c]
    if not inner or not closing:
        return {"forward_batch_s": None, "closing_batch_s": None}
    return {
        "forward_batch_s": statistics.median(inner),
        "closing_batch_s": statistics.median(closing),
        "forward_batch_s_per_repeat": [statistics.median(i) for i, _ in per_repeat],
        "closing_batch_s_per_repeat": [statistics.median(c) for _, c in per_repeat],
    }


def window_section(config: BenchConfig) -> dict:
    specs = ["detach"] + [f"window:{k}" for k in config.windows]
    runs = _interleaved(config, specs)
    rows = {}
    for spec in specs:
        rs = runs[spec]
        rows[spec] = {
            "window": _period(spec, config.num_steps) if spec != "detach" else 1,
            "time_per_batch_s": _stats([r["time_per_batch_s"] for r in rs]),
            "saved_peak_bytes": rs[0]["saved_peak_bytes"],
            "saved_trace": rs[0]["saved_trace"],
            **_split_window(spec, rs, config.num_steps),
        }
    ks = [rows[s]["window"] for s in specs[1:]]
    s_slope, s_icpt, s_r2 = least_squares(ks, [rows[s]["saved_peak_bytes"] for s in specs[1:]])
    t_slope, t_icpt, t_r2 = least_squares(
        ks, [rows[s]["time_per_batch_s"]["median"] for s in specs[1:]]
    )
    detach_trace = rows["detach"]["saved_trace"]
    k = max(config.windows)
    win_trace = rows[f"window:{k}"]["saved_trace"]
    d_slope = least_squares(list(range(len(detach_trace))), detach_trace)[0]
    w_slope = least_squares([i % k for i in range(len(win_trace))], win_trace)[0]
    return {
        "rows": rows,
        "runs": runs,
        "fit": {
            "saved_slope_bytes": s_slope,
            "saved_intercept_bytes": s_icpt,
            "saved_r2": s_r2,
            "time_slope_s": t_slope,
            "time_intercept_s": t_icpt,
            "time_r2": t_r2,
        },
        "detach_trace_slope_bytes": d_slope,
        "trace_window": k,
        "window_trace_slope_bytes": w_slope,
    }
