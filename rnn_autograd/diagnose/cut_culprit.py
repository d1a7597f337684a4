"""The recorded answer to "element 0 of tensors does not require grad": where the graph was cut.

A tensor that backward cannot differentiate was computed, somewhere, from tensors that did
require grad by a call whose result does not: with grad mode off (``torch.no_grad()``,
``inference_mode``), by an op with no gradient (``argmax``, a comparison, a cast to integers,
``detach``), or into plain numbers (``.item()``, ``.numpy()``, ``.tolist()``), after which the
numbers were made a tensor again. The recorder marks each such result with that call (op, user
lines, why) and hands the mark on to every result computed from a marked tensor without a
graph, so the loss that fails carries the first cut of its history. Plain numbers cannot be
marked: a loss rebuilt from them carries no mark, and the note says what else it can.

Marks are kept by ``id`` beside a weak reference, never on the tensor (an attribute would be
saved by ``torch.save`` and change the user's objects).
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

import torch

from .locations import format_chain, user_stack

__all__ = ["CutTracker", "cut_error"]

_MAX_MARKS = 50_000
_NUMBERS = frozenset(["item", "tolist", "numpy", "__float__", "__int__", "__bool__"])
_FROM_NUMBERS = frozenset(["tensor", "as_tensor", "from_numpy", "Tensor", "FloatTensor"])


def _tensors(value: Any, depth: int = 0) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if depth < 1 and isinstance(value, (list, tuple)):
        return [t for v in value[:64] for t in _tensors(v, depth + 1)]
    return []


class CutTracker:
    """Marks each result without a graph that was computed from one with a graph, or from a
    marked tensor, with ``(op, why, user lines)``."""

    def __init__(self) -> None:
        self._marks: dict[int, tuple[weakref.ref, tuple]] = {}
        self.numbers: list[tuple] = []  # the last calls that turned a graph into numbers

    def mark_of(self, t: torch.Tensor) -> tuple | None:
        entry = self._marks.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def _mark(self, t: torch.Tensor, mark: tuple) -> None:
        if len(self._marks) >= _MAX_MARKS:
            self._marks = {k: v for k, v in self._marks.items() if v[0]() is not None}
            if len(self._marks) >= _MAX_MARKS:
                return
        key = id(t)
        try:
            ref = weakref.ref(t, lambda _, k=key: self._marks.pop(k, None))
        except TypeError:
            return
        self._marks[key] = (ref, mark)

    def saw(self, name: str, args: tuple, kwargs: dict, result: Any, frame: Any) -> None:
        """After a call from ``frame``: mark its results that lost the graph of an input, or
        that were computed from a marked tensor (they inherit its mark)."""
        inputs = _tensors(args) + _tensors(list(kwargs.values()))
        if not inputs:
            if name in _FROM_NUMBERS and self.numbers:  # numbers made a tensor again
                last, where = self.numbers[-1]
                why = (
                    "from plain numbers, without a graph (the last tensor with a graph turned"
                    f" into numbers was by `{last}` at {format_chain(where)})"
                )
                for t in _tensors(result):
                    self._mark(t, (name, why, user_stack(frame)))
            return
        graph = [t for t in inputs if t.requires_grad]
        outputs = _tensors(result)
        if not outputs:
            if name in _NUMBERS and (graph or any(map(self.mark_of, inputs))):
                self.numbers = [*self.numbers[-4:], (name, user_stack(frame))]
            return
        lost = [t for t in outputs if not t.requires_grad]
        if not lost:
            return
        if graph:
            if torch.is_inference_mode_enabled():
                why = "with inference_mode on"
            elif not torch.is_grad_enabled():
                why = "with grad mode off (torch.no_grad() or set_grad_enabled(False))"
            elif name in ("detach", "detach_"):
                why = "detach(): its result is cut from the graph on purpose"
            else:
                why = "an op with no gradient (integer or boolean results, indices)"
            mark = (name, why, user_stack(frame))
        else:
            marks = [m for m in map(self.mark_of, inputs) if m is not None]
            if not marks:
                return
            # A cut of the model's output outranks a tensor made from numbers (targets often are).
            mark = sorted(marks, key=lambda m: m[0] in _FROM_NUMBERS)[0]
        for t in lost:
            if self.mark_of(t) is None:
                self._mark(t, mark)

    def saw_grad(self, func: Any, args: tuple, kwargs: dict, result: Any, chain: tuple) -> None:
        """After ``torch.autograd.grad``: without create_graph, the gradients have no graph."""
        try:
            create = inspect.signature(func).bind(*args, **kwargs).arguments.get("create_graph")
        except (TypeError, ValueError):
            return
        if create:
            return
        why = "without create_graph=True: the gradients it returns have no graph of their own"
        for t in _tensors(result):
            if not t.requires_grad:
                self._mark(t, ("autograd.grad", why, chain))


def cut_error(tracker: CutTracker, roots: list[torch.Tensor], home: str | None) -> list[str]:
    """Lines naming where the history of the tensor backward was given lost its graph."""
    marks = [m for m in map(tracker.mark_of, roots) if m is not None]
    lines = ["what broke this backward, as recorded:"]
    if marks:
        name, why, chain = marks[0]
        lines.append(
            f"  the tensor you called backward on was computed from a result of `{name}` at"
            f" {format_chain(chain, home)}, which has no graph: `{name}` ran {why}"
        )
        lines.append(_fix(why))
        return lines
    if tracker.numbers:
        name, chain = tracker.numbers[-1]
        lines.append(
            f"  its history has no graph; the last call that turned a tensor with a graph into"
            f" plain numbers was `{name}` at {format_chain(chain, home)}: a loss rebuilt from"
            " numbers (torch.tensor(...), NumPy) has no graph back to the model"
        )
        lines.append(_fix("from plain numbers"))
        return lines
    return []


def _fix(why: str) -> str:
    if why.startswith("with grad mode off"):
        return (
            "  fix: compute the training loss outside torch.no_grad() (keep no_grad for"
            " evaluation and for in-place updates of the weights)"
        )
    if why.startswith("with inference_mode"):
        return "  fix: compute the training loss outside torch.inference_mode()"
    if why.startswith("without create_graph"):
        return (
            "  fix: pass create_graph=True to torch.autograd.grad when the loss is built from the"
            " gradients it returns (a gradient penalty, a meta-learning step)"
        )
    if why.startswith("from plain numbers"):
        return (
            "  fix: compute the loss from the model's output with torch operations (no .item(),"
            " .numpy() or torch.tensor(...) on the way)"
        )
    if why.startswith("detach"):
        return "  fix: use the tensor itself where the loss needs its gradient, not its detach()"
    return (
        "  fix: such an op has no gradient: compute the loss from the values before it (the"
        " logits or probabilities, e.g. cross_entropy(logits, target) instead of the argmax)"
    )
