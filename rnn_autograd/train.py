"""The training loop: strategy-driven backward, clipping, metrics, evaluation, checkpoints.

Per batch: the strategy runs the model and backpropagates when it decides to; when it reports
gradients ready, the trainer clips them (``clip_grad_norm_``), steps the optimizer and clears
them. The trainer knows nothing of a particular model or strategy. Metrics are accumulated as
tensors on the device and read once per epoch, so no batch waits for a device-to-host copy.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .device import resolve_device
from .errors import UsageError
from .state import BatchResult, Strategy, parse_strategy

__all__ = [
    "OPTIMIZERS",
    "EpochStats",
    "History",
    "NonFiniteLossError",
    "evaluate",
    "lm_loss",
    "make_optimizer",
    "train",
]

OPTIMIZERS = ("sgd", "adam")

BatchSource = Iterable[tuple[torch.Tensor, torch.Tensor]]


class NonFiniteLossError(RuntimeError):
    """The loss became inf or nan: training stopped, the last good checkpoint is kept."""


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


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise UsageError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")


class _Tally:
    """Sums kept on the device: loss * tokens, correct predictions; read once per epoch."""

    def __init__(self, device: torch.device):
        self.loss = torch.zeros((), device=device, dtype=torch.float64)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.tokens = 0
        self.batch_losses: list[tuple[int, torch.Tensor]] = []

    def add(self, batch: int, loss: torch.Tensor, logits: torch.Tensor, Y: torch.Tensor) -> None:
        n = Y.numel()
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
    """
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    tally = _Tally(device)
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


def _batches_for(batches: BatchSource | Callable[[int], BatchSource], epoch: int) -> BatchSource:
    return batches(epoch) if callable(batches) else batches


