"""Which of the user's names carried a freed graph into the next iteration, read from the code.

``freed_culprit`` finds the line where an old tensor entered this iteration's graph; the line
may read and assign several names (``out, (h, c) = lstm(x, (h, c))``). Here the loop and the
function around that line tell them apart: a name the loop already detaches (``h = h.detach()``,
``h.detach_()``, ``h = h.data``) did not carry the graph; a ``h.detach()`` whose result is
thrown away detaches nothing, and is worth saying. Where no name reads and assigns it, the old
tensor may sit in a list kept across iterations (``policy.saved_log_probs``): found by looking
in the frames' variables and their objects' attributes for a tensor of that graph. A variable
that still holds the old tensor itself (a GAN's ``fake``) was not carried: two backwards went
through it.
"""

from __future__ import annotations

import ast
import linecache
import types
from collections import deque
from typing import Any

import torch

from .locations import Location, dotted

__all__ = ["container_holding", "detached_names", "discarded_detaches", "variable_holding"]

_LOOPS = (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef, ast.AsyncFunctionDef)
_CUTS = frozenset(["detach", "detach_", "data", "clone"])
_TREES: dict[str, ast.AST | None] = {}
_MAX_ITEMS = 256


def _tree(filename: str) -> ast.AST | None:
    if filename not in _TREES:
        try:
            _TREES[filename] = ast.parse("".join(linecache.getlines(filename)))
        except (SyntaxError, ValueError):
            _TREES[filename] = None
    return _TREES[filename]


def _scopes(chain: tuple[Location, ...]) -> list[tuple[Location, ast.AST]]:
    """The innermost loop or function around each line of ``chain``, with the line."""
    out = []
    for filename, line, qual in chain:
        tree = _tree(filename)
        if tree is None:
            continue
        around = [
            n
            for n in ast.walk(tree)
            if isinstance(n, _LOOPS) and n.lineno <= line <= (n.end_lineno or n.lineno)
        ]
        if around:
            inner = min(around, key=lambda n: (n.end_lineno or n.lineno) - n.lineno)
            out.append(((filename, line, qual), inner))
    return out


def _cut_of(value: ast.AST) -> str | None:
    """``h`` for ``h.detach()``, ``h.detach_()``, ``h.data``, ``h.clone().detach()``."""
    while isinstance(value, ast.Call):
        value = value.func
    if isinstance(value, ast.Attribute) and value.attr in _CUTS:
        inner = value.value
        while isinstance(inner, (ast.Call, ast.Attribute)) and dotted(inner) is None:
            inner = inner.func if isinstance(inner, ast.Call) else inner.value
        return dotted(inner)
    return None


def detached_names(chain: tuple[Location, ...]) -> set[str]:
    """Names the loops and functions around ``chain`` detach for real (assigned or in place)."""
    found: set[str] = set()
    for _, scope in _scopes(chain):
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, name = dotted(node.targets[0]), _cut_of(node.value)
                if target and target == name:
                    found.add(target)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                func = node.value.func
                if isinstance(func, ast.Attribute) and func.attr == "detach_":
                    name = dotted(func.value)
                    found.update([name] if name else [])
    return found


def discarded_detaches(name: str, chain: tuple[Location, ...]) -> list[Location]:
    """Lines around ``chain`` that call ``name.detach()`` as a statement: its result is lost."""
    out: list[Location] = []
    for (filename, _, qual), scope in _scopes(chain):
        for node in ast.walk(scope):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                func = node.value.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr == "detach"
                    and dotted(func.value) == name
                ):
                    out.append((filename, node.lineno, qual))
    return sorted(set(out))


def _holds(value: Any, node: Any) -> bool:
    if isinstance(value, dict):
        value = list(value.values())[:_MAX_ITEMS]
    if not isinstance(value, (list, tuple, deque)):
        return False
    items = list(value)[:_MAX_ITEMS]
    return any(isinstance(t, torch.Tensor) and t.grad_fn is node for t in items)


def container_holding(node: Any, frames) -> str | None:
    """``policy.saved_log_probs``: a list in the frames (or an attribute of an object there)
    that still holds a tensor whose grad_fn is ``node``."""
    for frame in frames:
        for scope in (frame.f_locals, frame.f_globals):
            for var, value in list(scope.items()):
                if var.startswith("__") or isinstance(value, torch.Tensor):
                    continue
                if _holds(value, node):
                    return var
                attrs = getattr(value, "__dict__", None)
                if not isinstance(attrs, dict) or isinstance(value, (type, types.ModuleType)):
                    continue
                for attr, inner in list(attrs.items())[:_MAX_ITEMS]:
                    if _holds(inner, node):
                        return f"{var}.{attr}"
    return None


def variable_holding(node: Any, frames) -> str | None:
    """The user's variable that still holds the tensor whose grad_fn is ``node`` (``fake``):
    a tensor made once and used by two backwards, not one carried into a new iteration."""
    for frame in frames:
        for scope in (frame.f_locals, frame.f_globals):
            for var, value in list(scope.items()):
                if isinstance(value, torch.Tensor) and value.grad_fn is node:
                    return var
    return None
