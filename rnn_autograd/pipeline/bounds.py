"""Upper bounds from what the machine can do: memory it has free, cores, time at a generous speed.

Every size a user gives (hidden units, layers, runs of data, batch shape, predicted tokens,
threads) is checked here *before* anything is allocated, so a typo such as ``--hidden 100000``
is one line naming the largest value that fits, not an allocator error after a minute.

The estimates are deliberately optimistic about the machine (float32 weights, activations of one
batch only, a compute rate no CPU core beats), so a refusal means the run cannot fit or finish,
never that it merely might be slow. ``check_int`` and ``check_float`` are the argument checks the
library's public functions share: one ``UsageError`` line naming the argument and its range.
"""

from __future__ import annotations

import math
import numbers
import os

from ..errors import UsageError

__all__ = [
    "FAST_FLOPS",
    "SEED_MAX",
    "available_memory",
    "check_float",
    "check_int",
    "check_memory",
    "check_seconds",
    "cpu_threads",
    "largest",
    "most_predict_steps",
    "model_parameters",
    "training_bytes",
]

#: the seeds torch.manual_seed and torch.Generator accept without overflow: [0, 2**64 - 1]
SEED_MAX = 2**64 - 1
#: a compute rate (float ops per second) above what one process reaches on any CPU here; a run
#: estimated longer than the budget at this rate cannot finish in the budget anywhere
FAST_FLOPS = 1e12
#: the least time one optimizer step of a PyTorch model costs in Python (dispatch, autograd)
STEP_FLOOR_S = 2e-5
#: the least time one layer spends on one time step, forward and backward (kernel calls); measured
#: 100-200 us for nn.RNN and nn.LSTM on a loaded 2-core CPU, so this is far below any real cost
LAYER_STEP_FLOOR_S = 5e-6
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
FLOAT = 4  # bytes per float32


def check_int(value, name: str, lo: int | None = 1, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]``; a bool, float or text is refused, naming ``name``."""
    rng = _range_text(lo, hi)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be a whole number {rng}; got {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UsageError(f"{name} must be {rng}; got {_short(value)}")
    return value


def check_float(
    value, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    left = "(" if lo_open else "["
    rng = (
        f"in {left}{_g(lo)}, {_g(hi)}]"
        if hi is not None
        else f"{'>' if lo_open else '>='} {_g(lo)}"
    )
    if lo is None and hi is None:
        rng = "finite"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a number {rng}; got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    bad = bad or (lo is not None and (value <= lo if lo_open else value < lo))
    bad = bad or (hi is not None and value > hi)
    if bad:
        raise UsageError(f"{name} must be a finite number {rng}; got {value!r}")
    return value


def _g(x) -> str:
    return "-inf" if x is None else f"{x:g}"


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"from {lo} to {_short(hi)}"
    if lo is not None:
        return f">= {lo}"
    if hi is not None:
        return f"<= {_short(hi)}"
    return ""


def _short(n: int) -> str:
    text = str(n)
    return text if len(text) <= 24 else f"{text[:10]}...({len(text)} digits)"


def available_memory() -> int:
    """Bytes of memory free for a new allocation: MemAvailable, else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30  # unknown: assume a laptop


def cpu_threads() -> int:
    """The CPUs this process may run on: more torch threads than this only wait on each other."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return max(os.cpu_count() or 1, 1)


def model_parameters(vocab: int, hidden: int, layers: int = 1, cell: str = "rnn") -> int:
    """Parameters of ``RNNModel``: the recurrent layers and the linear head."""
    g = GATES.get(cell, 4)
    first = g * hidden * (vocab + hidden + 2)
    rest = (layers - 1) * g * hidden * (2 * hidden + 2)
    return first + rest + vocab * (hidden + 1)


def training_bytes(
    vocab: int,
    hidden: int,
    layers: int = 1,
    cell: str = "rnn",
    batch_tokens: int = 0,
    optimizer_slots: int = 2,
) -> int:
    """Bytes training needs at least: weights, gradients and ``optimizer_slots`` (Adam: 2),
    plus one batch's activations (gate outputs per layer, one-hot input, logits)."""
    params = model_parameters(vocab, hidden, layers, cell)
    acts = batch_tokens * (GATES.get(cell, 4) * hidden * layers * 2 + 3 * vocab)
    return FLOAT * (params * (2 + optimizer_slots) + acts)


