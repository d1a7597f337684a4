"""Graph snapshots taken while a case runs, for the pictures in the docs and ``show``.

A case calls ``snapshot("before backward", y)`` at the moment its graph is the point (typically
just before the backward that fails). The graph behind the tensors is inspected *then*, because a
later backward frees saved tensors and an in-place op bumps versions: the picture shows saved
tensors with the version they were saved at and the version they have at that moment.
Outside a running case (a user copying the code), or when the runner asked for no pictures,
``snapshot`` does nothing. The runner passes the inspector (``rnn_autograd.diagnose``'s
``inspect_graph``): the machinery itself never imports the tools built on it.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["collecting_snapshots", "earlier_snapshots", "snapshot"]

Inspect = Callable[..., Any]

# (sink, inspect) while a runner collects snapshots; inspect(frame, *tensors) -> a report,
# the caller's frame naming the tensors (``rnn_autograd.diagnose.graph_at``).
_SNAPSHOTS: contextvars.ContextVar[tuple[list[tuple[str, Any]], Inspect] | None] = (
    contextvars.ContextVar("rnn_autograd_snapshots", default=None)
)


def snapshot(label: str, *tensors: torch.Tensor) -> None:
    """Record the autograd graph behind ``tensors`` as it is now, under ``label``.

    The caller's variables name the tensors in the picture (``x1``, ``state``, not "tensor").
    Outside ``run_case(case, inspect=...)`` it records nothing.

    Args:
        label: the snapshot's caption, e.g. ``"before backward"``.
        *tensors: the roots of the graph to record.
    """
    active = _SNAPSHOTS.get()
    if active is None:
        return
    sink, inspect = active
    sink.append((label, inspect(sys._getframe(1), *tensors)))


def earlier_snapshots() -> list[tuple[str, Any]]:
    """The (label, report) pairs this run's ``snapshot`` calls recorded so far; [] outside a run.

    The inspector compares a graph with them to tell which nodes an earlier batch made.
    """
    active = _SNAPSHOTS.get()
    return list(active[0]) if active is not None else []


@contextlib.contextmanager
def collecting_snapshots(inspect: Inspect | None) -> Iterator[list[tuple[str, Any]]]:
    """Collect the ``snapshot`` calls made inside, each one ``inspect(frame, *tensors)``; None: none."""
    sink: list[tuple[str, Any]] = []
    if inspect is None:
        yield sink
        return
    token = _SNAPSHOTS.set((sink, inspect))
    try:
        yield sink
    finally:
        _SNAPSHOTS.reset(token)
