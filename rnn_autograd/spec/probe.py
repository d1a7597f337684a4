"""Graph snapshots taken while a case runs, for the pictures in the docs and ``show``.

A case calls ``snapshot("before backward", y)`` at the moment its graph is the point (typically
just before the backward that fails). The graph behind the tensors is inspected *then*, because a
later backward frees saved tensors and an in-place op bumps versions: the picture shows saved
tensors with the version they were saved at and the version they have at that moment.
Outside a running case (a user copying the code) ``snapshot`` does nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["collecting_snapshots", "snapshot"]

_SNAPSHOTS: contextvars.ContextVar[list[tuple[str, Any]] | None] = contextvars.ContextVar(
    "rnn_autograd_snapshots", default=None
)


def snapshot(label: str, *tensors: torch.Tensor) -> None:
    """Record the autograd graph behind ``tensors`` as it is now, under ``label``.

    The caller's variables name the tensors in the picture (``x1``, ``state``, not "tensor").
    """
    sink = _SNAPSHOTS.get()
    if sink is None:
        return
    from ..inspector import inspect_graph, names_in_frame

    names = names_in_frame(sys._getframe(1))
    sink.append((label, inspect_graph(*tensors, names=names)))


@contextlib.contextmanager
def collecting_snapshots() -> Iterator[list[tuple[str, Any]]]:
    sink: list[tuple[str, Any]] = []
    token = _SNAPSHOTS.set(sink)
    try:
        yield sink
    finally:
        _SNAPSHOTS.reset(token)
