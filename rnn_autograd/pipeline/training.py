"""The training loop: strategy-driven backward, clipping, metrics, evaluation, checkpoints.

Per batch: the strategy runs the model and backpropagates when it decides to; when it reports
gradients ready, the trainer clips them (``clip_grad_norm_``), steps the optimizer and clears
them. The trainer knows nothing of a particular model or strategy. What it measures lives in
``rnn_autograd.pipeline.metrics`` (re-exported here: ``History``, ``EpochStats``, ``evaluate``, ``lm_loss``).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ..errors import UsageError
from .bounds import check_float, check_int
from .checkpoint import capture_rng, load_checkpoint, save_checkpoint
from .checkpoint_contents import non_finite_tensors, resume_from
from .device import resolve_device
from .distributed import current, reduce_tally, replicate, rows_of_rank
from .metrics import BatchSource, EpochStats, History, Tally, evaluate, lm_loss
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


class NonFiniteLossError(RuntimeError):
    """The loss became inf or nan: training stopped, the last good checkpoint is kept."""


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise UsageError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")


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
    ``strategy``: a ``Strategy`` or its name (see ``rnn_autograd.pipeline.state``).
    ``clip``: the maximal gradient norm (None: no clipping). Epoch ``e`` (0-based) trains at
    ``lr * lr_decay ** e``. ``on_batch(i, info)`` is called after
    every batch with ``info = {"epoch", "batch", "tokens", "update", "result"}`` (epoch and batch
    0-based; ``result`` the strategy's ``BatchResult``), for measurements
    the trainer need not know about. With ``checkpoint_path`` a checkpoint is written after every
    epoch (``checkpoint_extra`` is stored beside); with ``resume`` training continues from it.
    A non-finite loss raises ``NonFiniteLossError`` naming epoch and batch; the checkpoint of the
    last good epoch stays as it was. Under a process group (``rnn_autograd.pipeline.distributed``)
    the model trains under DDP, each rank on its rows of every batch; metrics are summed over the
    ranks and rank 0 alone shows progress and writes checkpoints.

    Args:
        model: the model to train (an ``RNNModel`` or any module with its ``forward(X, state)``
            and ``begin_state``); moved to ``device``.
        batches: an iterable of ``(X, Y)`` read again every epoch, or a function of the epoch
            index returning one; a one-shot iterator with ``epochs > 1`` is a ``UsageError``.
        strategy: how the hidden state crosses batches: a ``Strategy`` or its name for
            ``parse_strategy``.
        epochs: the number of epochs.
        lr: the learning rate of the first epoch.
        clip: the maximal gradient norm; None: no clipping.
        optimizer: ``"sgd"`` or ``"adam"`` (``OPTIMIZERS``).
        lr_decay: the factor applied to the learning rate after every epoch.
        device: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"`` or a
            ``torch.device``.
        progress: show a progress bar on stderr (when it is a terminal) and a line per epoch.
        eval_batches: batches evaluated after every epoch (perplexity and accuracy in the
            ``History``); None: no evaluation.
        checkpoint_path: where to write a checkpoint after every epoch; None: none written.
        resume: continue from the checkpoint at ``checkpoint_path``.
        on_batch: called as ``on_batch(i, info)`` after every batch; None: not called.
        checkpoint_extra: a dict stored in every checkpoint beside the model.

    Returns:
        The per-epoch ``History``.
    """
    check_train_arguments(epochs, lr, clip, lr_decay, optimizer, checkpoint_path, resume)
    if not callable(batches) and iter(batches) is batches and epochs > 1:
        raise UsageError(
            "batches is a one-shot iterator, empty after the first epoch; pass a list, a "
            "Batches (rnn_autograd.pipeline.data) or a function of the epoch that returns the batches"
        )
    ranks = current()  # None in one process
    progress = progress and (ranks is None or ranks.main)
    device = resolve_device(device)
    strategy = parse_strategy(strategy) if isinstance(strategy, str) else strategy
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, params, lr)
    history = History()
    start = 0
    if resume:
        ckpt = load_checkpoint(checkpoint_path, map_location=device)
        # every entry checked before any is loaded: a bad checkpoint is one line, model unchanged
        history, start = resume_from(checkpoint_path, ckpt, model, opt, optimizer, strategy)
    # under DDP the strategies run the replica: its backward averages gradients over the ranks
    net = replicate(model) if ranks else model

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
        tally = Tally(device)
        updates = 0
        source = _batches_for(batches, epoch)
        if ranks:
            source = rows_of_rank(source, ranks)
        total = len(source) if hasattr(source, "__len__") else None
        bar = tqdm(
            source,
            total=total,
            desc=f"epoch {epoch + 1}/{epochs}",
            file=sys.stderr,
            # A bar only on a terminal: piped or in a log, only the per-epoch lines below.
            disable=not (progress and sys.stderr.isatty()),
            leave=False,
        )
        _sync(device)
        t0 = time.perf_counter()
        i = -1
        for i, (X, Y) in enumerate(bar):
            X = X.to(device, non_blocking=True)
            Y = Y.to(device, non_blocking=True)
            result = strategy.train_batch(net, X, Y, lm_loss)
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
        if ranks:
            reduce_tally(tally)  # every rank's figures, and its verdict, the same
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
        if not (math.isfinite(ppl) and math.isfinite(stats.eval_perplexity or 0.0)):
            raise NonFiniteLossError(_diverged_message(epoch, stats, checkpoint_path, history))
        history.epochs.append(stats)
        if progress:
            held = f", held-out {stats.eval_perplexity:.3f}" if stats.eval_perplexity else ""
            print(
                f"epoch {epoch + 1}/{epochs}: perplexity {ppl:.3f}{held}, accuracy {acc:.3f}, "
                f"{stats.tokens_per_s:,.0f} tokens/s",
                file=sys.stderr,
            )
        if checkpoint_path is not None:
            # DDP keeps the replicas equal, so every rank finds the same non-finite weights
            bad = non_finite_tensors(model.state_dict())
            if bad:  # the last step of the epoch overflowed: never write such weights
                history.epochs.pop()
                raise NonFiniteLossError(
                    _non_finite_weights_message(epoch, bad, checkpoint_path, history)
                )
        if checkpoint_path is not None and (ranks is None or ranks.main):
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