def _gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def check_memory(need: int, what: str, fix: str) -> None:
    """Refuse when ``need`` bytes exceed the memory free now."""
    free = available_memory()
    if need > free:
        raise UsageError(
            f"{what} would need at least {_gb(need)} of memory; this machine has {_gb(free)} "
            f"free: {fix}"
        )


def check_seconds(seconds: float, what: str, budget: float, fix: str) -> None:
    """Refuse a run whose optimistic time estimate exceeds ``budget`` seconds."""
    if seconds > budget:
        raise UsageError(
            f"{what} would take more than {_duration(budget)} even on a fast machine "
            f"(at least {_duration(seconds)}): {fix}"
        )


def _duration(s: float) -> str:
    if s >= 86400:
        return f"{s / 86400:,.0f} days" if s < 86400 * 1e6 else "a million days"
    if s >= 3600:
        return "an hour" if round(s / 3600) == 1 else f"{s / 3600:.0f} hours"
    return f"{s / 60:.0f} minutes"


def largest(fits, lo: int = 1, hi: int = 2**62) -> int:
    """The largest ``n`` in ``[lo, hi]`` with ``fits(n)`` (``fits`` monotone); ``lo - 1`` if none."""
    if not fits(lo):
        return lo - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_model_size(
    vocab: int,
    hidden: int,
    layers: int,
    cell: str,
    *,
    batch_tokens: int = 0,
    optimizer_slots: int = 0,
    names: tuple[str, str] = ("num_hiddens", "num_layers"),
) -> None:
    """Refuse a model (with its training state, when ``optimizer_slots`` and ``batch_tokens``
    are given) that cannot fit in the memory free now; the message names the largest
    ``names[0]`` that fits at this many layers."""

    def need(h: int, n_layers: int = layers) -> int:
        return training_bytes(vocab, h, n_layers, cell, batch_tokens, optimizer_slots)

    free = available_memory()
    if need(hidden) <= free:
        return
    best = largest(lambda h: need(h) <= free)
    fix = f"use at most {names[0]} {best}" if best >= 1 else f"use fewer {names[1]}"
    if best >= 1 and layers > 1:
        fix += f" at {names[1]} {layers}, or fewer {names[1]}"
    what = f"a {cell} model of {hidden} hidden units x {layers} layer(s) over {vocab} tokens"
    if optimizer_slots or batch_tokens:
        what = f"training {what}"
    check_memory(need(hidden), what, fix)


#: an interactive command's time budget (predict), and a batch job's (train, bench)
PREDICT_BUDGET_S = 3600.0
JOB_BUDGET_S = 7 * 86400.0
TOKEN_BYTES = 64  # a predicted token kept in a Python list, then in the printed text


def most_predict_steps(params: int) -> int:
    """The most tokens one prediction may ask for: what an hour allows (one forward step each,
    at least ``STEP_FLOOR_S``) and the memory free now holds."""
    per_step = max(STEP_FLOOR_S, 2 * params / FAST_FLOPS)
    return min(int(PREDICT_BUDGET_S / per_step), available_memory() // TOKEN_BYTES)


def check_predict_steps(num_preds: int, params: int, name: str = "num_preds") -> None:
    """Refuse more predicted tokens than ``most_predict_steps`` allows."""
    most = most_predict_steps(params)
    if num_preds > most:
        raise UsageError(
            f"{name} {_short(num_preds)}: one forward step per token cannot finish within "
            f"{_duration(PREDICT_BUDGET_S)} or fit in memory; use at most {name} {most}"
        )


def check_training_time(
    tokens_per_epoch: int,
    epochs: int,
    params: int,
    names: str,
    layers: int = 1,
    batch_size: int = 1,
) -> None:
    """Refuse a training run that cannot finish within ``JOB_BUDGET_S`` on any machine: the
    float operations (forward and backward, about 6 per parameter and token) at ``FAST_FLOPS``,
    or, if more, one ``LAYER_STEP_FLOOR_S`` per layer and time step (a recurrent layer runs its
    steps one after another, each a kernel call forward and one backward)."""
    flops_s = epochs * tokens_per_epoch * 6 * params / FAST_FLOPS
    steps_s = epochs * (tokens_per_epoch / max(batch_size, 1)) * layers * LAYER_STEP_FLOOR_S
    check_seconds(max(flops_s, steps_s), "this training run", JOB_BUDGET_S, f"reduce {names}")
