"""Hidden-state strategies: what happens to the state between batches, and when to backpropagate.

The trainer hands each batch to a ``Strategy`` (``train_batch``) and learns two things back: the
batches it may score (loss, logits, targets) and whether gradients are ready for an optimizer
step. It knows nothing else; every strategy works for a tensor state and for the LSTM's tuple.

===================  ==================================================================
``detach``           carry the state, cut its graph with ``state = state.detach()``
``detach-inplace``   the same with ``state.detach_()``, as the notebook does
``fresh``            zeros at every batch: nothing is carried
``carry``            carry without detaching: fails on the second batch, as the notebook did
``window:K``         keep the graph across K batches, backpropagate once over K * num_steps
``tbptt:K1,K2``      every K1 steps, backpropagate through the last K2 steps (Williams & Peng)
===================  ==================================================================
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import UsageError
from .model import State, map_state

__all__ = [
    "STRATEGY_FORMS",
    "BatchResult",
    "Scored",
    "StateGraphError",
    "Strategy",
    "parse_strategy",
]

STRATEGY_FORMS = "detach, detach-inplace, fresh, carry, window:K, tbptt:K1,K2"

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
NO_DETACH_CASE = "rnn-state/no-detach"


class StateGraphError(RuntimeError):
    """Backward reached a graph an earlier batch already freed (the ``carry`` strategy).

    A ``RuntimeError`` like the one torch raised; its message keeps torch's text and adds the
    case that explains it.
    """


@dataclass
class Scored:
    """One batch's result for the metrics: its mean loss and logits (both detached), targets."""

    loss: torch.Tensor
    logits: torch.Tensor
    Y: torch.Tensor


@dataclass
class BatchResult:
    """What the trainer learns from a strategy after one batch."""

    update: bool  # gradients are ready: clip, optimizer step, zero_grad
    scored: list[Scored] = field(default_factory=list)


def _detached(state: State) -> State:
    # a new tensor on the same storage with no grad_fn: the next batch's graph starts here
    return map_state(torch.Tensor.detach, state)


class Strategy:
    """Base class: subclasses implement ``train_batch``; the rest has sensible defaults."""

    spec: str = ""
    carries_state: bool = True  # evaluation carries state across sequential batches

    def __init__(self) -> None:
        self.state: State | None = None

    def begin_epoch(self) -> None:
        """Every epoch starts from zeros: the batching starts again at the corpus' beginning."""
        self.state = None

    def train_batch(
        self, model: nn.Module, X: torch.Tensor, Y: torch.Tensor, loss_fn: LossFn
    ) -> BatchResult:
        raise NotImplementedError

    def end_epoch(self) -> BatchResult | None:
        """Backpropagate what is pending at the end of an epoch (window, tbptt); else None."""
        return None

    def state_dict(self) -> dict:
        return {"spec": self.spec}

    def load_state_dict(self, d: dict) -> None:
        if d.get("spec") != self.spec:
            raise UsageError(
                f"the checkpoint was trained with strategy {d.get('spec')!r}, not {self.spec!r}; "
                f"resume with the strategy it was trained with"
            )

    def _initial(self, model: nn.Module, X: torch.Tensor) -> State:
        return model.begin_state(X.shape[0], X.device)

    def _forward(self, model, X, Y, loss_fn, state) -> tuple[torch.Tensor, Scored, State]:
        logits, state = model(X, state)
        loss = loss_fn(logits, Y)
        # detached for the metrics: what the trainer keeps must not keep the graph alive
        return loss, Scored(loss.detach(), logits.detach(), Y), state

    def _backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def __repr__(self) -> str:
        return f"<strategy {self.spec}>"


class Detach(Strategy):
    """Carry the state and cut its graph before every batch (``detach()`` or ``detach_()``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace
        self.spec = "detach-inplace" if inplace else "detach"

    def train_batch(self, model, X, Y, loss_fn) -> BatchResult:
        if self.state is None:
            self.state = self._initial(model, X)
        elif self.inplace:
            # the notebook's detach_(): the same tensor object loses its grad_fn in place, so the
            # previous batch's graph (already freed by its backward) is no longer reachable
            map_state(torch.Tensor.detach_, self.state)
        else:
            # rebinding to a detached view: the previous batch's graph is no longer reachable,
            # so this batch's backward stops here instead of reaching freed saved tensors
            self.state = _detached(self.state)
        loss, scored, self.state = self._forward(model, X, Y, loss_fn, self.state)
        self._backward(loss)
        return BatchResult(True, [scored])


class Fresh(Strategy):
    """Zeros at every batch: no graph and no information crosses a batch boundary."""

    spec = "fresh"
    carries_state = False

    def train_batch(self, model, X, Y, loss_fn) -> BatchResult:
        loss, scored, _ = self._forward(model, X, Y, loss_fn, self._initial(model, X))
        self._backward(loss)
        return BatchResult(True, [scored])


class Carry(Strategy):
    """Carry the state without detaching: the notebook's failure, kept to watch it fail."""

    spec = "carry"

    def train_batch(self, model, X, Y, loss_fn) -> BatchResult:
        if self.state is None:
            self.state = self._initial(model, X)
        # no detach, on purpose: the state keeps its grad_fn into the previous batch's graph
        loss, scored, self.state = self._forward(model, X, Y, loss_fn, self.state)
        self._backward(loss)
        return BatchResult(True, [scored])

    def _backward(self, loss: torch.Tensor) -> None:
        try:
            loss.backward()
        except RuntimeError as exc:
            raise StateGraphError(
                f"{exc}\n[rnn-autograd] strategy 'carry' kept the previous batch's graph in the "
                f"hidden state, and that graph was freed by the previous backward; see the case "
                f"{NO_DETACH_CASE} (rnn-autograd show {NO_DETACH_CASE}), or use --strategy detach"
            ) from exc


