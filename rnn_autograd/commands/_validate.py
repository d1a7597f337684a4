"""Checks the subcommands share: option types with ranges, and what ``train --resume`` may change.

Not a subcommand (``cli`` skips modules whose name starts with ``_``). Option types raise
``argparse.ArgumentTypeError``, which argparse prints as one line naming the option
(``argument --hidden: expected a whole number >= 1; got '0'``), exit status 2, before any work.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..pipeline.bounds import (
    SEED_MAX,
    check_model_size,
    check_training_time,
    cpu_threads,
    model_parameters,
)

__all__ = [
    "FROM_CHECKPOINT",
    "RESUME_MAY_CHANGE",
    "check_run_config",
    "check_sizes",
    "number",
    "resumed_config",
    "seed",
    "threads",
    "whole",
]


def _int_text(text: str) -> int | None:
    text = text.strip().replace("_", "")
    if text.lstrip("+-").isdigit() and len(text) <= 40:
        return int(text)
    return None


def whole(lo: int | None = 1, hi: int | None = None):
    """An argparse type: a whole number in ``[lo, hi]`` (no ``1e9``: say 1000000000)."""
    rng = (
        f"from {lo} to {hi}"
        if lo is not None and hi is not None
        else (f">= {lo}" if lo is not None else "")
    )

    def parse(text: str) -> int:
        n = _int_text(text)
        if n is None or (lo is not None and n < lo) or (hi is not None and n > hi):
            shown = text if len(text) <= 30 else text[:27] + "..."
            raise argparse.ArgumentTypeError(f"expected a whole number {rng}; got {shown!r}")
        return n

    parse.__name__ = "whole number"
    return parse


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False):
    """An argparse type: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    if hi is not None:
        rng = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    elif lo is not None:
        rng = f"{'>' if lo_open else '>='} {lo:g}"
    else:
        rng = "(finite)"

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        ok = math.isfinite(x)
        ok = ok and (lo is None or (x > lo if lo_open else x >= lo))
        ok = ok and (hi is None or x <= hi)
        if not ok:
            shown = text if len(text) <= 30 else text[:27] + "..."
            raise argparse.ArgumentTypeError(f"expected a finite number {rng}; got {shown!r}")
        return x

    parse.__name__ = "number"
    return parse


#: torch.manual_seed takes seeds in [0, 2**64 - 1]
seed = whole(0, SEED_MAX)


def threads(text: str) -> int:
    """An argparse type: torch threads, at most the CPUs this process may use."""
    return whole(1, cpu_threads())(text)


#: ``train --resume``: these come from the checkpoint's run; giving another value is refused
FROM_CHECKPOINT = {
    "data": "--data",
    "cell": "--cell",
    "strategy": "--strategy",
    "batching": "--batching",
    "batch_size": "--batch-size",
    "num_steps": "--num-steps",
    "hidden": "--hidden",
    "layers": "--layers",
    "optimizer": "--optimizer",
    "seed": "--seed",
    "runs": "--runs",
    "max_chars": "--max-chars",
    "eval_fraction": "--eval-fraction",
}
#: ``train --resume``: these may change (the optimizer's lr is set every epoch; clipping is per step)
RESUME_MAY_CHANGE = {"lr": "--lr", "lr_decay": "--lr-decay", "clip": "--clip"}

# the run configuration a checkpoint's "config" holds, with the checks the options have
_CONFIG_TYPES: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "data": (str, False),
    "cell": (str, False),
    "strategy": (str, False),
    "batching": (str, False),
    "batch_size": (int, False),
    "num_steps": (int, False),
    "hidden": (int, False),
    "layers": (int, False),
    "lr": ((int, float), False),
    "clip": ((int, float), True),
    "optimizer": (str, False),
    "seed": (int, False),
    "runs": (int, False),
    "max_chars": (int, True),
    "eval_fraction": ((int, float), False),
}


