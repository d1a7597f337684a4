"""Training throughput on 1 and 2 processes, side by side in one run, with the core count.

The same training (``rnn-autograd train``: nn.RNN, hidden 256, batch 32, 20 steps, the seed
data, detach) runs as one process and as ``--nproc 2`` (DDP over gloo on 127.0.0.1, each rank
16 rows of every batch). Each process gets its share of the cores as threads
(``cores // processes``, at least 1); one process on one thread is shown too, as the per-core
baseline. The figure is the trainer's own tokens/s of the last epoch (all ranks' tokens over
rank 0's wall time), so process start-up is not counted. Configurations are interleaved round by
round, so a machine whose load drifts slows all alike; the table gives the median of each and
its ratio to the faster of the two 1-process figures. Run with::

    pytest tests/benchmarks/test_processes.py --benchmark-only -s

``RNN_AUTOGRAD_BENCH_ROUNDS`` sets the rounds (default 3). No speed is asserted: on a machine
with 2 cores shared with other work, 2 processes may well be slower than 1.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("RNN_AUTOGRAD_BENCH_ROUNDS", "3"))
CORES = os.cpu_count() or 1
TRAIN = ["train", "--runs", "4000", "--batch-size", "32", "--hidden", "256", "--quiet"]
TRAIN += ["--epochs", "2", "--eval-fraction", "0"]
# (label, processes, threads per process)
CONFIGS = [
    ("1 process, 1 thread", 1, 1),
    (f"1 process, {CORES} threads", 1, CORES),
    (f"2 processes, {max(1, CORES // 2)} thread(s) each", 2, max(1, CORES // 2)),
]


def _tokens_per_s(nproc: int, threads: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "rnn_autograd", *TRAIN, "--threads", str(threads)]
    cmd += ["--nproc", str(nproc), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        assert proc.wait(timeout=600) == 0, cmd
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and, with it, its ranks
        proc.wait()
        pytest.fail(f"{cmd} ran past 600 s")
    return json.loads((out / "metrics.json").read_text())["tokens_per_s"]


def test_throughput_on_1_and_2_processes(benchmark):
    figures: dict[str, list[float]] = {label: [] for label, _, _ in CONFIGS}

    def rounds() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(ROUNDS):
                for label, nproc, threads in CONFIGS:
                    out = Path(tmp) / f"{r}-{nproc}-{threads}"
                    figures[label].append(_tokens_per_s(nproc, threads, out))

    benchmark.pedantic(rounds, rounds=1, iterations=1)
    # the base: the faster of the two 1-process configurations (threads can hurt on a busy CPU)
    base = max(statistics.median(figures[label]) for label, nproc, _ in CONFIGS if nproc == 1)
    lines = [f"\ntraining throughput on {CORES} cores ({ROUNDS} rounds, median tokens/s):"]
    for label, _, _ in CONFIGS:
        median = statistics.median(figures[label])
        lines.append(
            f"  {label:<34} {median:>10,.0f}  x{median / base:.2f} of the faster 1 process"
        )
        benchmark.extra_info[label] = median
    benchmark.extra_info["cpu_count"] = CORES
    print("\n".join(lines))
