"""What training measures: per-epoch figures, the loss, and held-out evaluation.

Sums are kept as tensors on the device and read once per epoch (``Tally``), so no batch waits
for a device-to-host copy. Perplexity is ``exp`` of the mean cross-entropy (natural log) over
every predicted token; accuracy the fraction of targets equal to the argmax of the logits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .device import resolve_device

__all__ = ["EpochStats", "History", "Tally", "evaluate", "lm_loss"]

BatchSource = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class EpochStats:
    """One epoch's figures: training perplexity, accuracy, speed, and held-out figures if any."""

    epoch: int  # 1-based
    perplexity: float
    accuracy: float
    tokens: int
    seconds: float
    tokens_per_s: float
    updates: int
    eval_perplexity: float | None = None
    eval_accuracy: float | None = None


@dataclass
class History:
    """Per-epoch figures; ``perplexity``, ``accuracy`` and ``tokens_per_s`` are the last epoch's."""

    epochs: list[EpochStats] = field(default_factory=list)

    @property
    def perplexity(self) -> float:
        return self.epochs[-1].perplexity if self.epochs else math.nan

    @property
    def accuracy(self) -> float:
        return self.epochs[-1].accuracy if self.epochs else math.nan

    @property
    def tokens_per_s(self) -> float:
        return self.epochs[-1].tokens_per_s if self.epochs else math.nan

    @property
    def eval_perplexity(self) -> float | None:
        return self.epochs[-1].eval_perplexity if self.epochs else None

    @property
    def eval_accuracy(self) -> float | None:
        return self.epochs[-1].eval_accuracy if self.epochs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "perplexity": self.perplexity,
            "accuracy": self.accuracy,
            "tokens_per_s": self.tokens_per_s,
            "eval_perplexity": self.eval_perplexity,
            "eval_accuracy": self.eval_accuracy,
            "epochs": [asdict(e) for e in self.epochs],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls([EpochStats(**e) for e in d.get("epochs", [])])


def lm_loss(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; ``logits`` are time-major (``RNNModel``), ``Y`` is ``(batch, steps)``."""
    return F.cross_entropy(logits, Y.T.reshape(-1))


class Tally:
    """Sums kept on the device: loss * tokens, correct predictions; read once per epoch."""

    def __init__(self, device: torch.device):
        self.loss = torch.zeros((), device=device, dtype=torch.float64)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.tokens = 0
        self.batch_losses: list[tuple[int, torch.Tensor]] = []

    def add(self, batch: int, loss: torch.Tensor, logits: torch.Tensor, Y: torch.Tensor) -> None:
        n = Y.numel()
        # in place on the tally's own accumulators; loss and logits come detached, so no graph
        # is kept alive and nothing autograd saved is modified
        self.loss += loss.double() * n
        self.correct += (logits.argmax(dim=1) == Y.T.reshape(-1)).sum()
        self.tokens += n
        self.batch_losses.append((batch, loss))

    def first_non_finite(self) -> tuple[int, float] | None:
        if not self.batch_losses:
            return None
        losses = torch.stack([loss for _, loss in self.batch_losses])
        bad = (~torch.isfinite(losses)).nonzero()
        if len(bad) == 0:
            return None
        i = int(bad[0])
        return self.batch_losses[i][0], float(losses[i])

    def figures(self) -> tuple[float, float]:
        if self.tokens == 0:
            return math.nan, math.nan
        mean = float(self.loss) / self.tokens
        return math.exp(mean) if mean < 700 else math.inf, int(self.correct) / self.tokens


@torch.no_grad()  # evaluation builds no graph: nothing to backpropagate, nothing to detach
def evaluate(
    model: nn.Module,
    batches: BatchSource,
    device: torch.device | str | None = None,
    carry_state: bool = True,
) -> tuple[float, float]:
    """Perplexity and next-token accuracy of ``model`` on ``batches``.

    With ``carry_state`` the state flows from batch to batch (meaningful for sequential
    batches); otherwise every batch starts from zeros.

    Args:
        model: the model; put in eval mode for the call and restored after.
        batches: an iterable of ``(X, Y)`` token-id batches.
        device: where to run; None: the device of the model's parameters.
        carry_state: carry the state from batch to batch; False: zeros for every batch.

    Returns:
        ``(perplexity, accuracy)``: the exponential of the mean cross-entropy per token, and the
        fraction of tokens whose most likely prediction is the target.
    """
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    tally = Tally(device)
    state = None
    try:
        for i, (X, Y) in enumerate(batches):
            X, Y = X.to(device), Y.to(device)
            if state is None or not carry_state:
                state = model.begin_state(X.shape[0], device)
            logits, state = model(X, state)
            tally.add(i, lm_loss(logits, Y), logits, Y)
    finally:
        model.train(was_training)
    return tally.figures()