def check_run_config(cfg: Any, path) -> dict:
    """The ``config`` a checkpoint of ``train`` holds, checked key by key."""
    from ..pipeline.data import BATCHINGS
    from ..pipeline.model import CELLS
    from ..pipeline.state import parse_strategy
    from ..pipeline.training import OPTIMIZERS

    def bad(what: str) -> UsageError:
        return UsageError(
            f"checkpoint {path} is damaged or not from this version: {what}; train afresh "
            f"with --overwrite"
        )

    if not isinstance(cfg, dict):
        raise bad("it has no run config (the 'config' entry train writes)")
    for key, (kind, optional) in _CONFIG_TYPES.items():
        if key not in cfg:
            raise bad(f"its config has no {key!r}")
        v = cfg[key]
        if v is None and optional:
            continue
        if isinstance(v, bool) or not isinstance(v, kind):
            raise bad(f"its config's {key} is {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise bad(f"its config's {key} is {v!r}, not finite")
    choices = {"cell": tuple(CELLS), "batching": BATCHINGS, "optimizer": OPTIMIZERS}
    for key, allowed in choices.items():
        if cfg[key] not in allowed:
            raise bad(f"its config's {key} {cfg[key]!r} is not one of {', '.join(allowed)}")
    for key in ("batch_size", "num_steps", "hidden", "layers", "runs"):
        if cfg[key] < 1:
            raise bad(f"its config's {key} is {cfg[key]}, not >= 1")
    if not cfg["lr"] > 0 or (cfg["clip"] is not None and not cfg["clip"] > 0):
        raise bad("its config's lr or clip is not > 0")
    lr_decay = cfg.get("lr_decay", 1.0)
    if isinstance(lr_decay, bool) or not isinstance(lr_decay, int | float) or not 0 < lr_decay <= 1:
        raise bad(f"its config's lr_decay is {lr_decay!r}, not in (0, 1]")
    if not 0 <= cfg["seed"] <= SEED_MAX or not 0 <= cfg["eval_fraction"] < 1:
        raise bad("its config's seed or eval_fraction is out of range")
    try:
        parse_strategy(cfg["strategy"])
    except UsageError:
        raise bad(f"its config's strategy {cfg['strategy']!r} is unknown") from None
    return cfg


def resumed_config(
    args: argparse.Namespace, ckpt: dict, ckpt_path: Path, defaults: dict
) -> tuple[dict, list]:
    """The checkpoint's run configuration with the changes resuming allows, and the notes that
    say so (printed once every check has passed)."""
    cfg = dict(check_run_config(ckpt.get("config"), ckpt_path))
    notes = []
    for key, option in FROM_CHECKPOINT.items():
        given = getattr(args, key, None)
        if given is None:
            continue
        have = cfg.get(key)
        if key == "data" and given != "seed":
            given = str(Path(given).resolve())
        if given != have:
            raise UsageError(
                f"{option} {given} conflicts with the run being resumed ({option} {have}); a "
                f"resumed run keeps its {option.lstrip('-')}: drop {option}, or train afresh "
                f"with --overwrite"
            )
    for key, option in RESUME_MAY_CHANGE.items():
        given = getattr(args, key, None)
        if given is None:
            continue
        if key == "clip":
            given = given or None
        if given != cfg.get(key, defaults.get(key)):
            notes.append(
                f"rnn-autograd train: resuming with {option} {given if given is not None else 0} "
                f"(the run had {cfg.get(key, defaults.get(key))})"
            )
            cfg[key] = given
    return cfg, notes


def check_sizes(cfg: dict, tokens: list, vocab_size: int, epochs: int) -> None:
    """Memory for the model and one batch, and time for every epoch, before anything is built."""
    slots = 2 if cfg["optimizer"] == "adam" else 0
    check_model_size(
        vocab_size,
        cfg["hidden"],
        cfg["layers"],
        cfg["cell"],
        batch_tokens=cfg["batch_size"] * cfg["num_steps"],
        optimizer_slots=slots,
        names=("--hidden", "--layers"),
    )
    params = model_parameters(vocab_size, cfg["hidden"], cfg["layers"], cfg["cell"])
    check_training_time(
        len(tokens),
        epochs,
        params,
        "--epochs, --runs, --hidden or --layers",
        layers=cfg["layers"],
        batch_size=cfg["batch_size"],
    )
