"""``record()``: remember where autograd's graph was built, changed in place and freed.

``with rnn_autograd.record(): train()`` (or ``rnn-autograd run train.py``) runs the code under a
``torch.overrides.TorchFunctionMode`` that sees every torch call made from Python: functions,
tensor methods (``add_``, ``__setitem__``), ``nn.functional`` calls inside modules, an
optimizer's updates, and ``Tensor.backward`` / ``torch.autograd.grad`` / ``torch.autograd.backward``
(the last one on torch releases where it is overridable). For each call it keeps

- *made*: the ``grad_fn`` of each output gets ``(sequence number, op, user lines)`` in its
  ``metadata`` dict, which lives and dies with the node (nothing is kept alive by it);
- *changed in place*: when a call moved the version counter of its first argument (or of a list
  of tensors, as ``_foreach_add_`` does), ``(storage address, version before, after, op, user
  lines)`` in a bounded list; no tensor, no frame is referenced;
- *freed*: a ``backward`` without ``retain_graph`` that ran tags every node it freed with its
  own line, in the same ``metadata``.

A warning raised inside a call keeps the line it names without recording, and its filters
(``transparent_call``); while ``torch.compile`` traces, the mode steps aside.

When a backward fails, the diagnosis is made at once, while the graph is as torch left it, and
kept on the exception; ``record()`` adds it as a PEP 678 note when the exception leaves the block,
and ``diagnose()`` uses it too. The exception itself propagates unchanged.

Why not ``saved_tensors_hooks``: with *any* hooks registered, torch skips the version check on
unpack (``SavedVariable::unpack`` checks versions only "in the case without hooks"), so the
"modified by an inplace operation" error would silently disappear: recording would change what
the program computes. Checked by tests/test_run_fidelity.py.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import sys
import weakref
from collections import deque
from types import TracebackType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from .context import diagnose
from .culprits import (
    MADE,
    backward_roots,
    diagnose_failure,
    freed_error,
    keep,
    recorded_lines,
    tag_freed,
    version_error,
)
from .cut_culprit import CutTracker
from .locations import library_frames, user_stack
from .transparent_call import call as _call

__all__ = ["record"]

_MAX_EVENTS = 20_000
_BACKWARDS = {torch.Tensor.backward: "backward", torch.autograd.grad: "grad"}
_BACKWARDS[torch.autograd.backward] = "autograd.backward"
_NOT_A_CALL = frozenset(["__get__", "__set__", "_set_grad_enabled"])
_ACTIVE: list[record] = []


class _RecordingMode(TorchFunctionMode):
    def __init__(self, recorder: record) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _is_compiling():  # torch.compile traces this method: let it see a plain call only
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in _NOT_A_CALL:
            return _call(func, args, kwargs)
        if func in _BACKWARDS:
            return self.recorder._backward(func, args, kwargs)
        targets = _mutable_targets(name, args, kwargs)
        before = [_version(t) for t in targets]
        result = _call(func, args, kwargs)
        rec = self.recorder
        changed = [
            (t, v)
            for t, v in zip(targets, before, strict=True)
            if v is not None and _version(t) != v
        ]
        if changed:
            rec._changed(name, args, kwargs, changed)
        rec.cuts.saw(name, args, kwargs, result, sys._getframe(1))
        nodes = _grad_fns(result)
        if nodes:
            made = (next(rec._seq), _op_label(name, kwargs), user_stack(sys._getframe(1)))
            for fn in nodes:
                fn.metadata[MADE] = made
        return result


def _compiling_check():
    check = getattr(getattr(torch, "compiler", None), "is_compiling", None)  # torch >= 2.3
    if check is not None:
        return check

    def dynamo_is_compiling() -> bool:  # torch 2.2: only once torch.compile imported dynamo
        dynamo = sys.modules.get("torch._dynamo")
        return dynamo is not None and dynamo.is_compiling()

    return dynamo_is_compiling


_is_compiling = _compiling_check()


def _mutable_targets(name: str, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    first = args[0] if args else None
    if isinstance(first, torch.Tensor):
        targets = [first]
    elif name.endswith("_") and isinstance(first, (list, tuple)):  # _foreach_add_(params, ...)
        targets = [t for t in first if isinstance(t, torch.Tensor)]
    else:
        targets = []
    out = kwargs.get("out")
    if isinstance(out, torch.Tensor):
        targets.append(out)
    elif isinstance(out, (list, tuple)):
        targets += [t for t in out if isinstance(t, torch.Tensor)]
    return targets


def _version(t: torch.Tensor) -> int | None:
    try:
        return t._version
    except RuntimeError:  # inference tensors have no version counter
        return None


def _grad_fns(result: Any) -> list[Any]:
    if isinstance(result, torch.Tensor):
        fn = result.grad_fn
        return [fn] if fn is not None else []
    if isinstance(result, (tuple, list)):
        return [fn for r in result for fn in _grad_fns(r)]
    return []


def _op_label(name: str, kwargs: dict) -> str:
    if name == "__setitem__":
        return "slice assignment (__setitem__)"
    if kwargs.get("inplace") is True:
        return f"{name}(inplace=True)"
    return name


def _qualname(code) -> str:
    return getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+


def _storage_ptr(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


# Lower-case like contextlib.suppress: it reads as a verb, `with record():`.
class record(contextlib.ContextDecorator):
    """Record where the graph is built, changed in place and freed, to diagnose autograd errors.

    ``with record(): ...`` (or ``@record()``): an autograd error raised inside propagates as the
    same exception, with a note (PEP 678) naming the line of *your* code that broke backward:
    for "modified by an inplace operation", the stale saved tensor, the line that saved it and
    every in-place change since (an optimizer's ``step()`` included); for "backward through the
    graph a second time", the variable that carried an already-freed graph into this backward,
    the line that made it, the backward that freed it, and where to detach. Then the cases that
    explain the error, as ``explain`` ranks them. ``diagnose()`` inside the block uses the same
    diagnosis. Values, errors and warnings are those of the program without recording.

    Args:
        home: your script, a file: a line the note names is followed by its callers up to the
            first line in this file; None: the file whose code enters the block.
    """

    def __init__(self, *, home: str | None = None) -> None:
        self.home = os.path.abspath(home) if home else None
        self.events: deque[tuple] = deque(maxlen=_MAX_EVENTS)
        self._seq = itertools.count(1)
        self._mode: _RecordingMode | None = None
        self.cuts = CutTracker()  # where a graph was lost: "does not require grad" errors

    # -- the block ---------------------------------------------------------------------------
    def __enter__(self) -> record:
        if self.home is None:
            caller = user_stack(sys._getframe(1), limit=1)
            self.home = os.path.abspath(caller[0][0]) if caller else None
        if _ACTIVE:  # nested: the outer recording already sees everything
            _ACTIVE.append(_ACTIVE[-1])
            return _ACTIVE[-1]
        self._mode = _RecordingMode(self)
        self._mode.__enter__()
        _ACTIVE.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        owner = _ACTIVE.pop()
        if owner is self and self._mode is not None:
            self._mode.__exit__(exc_type, exc, tb)
            self._mode = None
            if isinstance(exc, Exception):
                self.annotate(exc)
        return False  # the same exception propagates, unchanged

    def annotate(self, exc: BaseException) -> None:
        """Add the diagnosis (recorded lines, then the matching cases) to ``exc`` as a note."""
        try:
            if recorded_lines(exc) is None:
                self._late_diagnosis(exc)
            # diagnose() writes the note: it reads the recorded lines kept on the exception.
            diagnose().__exit__(type(exc), exc, exc.__traceback__)
        except Exception:  # a diagnosis that fails must never replace or hide the user's error
            pass

    def _late_diagnosis(self, exc: BaseException) -> None:
        # A backward the mode did not see (torch.autograd.backward on older torch): the graph of
        # a version error is still intact, so the roots are read from the traceback's frames;
        # the freed graph is found if the earlier backward was seen, else one line says why not.
        roots, message = backward_roots(exc), str(exc)
        if roots and "modified by an inplace operation" in message:
            keep(exc, version_error(self, exc, roots, _user_frames_of(exc)))
        elif "backward through the graph a second time" in message:
            keep(exc, freed_error(self, roots, next(self._seq), _user_frames_of(exc)))

    # -- what the mode reports ---------------------------------------------------------------
    def _changed(self, name: str, args: tuple, kwargs: dict, changed: list) -> None:
        frame = sys._getframe(2)
        label, module = _op_label(name, kwargs), None
        for lib in library_frames(frame):
            path = lib.f_code.co_filename.replace("\\", "/")
            if "/torch/optim/" in path and lib.f_code.co_name == "step":
                label = f"{_qualname(lib.f_code)}()"  # Adam.step(): the optimizer's update
                break
            if "/torch/nn/modules/" in path and lib.f_code.co_name == "forward":
                owner = lib.f_locals.get("self")
                if isinstance(owner, torch.nn.Module) and module is None:
                    module = weakref.ref(owner)  # named when diagnosed; never kept alive
        seq, chain = next(self._seq), user_stack(frame)
        for t, v in changed:
            # The layout and a weak reference stand in for the saved tensor where torch cannot
            # show it without unpacking (SavedTensor.data is missing before torch 2.8 or so).
            layout = (tuple(sorted(t.shape)), t.dtype, weakref.ref(t))
            self.events.append((seq, _storage_ptr(t), v, _version(t), label, chain, module, layout))

    def _backward(self, func, args: tuple, kwargs: dict):
        kind = _BACKWARDS[func]
        chain = user_stack(sys._getframe(2))
        seq = next(self._seq)
        roots, retain = _backward_arguments(func, args, kwargs)
        try:
            result = _call(func, args, kwargs)
        except RuntimeError as exc:
            try:
                frames = list(_user_frames(sys._getframe(1)))
                keep(exc, diagnose_failure(self, exc, roots, seq, frames))
            except Exception:  # never replace the user's error with one of ours
                pass
            raise
        if not retain:  # it ran and freed its graph: tag what it freed with its line
            tag_freed(roots, (seq, kind, chain))
        if kind == "grad":
            self.cuts.saw_grad(func, args, kwargs, result, chain)
        return result


def _backward_arguments(func, args: tuple, kwargs: dict) -> tuple[list[torch.Tensor], bool]:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return [], True
    params = bound.arguments
    first = params.get("self", params.get("tensors", params.get("outputs")))
    roots = [first] if isinstance(first, torch.Tensor) else list(first or ())
    retain = params.get("retain_graph")
    if retain is None:
        retain = bool(params.get("create_graph", False))
    return [t for t in roots if isinstance(t, torch.Tensor)], bool(retain)


def _user_frames(frame):
    from .locations import is_user_file

    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            yield frame
        frame = frame.f_back


def _user_frames_of(exc: BaseException) -> list:
    from .locations import is_user_file

    frames, tb = [], exc.__traceback__
    while tb is not None:
        if is_user_file(tb.tb_frame.f_code.co_filename):
            frames.append(tb.tb_frame)
        tb = tb.tb_next
    return list(reversed(frames))
