"""Where in the user's own code something happened: stack capture, path printing, source reading.

The recorder (``record.py``) calls :func:`user_stack` on every recorded op, so it is cheap: it
walks ``frame.f_back`` and classifies each code object's file once. Frames are never kept (a frame
holds its locals, so keeping one would keep tensors alive): a location is a plain
``(filename, lineno, qualname)`` tuple.

User code is every file *outside* torch, the standard library, installed packages
(site-packages) and this project (``rnn_autograd``). Notebook cells (``<ipython-input-...>``) and
``<string>`` count as user code; ``<frozen ...>`` (import machinery) does not.
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
import sysconfig
from collections.abc import Iterable
from types import FrameType

import torch

__all__ = [
    "Location",
    "carried_names",
    "format_chain",
    "format_location",
    "is_user_file",
    "source_line",
    "user_stack",
]

# (filename, lineno, qualified function name)
Location = tuple[str, int, str]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _library_roots() -> tuple[str, ...]:
    roots = {os.path.dirname(os.path.abspath(torch.__file__)), _PACKAGE_DIR}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.abspath(path))
    roots.update(os.path.abspath(p) for p in sys.path if p.endswith("site-packages"))
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots))


_ROOTS = _library_roots()
_IS_USER: dict[str, bool] = {}


def is_user_file(filename: str) -> bool:
    """True for the user's own code: not torch, the stdlib, site-packages or rnn_autograd."""
    known = _IS_USER.get(filename)
    if known is None:
        if filename.startswith("<"):
            known = not filename.startswith("<frozen")
        else:
            path = os.path.abspath(filename)
            known = not path.startswith(_ROOTS)
        _IS_USER[filename] = known
    return known


def user_stack(frame: FrameType | None, limit: int = 4) -> tuple[Location, ...]:
    """The innermost ``limit`` user frames above ``frame``, innermost first."""
    out: list[Location] = []
    while frame is not None and len(out) < limit:
        code = frame.f_code
        if is_user_file(code.co_filename):
            out.append((code.co_filename, frame.f_lineno, _qualname(code)))
        frame = frame.f_back
    return tuple(out)


def library_frames(frame: FrameType | None, limit: int = 40) -> Iterable[FrameType]:
    """The non-user frames between ``frame`` and the first user frame (innermost first)."""
    while frame is not None and limit > 0 and not is_user_file(frame.f_code.co_filename):
        yield frame
        frame = frame.f_back
        limit -= 1


def _qualname(code) -> str:
    return getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+


def format_location(loc: Location) -> str:
    """``path/to/file.py:LINE``, relative to the current directory when below it."""
    filename, lineno, _ = loc
    if not filename.startswith("<"):
        path = os.path.abspath(filename)
        cwd = os.getcwd()
        if path.startswith(cwd.rstrip(os.sep) + os.sep):
            filename = os.path.relpath(path, cwd)
        else:
            filename = path
    return f"{filename}:{lineno}"


def format_chain(chain: tuple[Location, ...], home: str | None = None, caller: bool = False) -> str:
    """``helper.py:5, called from train.py:12``: the innermost line, then its callers up to
    (and including) the first line in ``home`` (the script), or just the innermost one; with
    ``caller``, a function's line in the script also names the line that called it."""
    if not chain:
        return "(no line of your code: it ran inside a library)"
    shown = [chain[0]]
    if home is not None and os.path.abspath(chain[0][0]) != home:
        for loc in chain[1:]:
            shown.append(loc)
            if os.path.abspath(loc[0]) == home:
                break
        else:
            shown = shown[:2]
    elif caller and len(chain) > 1 and chain[0][2] != "<module>":
        shown.append(chain[1])
    text = format_location(shown[0])
    for loc in shown[1:]:
        text += f", called from {format_location(loc)}"
    return text


def source_line(loc: Location) -> str:
    """The stripped source line at ``loc`` ("" where it cannot be read)."""
    return linecache.getline(loc[0], loc[1]).strip()


def _statement(loc: Location) -> ast.AST | None:
    line = source_line(loc)
    for text in (line, line.rstrip(":") + ": pass"):  # `for ...:` / `with ...:` headers
        try:
            body = ast.parse(text).body
        except SyntaxError:
            continue
        return body[0] if body else None
    return None


def dotted(node: ast.AST) -> str | None:
    """``state`` or ``self.hidden``: a name or an attribute chain on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _targets(node: ast.AST) -> list[str]:
    """The names (and attributes, ``self.hidden``) a target stores, through tuples."""
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for elt in node.elts for n in _targets(elt)]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    name = dotted(node)
    return [name] if name else []


def carried_names(loc: Location) -> tuple[list[str], bool]:
    """Names the statement at ``loc`` both reads and assigns (``state = f(x, state)``,
    ``total = total + loss``, ``total += loss``, ``y, self.hidden = lstm(x, self.hidden)``),
    and whether it is a running sum."""
    stmt = _statement(loc)
    if isinstance(stmt, ast.AugAssign):
        name = dotted(stmt.target)
        return ([name], isinstance(stmt.op, ast.Add)) if name else ([], False)
    if not isinstance(stmt, ast.Assign):
        return [], False
    stored = {n for t in stmt.targets for n in _targets(t)}
    read = [
        name
        for n in ast.walk(stmt.value)
        if isinstance(n, (ast.Name, ast.Attribute))
        and isinstance(n.ctx, ast.Load)
        and (name := dotted(n)) in stored
    ]
    names = list(dict.fromkeys(read))
    summing = isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.op, ast.Add)
    return names, summing and bool(names)
