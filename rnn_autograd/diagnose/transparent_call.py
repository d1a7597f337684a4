"""Call a torch function from a ``TorchFunctionMode`` as if the mode were not there, warnings included.

A warning names the line it comes from by walking up the Python stack: a C++ ``TORCH_WARN`` names
the innermost Python frame, ``warnings.warn(..., stacklevel=s)`` the frame ``s - 1`` above the
one that calls it. Under a mode, the stack has extra frames: the mode's ``__torch_function__``
(and, for a function written in Python, ``handle_torch_function`` and the function's first,
outer call). A warning would then name the mode's own line, or torch's, instead of the user's;
and its "once per location" filters would count the wrong location.

So each call runs with warnings caught, and each warning caught is issued again, by
``warnings.warn_explicit``, at the frame it names *without* the mode (the same number of frames
above the outer call as it is above the inner one), with that frame's module, registry and
globals: the filters in force ("error", "ignore", "once", ...) then act on it as they would have.
A warning that names a frame outside the extra ones (a warning from deeper inside torch at
``stacklevel=1``) is issued again unchanged.
"""

from __future__ import annotations

import sys
import types
import warnings
from typing import Any

__all__ = ["call"]


_CATCH_ALL = [("always", None, Warning, None, 0)]


def call(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func(*args, **kwargs)``, its warnings issued as if called without the mode."""
    pending: list[warnings.WarningMessage] = []
    # Not warnings.catch_warnings(): entering it marks the filters changed, which empties every
    # module's "already warned" registry, so "default" and "module" warnings would repeat.
    # Swapping the list in (without that mark) catches each warning, and "always" records none.
    filters, show = warnings.filters, warnings._showwarnmsg
    warnings.filters, warnings._showwarnmsg = _CATCH_ALL, pending.append
    try:
        result = func(*args, **kwargs)
    finally:
        warnings.filters, warnings._showwarnmsg = filters, show
        if pending:
            _reissue(pending, func, sys._getframe(0))
    return result


def _reissue(pending: list[warnings.WarningMessage], func: Any, here: types.FrameType) -> None:
    added, above = _frames(func, here)
    for w in pending:
        target = None
        for m, f in enumerate(added):
            # This frame has moved on to this function since; the others wait where they were.
            line = w.lineno if f is here else f.f_lineno
            if (f.f_code.co_filename, line) == (w.filename, w.lineno):
                # m frames above the inner call; without the mode, m above the outer one.
                target = above[m] if m < len(above) else None
                break
        if target is None:  # it names a frame of its own: the same place, that module's registry
            g = _globals_of(w.filename)
            filename, lineno = w.filename, w.lineno
        else:
            g = target.f_globals
            filename, lineno = target.f_code.co_filename, target.f_lineno
        if g is None:
            warnings.warn_explicit(w.message, w.category, filename, lineno, source=w.source)
            continue
        warnings.warn_explicit(
            w.message,
            w.category,
            filename,
            lineno,
            module=g.get("__name__", "<string>"),
            registry=g.setdefault("__warningregistry__", {}),
            module_globals=g,
            source=w.source,
        )


_GLOBALS: dict[str, dict] = {}


def _globals_of(filename: str) -> dict | None:
    """The globals of the loaded module whose file is ``filename`` (for its warning registry)."""
    if filename not in _GLOBALS:
        for module in list(sys.modules.values()):
            if getattr(module, "__file__", None) == filename:
                _GLOBALS[filename] = vars(module)
                break
        else:
            return None
    return _GLOBALS[filename]


def _frames(func: Any, here: types.FrameType) -> tuple[list, list]:
    """(frames the mode added, from this one up; the frames above the outer call, from its
    caller up). A C function's outer call is the one its caller made: nothing to skip."""
    frames, frame = [], here
    while frame is not None and len(frames) < 64:
        frames.append(frame)
        frame = frame.f_back
    code = getattr(func, "__code__", None)
    if code is None:
        return frames[:2], frames[2:]  # this frame and the handler; then the caller
    for k, f in enumerate(frames[1:], 1):
        if f.f_code is code:
            return frames[:k], frames[k + 1 :]
    return [], []