def train(
    model: nn.Module,
    batches: BatchSource | Callable[[int], BatchSource],
    strategy: Strategy | str = "detach",
    *,
    epochs: int,
    lr: float,
    clip: float | None = 1.0,
    optimizer: str = "sgd",
    lr_decay: float = 1.0,
    device: torch.device | str | None = "auto",
    progress: bool = False,
    eval_batches: BatchSource | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    on_batch: Callable[[int, dict[str, Any]], None] | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return the per-epoch ``History``.

    ``batches``: an iterable of ``(X, Y)`` re-read every epoch, or a function of the epoch index
    (0-based) returning one (random batching draws new batches per epoch this way, reproducibly).
    ``strategy``: a ``Strategy`` or its name (see ``rnn_autograd.state``).
    ``clip``: the maximal gradient norm (None: no clipping). Epoch ``e`` (0-based) trains at
    ``lr * lr_decay ** e``. ``on_batch(i, info)`` is called after
    every batch with ``info = {"epoch", "batch", "tokens", "update", "result"}``, for measurements
    the trainer need not know about. With ``checkpoint_path`` a checkpoint is written after every
    epoch (``checkpoint_extra`` is stored beside); with ``resume`` training continues from it.
    A non-finite loss raises ``NonFiniteLossError`` naming epoch and batch; the checkpoint of the
    last good epoch stays as it was.
    """
    if epochs < 0 or not lr > 0:
        raise UsageError(f"epochs must be >= 0 and lr > 0; got epochs={epochs}, lr={lr}")
    if not 0 < lr_decay <= 1:
        raise UsageError(f"lr_decay must lie in (0, 1]; got {lr_decay}")
    if clip is not None and not clip > 0:
        raise UsageError(f"clip must be > 0 (or None for no clipping); got {clip}")
    if not callable(batches) and iter(batches) is batches and epochs > 1:
        raise UsageError(
            "batches is a one-shot iterator, empty after the first epoch; pass a list, a "
            "Batches (rnn_autograd.data) or a function of the epoch that returns the batches"
        )
    device = resolve_device(device)
    strategy = parse_strategy(strategy) if isinstance(strategy, str) else strategy
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr)
    history = History()
    start = 0
    if resume:
        if checkpoint_path is None:
            raise UsageError("resume needs a checkpoint path")
        ckpt = load_checkpoint(checkpoint_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        strategy.load_state_dict(ckpt["strategy"])
        restore_rng(ckpt["rng"])
        history = History.from_dict(ckpt["history"])
        start = ckpt["epoch"]

    def step() -> None:
        if clip is not None:
            # foreach: one fused pass over all gradients; the scale is applied on the device,
            # never compared in Python, so no step waits for the norm to reach the host
            nn.utils.clip_grad_norm_(params, clip, foreach=True)
        opt.step()
        # set_to_none: the next backward writes fresh .grad tensors instead of adding to zeros
        opt.zero_grad(set_to_none=True)

    model.train()
    opt.zero_grad(set_to_none=True)  # no gradient left over from before training counts
    for epoch in range(start, epochs):
        strategy.begin_epoch()
        for group in opt.param_groups:  # a function of the epoch alone, so resuming matches
            group["lr"] = lr * lr_decay**epoch
        tally = _Tally(device)
        updates = 0
        source = _batches_for(batches, epoch)
        total = len(source) if hasattr(source, "__len__") else None
        bar = tqdm(
            source,
            total=total,
            desc=f"epoch {epoch + 1}/{epochs}",
            file=sys.stderr,
            disable=not progress,
            leave=False,
        )
        _sync(device)
        t0 = time.perf_counter()
        i = -1
        for i, (X, Y) in enumerate(bar):
            X = X.to(device, non_blocking=True)
            Y = Y.to(device, non_blocking=True)
            result = strategy.train_batch(model, X, Y, lm_loss)
            updates += _apply(result, step, tally, i)
            if on_batch is not None:
                info = {"epoch": epoch, "batch": i, "tokens": Y.numel(), "update": result.update}
                on_batch(i, {**info, "result": result})
        tail = strategy.end_epoch()
        if tail is not None:
            updates += _apply(tail, step, tally, i)
        _sync(device)
        seconds = time.perf_counter() - t0
        bar.close()
        bad = tally.first_non_finite()
        if bad is not None:
            raise NonFiniteLossError(_non_finite_message(epoch, *bad, checkpoint_path, history))
        ppl, acc = tally.figures()
        stats = EpochStats(
            epoch + 1, ppl, acc, tally.tokens, seconds, tally.tokens / max(seconds, 1e-12), updates
        )
        if eval_batches is not None:
            stats.eval_perplexity, stats.eval_accuracy = evaluate(
                model, eval_batches, device, carry_state=strategy.carries_state
            )
        history.epochs.append(stats)
        if progress:
            held = f", held-out {stats.eval_perplexity:.3f}" if stats.eval_perplexity else ""
            print(
                f"epoch {epoch + 1}/{epochs}: perplexity {ppl:.3f}{held}, accuracy {acc:.3f}, "
                f"{stats.tokens_per_s:,.0f} tokens/s",
                file=sys.stderr,
            )
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "model_config": getattr(model, "config", None),
                    "optimizer": opt.state_dict(),
                    "strategy": strategy.state_dict(),
                    "rng": capture_rng(),
                    "history": history.to_dict(),
                    **(checkpoint_extra or {}),
                },
            )
    return history


def _apply(result: BatchResult, step: Callable[[], None], tally: _Tally, batch: int) -> int:
    for s in result.scored:
        tally.add(batch, s.loss, s.logits, s.Y)
    if result.update:
        step()
        return 1
    return 0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # timing covers the queued kernels, not just the launches


def _non_finite_message(epoch, batch, value, checkpoint_path, history) -> str:
    kept = (
        f"the checkpoint of epoch {history.epochs[-1].epoch} is kept at {checkpoint_path}"
        if checkpoint_path is not None and history.epochs
        else "no checkpoint was written"
    )
    return (
        f"loss became {value} at epoch {epoch + 1}, batch {batch + 1}: training stopped; {kept}; "
        f"try a smaller learning rate (--lr) or gradient clipping (--clip)"
    )
