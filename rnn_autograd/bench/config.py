"""The benchmark's configuration: ``BenchConfig`` and the named presets.

``preset("tiny" | "quick" | "full", **overrides)`` gives a configuration; ``rnn_autograd.bench.run``
runs it. Kept apart from the runner so that the sections (``cost``, ``learning``) can take
``BenchConfig`` from here while the runner imports the sections: no import circle.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..errors import UsageError
from ..pipeline.bounds import (
    JOB_BUDGET_S,
    SEED_MAX,
    STEP_FLOOR_S,
    check_float,
    check_int,
    check_seconds,
    cpu_threads,
)

__all__ = ["PRESETS", "BenchConfig", "check_config", "preset"]


@dataclass(frozen=True)
class BenchConfig:
    """Everything a benchmark run depends on; ``preset(name, **overrides)`` gives the usual ones.

    Sizes are in batches (of ``batch_size`` rows by ``num_steps`` tokens) unless said otherwise.
    """

    preset: str = "custom"
    strategies: tuple[str, ...] = ("fresh", "detach", "window:2", "window:4", "tbptt:10,20")
    data: str = "seed"  # "seed": the notebook's counting sequence; else a UTF-8 text file
    repeats: int = 3
    cell: str = "rnn"
    num_hiddens: int = 64
    batch_size: int = 16
    num_steps: int = 10
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float = 1.0
    device: str = "cpu"
    threads: int | None = 1  # torch threads while benchmarking (None: leave as is)
    seed: int = 0
    seeds: int = 1  # the learning sections (3, 4, 5) run once per seed: mean, spread, tests
    # 1-2: cost
    cost_batches: int = 32  # measured batches per strategy and repeat (after one warm-up pass)
    windows: tuple[int, ...] = (1, 2, 4, 8)
    # 3: learning on the counting sequence (or the text file)
    train_runs: int = 2000  # runs of 5 tokens in the training sequence
    heldout_runs: int = 2000  # evaluation is cheap: a large held-out set, small noise
    train_epochs: int = 6  # the token budget: epochs over the training sequence
    max_chars: int | None = 100_000  # text data only
    # 4: delayed recall (its own sizes: a memory task wants a gated cell and short batches)
    recall_delay: int = 6
    recall_keys: int = 4
    recall_num_steps: int = 4
    recall_cell: str = "gru"
    recall_lr: float = 0.02
    recall_strategies: tuple[str, ...] = ("fresh", "detach", "window:4", "tbptt:4,12")
    recall_episodes: int = 1200
    recall_epochs: int = 8
    # 5: batching
    batching_sizes: tuple[int, ...] = (50, 48)
    batching_strategies: tuple[str, ...] = ("detach", "fresh")
    batching_num_steps: int = 20  # the notebook's
    batching_runs: int = 300
    batching_epochs: int = 3
    batching_lr_decay: float = 1.0  # epoch e trains at lr * decay ** e (the full preset decays)
    quiet: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, dict] = {
    # the docs build runs this one: a few seconds per section
    "tiny": dict(
        repeats=2,
        strategies=("fresh", "detach", "window:2", "tbptt:10,20"),
        num_hiddens=32,
        cost_batches=8,
        windows=(1, 2, 4),
        train_runs=600,
        heldout_runs=400,
        train_epochs=4,
        recall_strategies=("fresh", "detach", "tbptt:4,12"),
        recall_episodes=800,
        recall_epochs=6,
        batching_runs=200,
        batching_epochs=2,
    ),
    # the docs build runs this one: tiny's sizes, the learning sections (3, 4, 5) over 4 seeds and
    # the cost over 4 repeats, so that the page can say which differences hold (t-tests,
    # rnn_autograd.bench.stats)
    "docs": dict(seeds=4, repeats=4),
    # `rnn-autograd bench --quick`: under a minute on two cores
    "quick": dict(),
    # the default of `rnn-autograd bench`: the notebook's sizes, minutes
    "full": dict(
        repeats=5,
        strategies=("fresh", "detach", "window:2", "window:4", "window:8", "tbptt:20,40"),
        num_hiddens=256,
        batch_size=32,
        num_steps=20,
        lr=0.002,  # 0.005 let a 256-unit tanh RNN saturate late in training (measured)
        cost_batches=64,
        windows=(1, 2, 4, 8, 16),
        train_runs=10_000,
        heldout_runs=4000,
        train_epochs=10,
        max_chars=None,
        recall_delay=10,
        recall_num_steps=5,
        recall_strategies=("fresh", "detach", "window:4", "tbptt:5,15"),
        recall_episodes=4000,
        recall_epochs=15,
        batching_runs=2000,
        batching_epochs=5,
        # Adam's step does not shrink with a clipped gradient (it divides by the gradient's
        # own running scale): at a constant lr, over rows carried for 4000 tokens, it kept
        # growing the recurrent weights after the loss had flattened; the state became a stiff
        # period-5 clock that a zero start could not set, and held-out rows read from zeros
        # stayed out of phase (measured: a carried sequential row at 2.6 against its limit
        # 1.62, for about one seed in two). A decaying lr ends those late steps; the same for
        # every row of the section.
        batching_lr_decay=0.7,
    ),
}


def preset(name: str, **overrides) -> BenchConfig:
    """The named preset (``tiny``, ``quick``, ``full``) with ``overrides`` applied and checked."""
    if not isinstance(name, str) or name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    known = {f.name for f in fields(BenchConfig)} - {"preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"preset() has no setting {unknown[0]!r}{hint}; see BenchConfig's fields")
    base = PRESETS["tiny"] if name == "docs" else {}  # docs: tiny's sizes, with its own seeds
    config = replace(BenchConfig(preset=name), **{**base, **PRESETS[name]})
    config = replace(config, **overrides)
    check_config(config)
    return config


_POSITIVE_INTS = [
    "repeats",
    "seeds",
    "num_hiddens",
    "batch_size",
    "num_steps",
    "cost_batches",
    "train_runs",
    "heldout_runs",
    "train_epochs",
    "recall_delay",
    "recall_keys",
    "recall_num_steps",
    "recall_episodes",
    "recall_epochs",
    "batching_num_steps",
    "batching_runs",
    "batching_epochs",
]
_STRATEGY_LISTS = ("strategies", "recall_strategies", "batching_strategies")


def check_config(config: BenchConfig) -> None:
    """Every setting of ``config`` has its type and range; one ``UsageError`` line otherwise.

    The checks that need the strategies parsed (``carry``, tbptt spans) are in
    ``rnn_autograd.bench.cost.validate``, which calls this first.
    """
    if not isinstance(config, BenchConfig):
        raise UsageError(
            f"run_bench takes a BenchConfig (from preset(...)); got {type(config).__name__}"
        )
    for name in _POSITIVE_INTS:
        check_int(getattr(config, name), name)
    check_int(config.seed, "seed", lo=0, hi=SEED_MAX)
    check_int(config.seeds, "seeds", lo=1, hi=100)
    if config.seed + 2 * config.seeds > SEED_MAX:  # seeds run at seed, seed + 2, ... (+1 held out)
        raise UsageError(
            f"seed {config.seed} leaves no room for {config.seeds} seeds; use a smaller seed"
        )
    if config.threads is not None:
        check_int(config.threads, "threads", lo=1, hi=cpu_threads())
    if config.max_chars is not None:
        check_int(config.max_chars, "max_chars")
    check_float(config.lr, "lr", lo=0, lo_open=True)
    check_float(config.recall_lr, "recall_lr", lo=0, lo_open=True)
    check_float(config.clip, "clip", lo=0, lo_open=True)
    check_float(config.batching_lr_decay, "batching_lr_decay", lo=0, hi=1, lo_open=True)
    for name in ("windows", "batching_sizes", *_STRATEGY_LISTS):
        value = getattr(config, name)
        if isinstance(value, str) or not isinstance(value, tuple | list) or not value:
            raise UsageError(f"{name} must be a non-empty tuple; got {value!r}")
    for name in ("windows", "batching_sizes"):
        for k in getattr(config, name):
            check_int(k, f"an entry of {name}")
    for name in ("cell", "recall_cell"):
        if getattr(config, name) not in ("rnn", "gru", "lstm"):
            raise UsageError(f"{name} must be rnn, gru or lstm; got {getattr(config, name)!r}")
    if config.optimizer not in ("sgd", "adam"):
        raise UsageError(f"optimizer must be sgd or adam; got {config.optimizer!r}")
    if not isinstance(config.device, str) or not (
        config.device in ("cpu", "cuda") or config.device.startswith("cuda:")
    ):
        raise UsageError(f"device must be cpu or cuda; got {config.device!r}")
    if not isinstance(config.data, str) or not (
        config.data == "seed" or Path(config.data).is_file()
    ):
        raise UsageError(f"data must be 'seed' or an existing text file; got {config.data!r}")
    # a lower bound on the cost sections' time: every repeat trains each strategy for
    # cost_batches batches (and the window sweep as many), each at least one step's overhead
    batches = config.repeats * config.cost_batches * (len(config.strategies) + len(config.windows))
    check_seconds(batches * STEP_FLOOR_S, "the cost sections", JOB_BUDGET_S, "use fewer repeats")
