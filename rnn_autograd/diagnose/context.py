"""``diagnose()``: annotate an autograd error in your own training loop with the case that explains it.

As a context manager or as a decorator::

    with diagnose():                 # or diagnose(watch=loss), or d = diagnose(); d.watch(loss)
        loss.backward()

    @diagnose()
    def train_epoch(...): ...

An exception raised inside still propagates as the *same object*: its type, message and traceback
are unchanged. What it gains is a note (PEP 678 ``add_note``; on Python 3.10 appended to
``__notes__``) naming the matching cases, their fix and ``rnn-autograd show ID``.

For the in-place error ("... modified by an inplace operation ... is at version N; expected version
M"), the note also names *which* saved tensor of *which* node is stale. The graph is inspected
when the error propagates: a failing backward leaves the failing node's saved tensors in place,
so the stale one is still there to find, with the versions from the message. The tensors to
inspect are the ones passed to ``watch`` or, when none were, the ones the failing
``backward``/``autograd.grad`` call was given (read from the traceback's frames). Variables in
your frames are used as names for the tensors ("h", "model.rnn.weight_hh_l0").

``watch(*tensors)`` also records the graph *at that moment*. That matters for "backward through the
graph a second time": by the time it is raised, the failing backward has freed saved tensors of
its own, so only a graph recorded before the backward tells which were freed *before* it.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import torch

from ..spec import get_case
from .explain import match_exception
from .graph_record import recorded_lines
from .inspector import GraphReport, SavedTensorInfo, inspect_graph, names_in_frame

__all__ = ["diagnose", "add_note"]

NOTE_PREFIX = "rnn-autograd:"
_VERSIONS = re.compile(
    r"\[(?:torch\.)?(\w+) \[([\d, ]*)\]\].*?is at version (\d+); expected version (\d+)"
)
_MAX_CASES = 3


def add_note(exc: BaseException, note: str) -> None:
    """PEP 678 ``add_note``, also on Python 3.10 (where tracebacks do not print notes yet)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