class Window(Strategy):
    """Keep the graph across ``k`` batches, backpropagate once over all of them, then detach."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.spec = f"window:{k}"
        self._losses: list[torch.Tensor] = []

    def begin_epoch(self) -> None:
        super().begin_epoch()
        self._losses = []

    def train_batch(self, model, X, Y, loss_fn) -> BatchResult:
        if self.state is None:
            self.state = self._initial(model, X)
        # within a window the state is not detached: the graph spans every batch so far
        loss, scored, self.state = self._forward(model, X, Y, loss_fn, self.state)
        self._losses.append(loss)
        return BatchResult(self._flush() if len(self._losses) == self.k else False, [scored])

    def end_epoch(self) -> BatchResult | None:
        return BatchResult(self._flush()) if self._losses else None

    def _flush(self) -> bool:
        # the mean over the window's batches: each batch has the same number of tokens
        self._backward(torch.stack(self._losses).mean())
        self._losses = []
        # the graph behind the state was just freed by backward: cut it before the next window
        self.state = _detached(self.state)
        return True


class TBPTT(Strategy):
    """BPTT(K2; K1) of Williams & Peng: every K1 steps, backpropagate through the last K2 steps.

    K1 and K2 are in time steps, multiples of ``num_steps``, ``K2 >= K1``. The batches of the
    last K2 steps are kept with the (detached) state that entered each; at every update the
    model runs again from the state that entered the oldest, over all of them with the current
    weights, and only the last K1 steps' loss is backpropagated, through all K2 steps. Running
    again is what makes overlapping spans possible: a graph kept from before an optimizer step
    would hold weights that the step modified in place (autograd's version counter refuses it).
    """

    def __init__(self, k1: int, k2: int):
        super().__init__()
        self.k1, self.k2 = k1, k2
        self.spec = f"tbptt:{k1},{k2}"
        self._buffer: deque = deque()  # (state entering the batch, X, Y), oldest first
        self._pending = 0  # batches seen since the last update

    def begin_epoch(self) -> None:
        super().begin_epoch()
        self._buffer.clear()
        self._pending = 0

    def _spans(self, num_steps: int) -> tuple[int, int]:
        if self.k1 % num_steps or self.k2 % num_steps:
            raise UsageError(
                f"tbptt:{self.k1},{self.k2} needs K1 and K2 in multiples of num_steps={num_steps}; "
                f"use e.g. tbptt:{num_steps},{2 * num_steps}"
            )
        return self.k1 // num_steps, self.k2 // num_steps

    def train_batch(self, model, X, Y, loss_fn) -> BatchResult:
        b1, b2 = self._spans(X.shape[1])
        if self.state is None:
            self.state = self._initial(model, X)
        self._buffer.append((self.state, X, Y))
        self._pending += 1
        if self._pending < b1:
            # the state for the next batch is needed now, but no graph is: advance without one
            with torch.no_grad():
                _, self.state = model(X, self.state)
            return BatchResult(False)
        return self._update(model, loss_fn, b2)

    def end_epoch(self) -> BatchResult | None:
        return None  # pending batches (fewer than K1 steps) are dropped, like a partial window

    def _update(self, model, loss_fn, b2: int) -> BatchResult:
        while len(self._buffer) > b2:
            self._buffer.popleft()
        span = list(self._buffer)
        state = span[0][0]
        losses, scored, entering = [], [], []
        first_scored = len(span) - self._pending
        for j, (_, X, Y) in enumerate(span):
            # the state entering each batch, detached: the start of a later, shorter span
            entering.append(_detached(state))
            loss, s, state = self._forward(model, X, Y, loss_fn, state)
            if j >= first_scored:
                losses.append(loss)
                scored.append(s)
        self._backward(torch.stack(losses).mean())
        self._buffer = deque((e, X, Y) for e, (_, X, Y) in zip(entering, span, strict=True))
        # backward freed the span's graph: the state carried on starts a new one
        self.state = _detached(state)
        self._pending = 0
        return BatchResult(True, scored)


def parse_strategy(text: str) -> Strategy:
    """A strategy from its name: ``detach``, ``detach-inplace``, ``fresh``, ``carry``,
    ``window:K`` (K >= 1 batches) or ``tbptt:K1,K2`` (steps, 1 <= K1 <= K2).

    Args:
        text: the name, case and surrounding spaces ignored; anything else is a ``UsageError``
            listing the forms.
    """
    if not isinstance(text, str):
        raise UsageError(f"a strategy is named by text, one of: {STRATEGY_FORMS}; got {text!r}")
    t = text.strip().lower()
    simple = {
        "detach": lambda: Detach(False),
        "detach-inplace": lambda: Detach(True),
        "fresh": Fresh,
        "carry": Carry,
    }
    if t in simple:
        return simple[t]()
    name, _, arg = t.partition(":")
    try:
        if name == "window":
            k = int(arg)
            if k >= 1:
                return Window(k)
        elif name == "tbptt":
            k1, k2 = (int(a) for a in arg.split(","))
            if 1 <= k1 <= k2:
                return TBPTT(k1, k2)
    except ValueError:
        pass
    raise UsageError(f"unknown strategy {text!r}; expected one of: {STRATEGY_FORMS}")