def _apply(result: BatchResult, step: Callable[[], None], tally: Tally, batch: int) -> int:
    for s in result.scored:
        tally.add(batch, s.loss, s.logits, s.Y)
    if result.update:
        step()
        return 1
    return 0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # timing covers the queued kernels, not just the launches


def check_train_arguments(epochs, lr, clip, lr_decay, optimizer, checkpoint_path, resume) -> None:
    """The arguments of ``train``, checked before any work; one ``UsageError`` line each."""
    check_int(epochs, "epochs", lo=0)
    check_float(lr, "lr", lo=0, lo_open=True)
    check_float(lr_decay, "lr_decay", lo=0, hi=1, lo_open=True)
    if clip is not None:
        check_float(clip, "clip (or None for no clipping)", lo=0, lo_open=True)
    if optimizer not in OPTIMIZERS:
        raise UsageError(
            f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)}"
        )
    if resume and checkpoint_path is None:
        raise UsageError("resume=True needs checkpoint_path, the checkpoint to continue from")


def _kept(checkpoint_path, history) -> str:
    return (
        f"the checkpoint of epoch {history.epochs[-1].epoch} is kept at {checkpoint_path}"
        if checkpoint_path is not None and history.epochs
        else "no checkpoint was written"
    )


def _diverged_message(epoch, stats, checkpoint_path, history) -> str:
    which = "training" if not math.isfinite(stats.perplexity) else "held-out"
    return (
        f"training diverged: the {which} perplexity of epoch {epoch + 1} is not finite (the mean "
        f"loss is too large for exp); training stopped; {_kept(checkpoint_path, history)}; "
        f"try a smaller learning rate (--lr) or gradient clipping (--clip)"
    )


def _non_finite_weights_message(epoch, names, checkpoint_path, history) -> str:
    return (
        f"the weights became inf or nan in the last step of epoch {epoch + 1} ({names[0]}); "
        f"training stopped and the epoch was not saved; {_kept(checkpoint_path, history)}; "
        f"try a smaller learning rate (--lr) or gradient clipping (--clip)"
    )


def _non_finite_message(epoch, batch, value, checkpoint_path, history) -> str:
    kept = _kept(checkpoint_path, history)
    return (
        f"loss became {value} at epoch {epoch + 1}, batch {batch + 1}: training stopped; {kept}; "
        f"try a smaller learning rate (--lr) or gradient clipping (--clip)"
    )
