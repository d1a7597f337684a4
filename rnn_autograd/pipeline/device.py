"""Choosing the device: ``auto`` is CUDA when it is available, else the CPU."""

from __future__ import annotations

import torch

from ..errors import UsageError

__all__ = ["DEVICES", "resolve_device"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None): CUDA when available, else CPU; ``"cuda"`` without CUDA is an error."""
    if isinstance(name, torch.device):
        return name
    if name is not None and not isinstance(name, str):
        raise UsageError(f"device must be auto, cpu, cuda or a torch.device; got {name!r}")
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(
                "--device cuda was asked for but CUDA is not available; use cpu or auto"
            )
        return torch.device(name)
    raise UsageError(f"unknown device {name!r}; expected one of: {', '.join(DEVICES)}")
