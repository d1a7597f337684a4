"""Checkpoints: written atomically, read back with a clear error when missing or damaged.

A checkpoint is one ``torch.save`` dict: model and optimizer state, the strategy's state, RNG
states, the number of completed epochs, the history so far, and what the caller adds (the
vocabulary, the command's configuration). It is written to a temporary file in the same folder
and renamed over the old one (``os.replace`` is atomic on one file system), so a crash while
writing leaves the previous checkpoint whole.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from .outputs import pid_alive

__all__ = [
    "capture_rng",
    "load_checkpoint",
    "remove_stale_temps",
    "restore_rng",
    "save_checkpoint",
]

FORMAT = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, then rename).

    The temporary file is named ``.NAME.PID-XXXXXXXX.tmp``; one left behind by a writer that was
    killed (its PID no longer runs, or the older ``.NAME.XXXXXXXX.tmp`` naming) is removed here,
    at the next write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them current
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _temp_owner(name: str, target: str) -> int | None:
    """The PID in a temporary file name of ours for ``target``; 0 for the older naming without
    a PID; None when the name is not ours."""
    m = re.fullmatch(rf"\.{re.escape(target)}\.(?:(\d+)-)?[A-Za-z0-9_]{{6,}}\.tmp", name)
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else 0


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left; return them."""
    path = Path(path)
    removed = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        owner = _temp_owner(entry.name, path.name)
        if owner is None or owner == os.getpid() or (owner and pid_alive(owner)):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass  # not ours to remove after all (permissions): leave it
    return removed


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; missing, unreadable, foreign or damaged
    is one ``UsageError`` line (torch's own text, which may suggest unsafe loading, is not shown).

    Only tensors and plain containers are read (``weights_only=True``): a file with any other
    object in it is refused, never executed.
    """
    if not isinstance(path, str | os.PathLike) or str(path) == "":
        raise UsageError(f"checkpoint must be a file path (DIR/checkpoint.pt); got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise UsageError(
            f"{path} is a folder; give the checkpoint file in it ({path / 'checkpoint.pt'})"
        )
    if not path.is_file():
        raise UsageError(
            f"checkpoint not found: {path}; give the DIR/checkpoint.pt that train wrote"
        )
    not_ours = (
        f"{path} is not a checkpoint of rnn-autograd (not a file its train command wrote, or "
        f"damaged); give the DIR/checkpoint.pt that train wrote"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings about foreign files: not ours
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise UsageError(f"{path} is too large to load into the memory free now") from None
    except Exception:  # torch raises many types for a damaged or foreign file
        raise UsageError(not_ours) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UsageError(not_ours)
    return ckpt


def capture_rng() -> dict[str, Any]:
    """The RNG states a training run may draw from: torch (CPU and CUDA) and Python's."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    # torch.load gives back Python's random state with lists where tuples were saved
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x
