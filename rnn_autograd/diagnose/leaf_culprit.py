"""The recorded answer to "The .grad attribute of a Tensor that is not a leaf": which op made it.

The warning names no tensor. Where it was shown, the line reads ``NAME.grad``; ``NAME`` in that
frame is a tensor with a ``grad_fn``, and the recorder marked that node with the op and the
user's line that made it (``MADE``): a cast (``.double()``, ``.to(device)``, ``.cuda()``) or an
op (``w * 0.01``) after ``requires_grad=True``. backward fills the ``.grad`` of the leaf it was
made from, which the user no longer holds.
"""

from __future__ import annotations

import linecache
import re
import sys
from typing import Any

import torch

from .graph_record import MADE
from .locations import carried_names, format_chain

__all__ = ["nonleaf_grad_lines"]

_GRAD_READ = re.compile(r"([A-Za-z_][\w.]*)\.grad\b(?![_(])")


def _frame_at(filename: str, lineno: int) -> Any:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == filename and frame.f_lineno == lineno:
            return frame
        frame = frame.f_back
    return None


def _resolve(name: str, frame: Any) -> Any:
    head, *rest = name.split(".")
    scope = {**frame.f_globals, **frame.f_locals}
    if head not in scope:
        return None
    value = scope[head]
    for attr in rest:
        value = getattr(value, attr, None)
    return value


def nonleaf_grad_lines(
    filename: str, lineno: int, home: str | None = None, frame: Any = None
) -> list[str]:
    """Why ``NAME.grad`` at ``filename:lineno`` reads a non-leaf, and the line that made it.

    ``frame``: the frame that ran the line (a traceback's, for the warning raised as an
    error); None: found on the current stack (the warning being shown)."""
    frame = frame if frame is not None else _frame_at(filename, lineno)
    if frame is None:
        return []
    out: list[str] = []
    for name in dict.fromkeys(_GRAD_READ.findall(linecache.getline(filename, lineno))):
        t = _resolve(name, frame)
        if not isinstance(t, torch.Tensor) or t.grad_fn is None:
            continue
        made = t.grad_fn.metadata.get(MADE)
        where = f" by `{made[1]}` at {format_chain(made[2], home)}" if made else ""
        out.append(
            f"  `{name}` is not a leaf (its grad_fn is {t.grad_fn.name()}): it was made{where}"
            " from tensors that require grad; backward fills the .grad of the leaves it came"
            f" from, not `{name}`'s"
        )
        out.append(_fix(name, t, made))
        break
    return out


_CASTS = frozenset(["to", "double", "float", "half", "bfloat16", "cuda", "cpu", "type"])


def _fix(name: str, t: torch.Tensor, made: tuple | None) -> str:
    op = made[1] if made else ""
    if op in _CASTS or t.grad_fn.name().startswith("ToCopyBackward"):
        return (
            "  fix: make the tensor you train the leaf: cast or move first, then require grad"
            " (`torch.randn(..., dtype=..., device=..., requires_grad=True)` or"
            " `.to(...).requires_grad_()`), and give that tensor to the optimizer"
        )
    if made and made[2] and name in carried_names(made[2][0])[0]:
        return (
            f"  fix: `{name}` was rebuilt from itself (`{name} = {name} - ...`), which makes a new"
            f" non-leaf tensor: update it in place under torch.no_grad() (`{name} -= ...`) so"
            " it stays the leaf"
        )
    return (
        f"  fix: to read the gradient that flows through `{name}`, call `{name}.retain_grad()`"
        " before backward; to train it, make the leaf you train before this op"
    )