# Lower-case like contextlib.suppress: it reads as a verb, `with diagnose():`.
class diagnose(contextlib.ContextDecorator):
    """Context manager and decorator adding a note that names the case explaining an error.

    Args:
        watch: a tensor (e.g. the loss) or tensors whose graph is inspected now, before
            backward, and again if an error propagates (``watch()`` does it later); None: none.
        names: a mapping of name to tensor, the names the note uses for those tensors (beside
            the names of your frames' variables).
    """

    def __init__(
        self,
        watch: torch.Tensor | Sequence[torch.Tensor] | None = None,
        *,
        names: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self._names = dict(names or {})
        self._watched: list[torch.Tensor] = []
        self._before: GraphReport | None = None
        if watch is not None:
            self.watch(*([watch] if isinstance(watch, torch.Tensor) else watch))

    def watch(self, *tensors: torch.Tensor) -> diagnose:
        """Inspect the graph behind ``tensors`` now, and again if an error propagates."""
        self._watched = list(tensors)
        self._before = inspect_graph(*tensors, names=self._names)
        return self

    def __enter__(self) -> diagnose:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if isinstance(exc, Exception) and not _already_noted(exc):
                note = self._note(exc)
                if note:
                    add_note(exc, note)
        except Exception:  # a diagnosis that fails must never replace or hide the user's error
            pass
        finally:
            # Watched tensors hold their whole graph: let it go with the block.
            self._watched, self._before = [], None
        return False  # propagate the same exception object, unchanged

    def _note(self, exc: Exception) -> str:
        matches = match_exception(exc, context=_code_lines(exc))
        recorded = recorded_lines(exc)  # from record(): the user's lines that broke backward
        if recorded:
            lines = [f"{NOTE_PREFIX} {recorded[0]}", *recorded[1:]]
            if matches:
                lines.append("cases that explain this error (rnn-autograd show ID):")
            lines += self._case_lines(matches)
            return "\n".join(lines)
        if not matches:
            return ""
        lines = [f"{NOTE_PREFIX} cases that explain this error (rnn-autograd show ID):"]
        lines += self._case_lines(matches)
        lines += self._graph_lines(exc)
        return "\n".join(lines)

    @staticmethod
    def _case_lines(matches: list) -> list[str]:
        lines = []
        for m in matches[:_MAX_CASES]:
            c = m.case
            lines.append(f"  {c.id}: {c.question}")
            if c.fix:
                lines.append(f"    fix: {c.fix}: {get_case(c.fix).question}")
        if len(matches) > _MAX_CASES:
            lines.append(f"  ... and {len(matches) - _MAX_CASES} more (rnn-autograd explain)")
        return lines

    def _graph_lines(self, exc: Exception) -> list[str]:
        message = str(exc)
        if "modified by an inplace operation" in message:
            roots = self._watched or _backward_roots(exc)
            if not roots:
                return [
                    "  (pass the tensor you call backward on to diagnose(...) to name the stale tensor)"
                ]
            names = {**_frame_names(exc), **self._names}
            report = inspect_graph(*roots, names=names)
            culprits = Counter(_stale_text(s) for s in _culprits(report, message))
            return [
                f"  stale: {text}" + (f" (saved by {n} nodes)" if n > 1 else "")
                for text, n in culprits.items()
            ]
        if "already been freed" in message:
            if self._before is None:
                return [
                    "  (diagnose(watch=loss) before backward names the saved tensors already freed)"
                ]
            freed = Counter(f"{s.node_name}'s saved `{s.label}`" for s in self._before.freed)
            return [
                f"  freed before this backward: {text}" + (f" (in {n} nodes)" if n > 1 else "")
                for text, n in freed.items()
            ]
        return []


def _already_noted(exc: BaseException) -> bool:
    # Nested diagnose() blocks (a decorated loop calling a decorated step) add one note.
    return any(str(n).startswith(NOTE_PREFIX) for n in getattr(exc, "__notes__", []))


def _culprits(report: GraphReport, message: str) -> list[SavedTensorInfo]:
    """The stale saved tensors; those with the shape and versions in the message first."""
    found = _VERSIONS.search(message)
    if not found:
        return report.stale
    shape = tuple(int(d) for d in found.group(2).replace(" ", "").split(",") if d)
    now, saved = int(found.group(3)), int(found.group(4))
    exact = [
        s
        for s in report.stale
        if (s.current_version, s.saved_version) == (now, saved) and s.shape == shape
    ]
    return exact or report.stale


def _stale_text(s: SavedTensorInfo) -> str:
    who = f" = {s.name}" if s.name else ""
    return (
        f"{s.node_name}'s saved `{s.attr}`{who} ({s.layout}) was saved at version "
        f"{s.saved_version} and is now at version {s.current_version}: something changed it "
        "in place between the forward and this backward"
    )


def _code_lines(exc: BaseException) -> tuple[str, ...]:
    """The traceback's source lines outside torch: they tell cases with one message apart."""
    frames = traceback.extract_tb(exc.__traceback__)
    return tuple(
        f.line for f in frames if f.line and "/torch/" not in f.filename.replace("\\", "/")
    )


def _frames(exc: BaseException) -> list[Any]:
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _backward_roots(exc: BaseException) -> list[torch.Tensor]:
    """The tensors the failing ``backward``/``autograd.grad`` was called on, from its frame."""
    for frame in reversed(_frames(exc)):
        if frame.f_code.co_name == "_engine_run_backward":  # both backward and grad pass here
            outputs = frame.f_locals.get("t_outputs")
            if isinstance(outputs, (tuple, list)):
                return [t for t in outputs if isinstance(t, torch.Tensor)]
    return []


def _frame_names(exc: BaseException) -> dict[str, torch.Tensor]:
    """Names for tensors from the user's frames (not torch's, not this module's)."""
    names: dict[str, torch.Tensor] = {}
    for frame in _frames(exc):
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/torch/" not in path and "/rnn_autograd/diagnose" not in path:
            names.update(names_in_frame(frame, include_globals=True))
    return names
