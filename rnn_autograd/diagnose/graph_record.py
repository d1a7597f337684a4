"""What a recording writes into the graph, and reads back: node tags, walks, the user's names.

Nodes carry what ``recording.py`` wrote into their ``metadata`` dict (it lives and dies with the
node): ``MADE`` = (sequence number, op, user lines) on every output's ``grad_fn``; ``FREED`` =
(sequence number, kind, user lines) of the backward that frees it. A diagnosis is a list of
text lines kept on the exception (``keep``) for ``record()`` and ``diagnose()`` to put in a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .inspector import names_in_frame

__all__ = [
    "FREED",
    "MADE",
    "backward_roots",
    "frame_modules",
    "frame_names",
    "keep",
    "recorded_lines",
    "tag_freed",
    "walk",
]

MADE = "rnn_autograd.made"
FREED = "rnn_autograd.freed"
_KEPT = "_rnn_autograd_recorded"
_MAX_NODES = 50_000


def keep(exc: BaseException, lines: list[str]) -> None:
    """Keep the recorded diagnosis on the exception (read by ``recorded_lines``)."""
    if lines:
        setattr(exc, _KEPT, list(lines))


def recorded_lines(exc: BaseException) -> list[str] | None:
    """The diagnosis a recording kept on ``exc``, or None."""
    return getattr(exc, _KEPT, None)


def _children(fn: Any) -> list[Any]:
    try:
        return [c for c, _ in fn.next_functions if c is not None]
    except RuntimeError:
        return []


def _root_nodes(roots: Sequence[torch.Tensor]) -> list[Any]:
    return [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None]


def tag_freed(roots: Sequence[torch.Tensor], tag: tuple) -> None:
    """Tag every node a backward from ``roots`` frees (stops at nodes an earlier one freed)."""
    stack, seen = _root_nodes(roots), set()
    while stack and len(seen) < _MAX_NODES:
        fn = stack.pop()
        if fn in seen or _is_leaf_node(fn):
            continue
        seen.add(fn)
        meta = fn.metadata
        old = meta.get(FREED)
        if old is not None and old[1] != "grad":  # freed before: so is everything behind it
            continue
        meta[FREED] = tag
        stack.extend(_children(fn))


def _is_leaf_node(fn: Any) -> bool:
    # AccumulateGrad saves nothing and is never freed; nodes without metadata cannot be tagged.
    return hasattr(fn, "variable") or not hasattr(fn, "metadata")


def walk(roots: Sequence[torch.Tensor]):
    """(node, parent, its MADE or the nearest one above, the parent's) breadth first."""
    queue = [(fn, None, None) for fn in _root_nodes(roots)]
    seen: set = set()
    while queue and len(seen) < _MAX_NODES:
        fn, parent, above = queue.pop(0)
        if fn in seen or _is_leaf_node(fn):
            continue
        seen.add(fn)
        made = fn.metadata.get(MADE) or above
        yield fn, parent, made, above
        queue.extend((c, fn, made) for c in _children(fn))


def frame_names(frames: Sequence[Any]) -> dict[str, torch.Tensor]:
    """Names for tensors from the user's frames: variables, modules' parameters, and the
    elements of short lists, tuples and dicts of tensors (``params[1]``, as d2l keeps them)."""
    names: dict[str, torch.Tensor] = {}
    for frame in reversed(frames):  # outermost first: the innermost frame's names win
        for scope in (frame.f_globals, frame.f_locals):
            names.update(_container_names(scope))
        names.update(names_in_frame(frame, include_globals=True))
    return names


def _container_names(scope: dict) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for var, value in list(scope.items()):
        if isinstance(value, (list, tuple)) and 0 < len(value) <= 64:
            items = enumerate(value)
        elif isinstance(value, dict) and 0 < len(value) <= 64:
            items = ((repr(k), v) for k, v in value.items() if isinstance(k, (str, int)))
        else:
            continue
        for key, item in items:
            if isinstance(item, torch.Tensor):
                found[f"{var}[{key}]"] = item
    return found


def frame_modules(frames: Sequence[Any]) -> dict[str, torch.nn.Module]:
    found: dict[str, torch.nn.Module] = {}
    for frame in reversed(frames):
        for scope in (frame.f_globals, frame.f_locals):
            for var, value in list(scope.items()):
                if isinstance(value, torch.nn.Module):
                    for sub, m in value.named_modules():
                        found[f"{var}.{sub}" if sub else var] = m
    return found


def backward_roots(exc: BaseException) -> list[torch.Tensor]:
    """The tensors the failing backward was called on, read from the traceback's torch frames."""
    tb, found = exc.__traceback__, []
    while tb is not None:
        frame = tb.tb_frame
        if "/torch/autograd/" in frame.f_code.co_filename.replace("\\", "/"):
            for key in ("t_outputs", "tensors", "outputs"):
                value = frame.f_locals.get(key)
                if isinstance(value, torch.Tensor):
                    value = (value,)
                if isinstance(value, (tuple, list)) and value:
                    found = [t for t in value if isinstance(t, torch.Tensor)]
                    break
        tb = tb.tb_next
    return found
