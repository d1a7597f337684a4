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
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError

__all__ = ["capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint"]

FORMAT = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; missing or unreadable is a UsageError."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise UsageError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UsageError(f"{path} is not an rnn-autograd checkpoint (format {FORMAT})")
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
