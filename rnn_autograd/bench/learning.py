"""The benchmark's learning sections: held-out figures beside the exact limits.

Every strategy trains from the same seeded weights on the same batches (an equal token budget)
through the project's trainer; ``evaluate_tokens`` then keeps each held-out target's loss, so
that a section can report one position of the window (what a carried state brings to the first
target) or the recall targets of the delayed recall task alone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import islice

import torch
import torch.nn.functional as F

from ..pipeline.data import counting_sequence, sequential_batches, window_batches
from ..pipeline.model import RNNModel
from ..pipeline.state import TBPTT, Window, parse_strategy
from .config import BenchConfig
from .cost import RUN_LENGTH, SEED_VOCAB, _fit, _model, _text_or_counting
from .limits import counting_limit, counting_source, gap_limit
from .tasks import delayed_recall_limit, delayed_recall_sequence, recall_mask, recall_vocab_size

__all__ = ["batching_section", "evaluate_tokens", "learning_section", "recall_section"]


@torch.no_grad()  # evaluation: no graph, nothing saved for backward
def evaluate_tokens(model: RNNModel, batches, carry: bool, mask_fn=None) -> dict:
    """Held-out cross-entropy per target: mean, perplexity, accuracy, per window position.

    ``carry``: the state flows across batches (else zeros every batch). ``mask_fn(X)`` selects
    targets for a separate accuracy (the recall targets of the delayed recall task).
    """
    model.eval()
    total = correct = count = 0.0
    pos_sum = None
    masked_correct = masked_count = 0.0
    state = None
    device = next(model.parameters()).device
    for X, Y in batches:
        X, Y = X.to(device), Y.to(device)
        if state is None or not carry:
            state = model.begin_state(X.shape[0], device)
        logits, state = model(X, state)  # (steps * batch, vocab), time-major
        ce = F.cross_entropy(logits, Y.T.reshape(-1), reduction="none").view(
            Y.shape[1], -1
        )  # (steps, batch)
        hit = (logits.argmax(dim=1) == Y.T.reshape(-1)).view(Y.shape[1], -1)
        total += float(ce.sum())
        correct += float(hit.sum())
        count += ce.numel()
        pos_sum = ce.sum(dim=1) if pos_sum is None else pos_sum + ce.sum(dim=1)
        if mask_fn is not None:
            m = mask_fn(X).T  # (steps, batch)
            masked_correct += float(hit[m].sum())
            masked_count += float(m.sum())
    model.train()
    rows = count / len(pos_sum)
    out = {
        "cross_entropy_nats": total / count,
        "perplexity": math.exp(total / count),
        "accuracy": correct / count,
        "per_position_ce": [float(v) / rows for v in pos_sum],
        "tokens": int(count),
    }
    if mask_fn is not None:
        out["masked_accuracy"] = masked_correct / max(masked_count, 1)
    return out


def _curve_recorder(chunks: int, total_batches: int):
    """An ``on_batch`` hook that records training perplexity over chunks of batches."""
    size = max(total_batches // chunks, 1)
    points: dict = {"tokens": [], "perplexity": []}
    acc = {"loss": 0.0, "n": 0, "seen": 0, "batches": 0}

    def on_batch(i: int, info: dict) -> None:
        acc["seen"] += info["tokens"]
        acc["batches"] += 1
        for s in info["result"].scored:
            acc["loss"] += float(s.loss) * s.Y.numel()
            acc["n"] += s.Y.numel()
        if acc["batches"] % size == 0 and acc["n"]:
            points["tokens"].append(acc["seen"])
            points["perplexity"].append(math.exp(acc["loss"] / acc["n"]))
            acc["loss"], acc["n"] = 0.0, 0

    return on_batch, points


def _train_and_score(
    config, spec, vocab, train_batches, held_batches, epochs, mask_fn=None, lr_decay=1.0
) -> dict:
    model = _model(config, vocab)
    on_batch, curve = _curve_recorder(20, epochs * len(train_batches))
    history = _fit(
        model, train_batches, spec, config, epochs=epochs, on_batch=on_batch, lr_decay=lr_decay
    )
    result = evaluate_tokens(model, held_batches, parse_strategy(spec).carries_state, mask_fn)
    result.update(
        curve_tokens=curve["tokens"],
        curve_perplexity=curve["perplexity"],
        train_tokens=epochs * len(train_batches) * config.batch_size * config.num_steps,
        optimizer_steps=sum(e.updates for e in history.epochs),
    )
    return result


def _beside_limits(result: dict, spec: str, limits: dict | None) -> dict:
    # a carried strategy is evaluated from zeros at the start of each held-out row, carried to
    # its end: its exact limit is that of a fresh context as long as the row ("heldout_rows")
    ctx = "carried" if parse_strategy(spec).carries_state else "fresh"
    lim = limits["heldout_rows" if ctx == "carried" else "fresh"] if limits else None
    result.update(
        limit_context=ctx,
        limit_perplexity=lim["perplexity"] if lim else None,  # None: no known limit (text)
        limit_accuracy=lim["accuracy"] if lim else None,
    )
    return result


def learning_section(config: BenchConfig) -> dict:
    B, T = config.batch_size, config.num_steps
    if config.data == "seed":
        train_tokens, vocab = _text_or_counting(config, config.train_runs, config.seed)
        held, _ = _text_or_counting(config, config.heldout_runs, config.seed + 1)
    else:  # a text file: the last tenth is held out; no exact limit is known for real text
        ids, vocab = _text_or_counting(config, 0, config.seed)
        cut = int(len(ids) * 0.9)
        train_tokens, held = ids[:cut], ids[cut:]
    train_b = sequential_batches(train_tokens, B, T)
    held_b = sequential_batches(held, B, T)
    limits = None
    if config.data == "seed":
        limits = {
            "carried": counting_limit(context="carried").as_dict(),
            "fresh": counting_limit(context="fresh", num_steps=T).as_dict(),
            "heldout_rows": counting_limit(context="fresh", num_steps=len(held_b) * T).as_dict(),
        }
    rows = {}
    for spec in config.strategies:
        r = _train_and_score(config, spec, vocab, train_b, held_b, config.train_epochs)
        rows[spec] = _beside_limits(r, spec, limits)
    return {
        "batch_size": B,
        "num_steps": T,
        "token_budget": config.train_epochs * len(train_b) * B * T,
        "heldout_tokens": len(held),
        "heldout_row_tokens": len(held_b) * T,
        "limits": limits,
        "rows": rows,
    }


def _gradient_reach(spec: str, delay: int, num_steps: int) -> float:
    """Fraction of recall targets whose backward reaches their key (``delay`` steps before)."""
    s = parse_strategy(spec)
    if isinstance(s, Window):
        span = s.k * num_steps
        return max(span - delay, 0) / span
    if isinstance(s, TBPTT):  # scored positions p in [k2 - k1, k2) reach back to p - delay >= 0
        return max(s.k2 - max(delay, s.k2 - s.k1), 0) / s.k1
    # detach and fresh: only a recall whose key lies in the same batch
    return max(num_steps - delay, 0) / num_steps


def recall_section(config: BenchConfig) -> dict:
    config = replace(
        config, num_steps=config.recall_num_steps, cell=config.recall_cell, lr=config.recall_lr
    )
    D, K, B, T = config.recall_delay, config.recall_keys, config.batch_size, config.num_steps
    vocab = recall_vocab_size(D, K)
    train_tokens = delayed_recall_sequence(config.recall_episodes, D, K, seed=config.seed)
    held = delayed_recall_sequence(
        max(config.recall_episodes // 4, 4 * B), D, K, seed=config.seed + 1
    )
    train_b = sequential_batches(train_tokens, B, T)
    held_b = sequential_batches(held, B, T)
    limits = {
        "carried": delayed_recall_limit(D, K, "carried").as_dict(),
        "fresh": delayed_recall_limit(D, K, "fresh", T).as_dict(),
        "heldout_rows": delayed_recall_limit(D, K, "fresh", len(held_b) * T).as_dict(),
    }
    rows = {}
    for spec in config.recall_strategies:
        r = _train_and_score(
            config,
            spec,
            vocab,
            train_b,
            held_b,
            config.recall_epochs,
            lambda X: recall_mask(X, D, K),
        )
        r["recall_accuracy"] = r.pop("masked_accuracy")
        reach = _gradient_reach(spec, D, T)
        r["gradient_reach"] = reach
        r["spans_delay"] = f"{reach:.0%} of recalls"
        rows[spec] = _beside_limits(r, spec, limits)
    return {
        "delay": D,
        "num_keys": K,
        "cell": config.cell,
        "lr": config.lr,
        "num_steps": T,
        "token_budget": config.recall_epochs * len(train_b) * B * T,
        "heldout_tokens": len(held),
        "heldout_row_tokens": len(held_b) * T,
        "limits": limits,
        "rows": rows,
    }


def _carried_is(batching: str, spec: str, B: int, T: int) -> str:
    if not parse_strategy(spec).carries_state:
        return "nothing: zeros every batch"
    if batching == "sequential":
        return "the row's exact past"
    shift = (B - T + 1) % RUN_LENGTH
    gap = B - T
    where = f"{gap} tokens before" if gap >= 0 else f"overlapping it by {-gap} tokens"
    phase = (
        "as a true continuation"
        if shift == 1 % RUN_LENGTH
        else f"not {1 % RUN_LENGTH} as a continuation"
    )
    return f"the state of a window ending {where} the new one; run phase moves by {shift} ({phase})"


def _row_limit(batching: str, spec: str, B: int, T: int, n_batches: int) -> dict | None:
    """The exact limit of a row of the held-out evaluation, as it is evaluated.

    ``fresh``: zeros every batch. Sequential and carried: each row is read from zeros and
    carried to its end (``n_batches * T`` tokens). Windows and carried: the first batch starts
    from zeros, every later one from the state of an earlier window across a gap of ``B - T``
    tokens (``gap_limit``; one earlier window already pins the run phase here, so the chain of
    earlier windows cannot do better). ``first`` is the mean over batches of the first target.
    """
    fresh = counting_limit(context="fresh", num_steps=T)
    if not parse_strategy(spec).carries_state:
        ce, first, acc, ctx = (
            fresh.cross_entropy_nats,
            fresh.per_position[0],
            fresh.accuracy,
            "fresh",
        )
    elif batching == "sequential":
        row = counting_limit(context="fresh", num_steps=n_batches * T)
        firsts = [row.per_position[b * T] for b in range(n_batches)]
        ce, first, acc, ctx = (
            row.cross_entropy_nats,
            sum(firsts) / n_batches,
            row.accuracy,
            "carried",
        )
    elif B >= T:
        gap = gap_limit(counting_source(), context_tokens=T, gap=B - T, num_steps=T)
        mix = lambda a, b: (a + (n_batches - 1) * b) / n_batches  # noqa: E731 - local weighting
        ce = mix(fresh.cross_entropy_nats, gap.cross_entropy_nats)
        first = mix(fresh.per_position[0], gap.per_position[0])
        acc, ctx = mix(fresh.accuracy, gap.accuracy), f"after a gap of {B - T}"
    else:  # the earlier window overlaps this one: not a past-only context
        return None
    return {
        "perplexity": math.exp(ce),
        "cross_entropy_nats": ce,
        "first_target_ce": first,
        "accuracy": acc,
        "context": ctx,
    }


def batching_section(config: BenchConfig) -> dict:
    T = config.batching_num_steps
    held = counting_sequence(num_runs=config.heldout_runs, seed=config.seed + 1)
    rows = []
    fresh_lim = counting_limit(context="fresh", num_steps=T)
    carried_lim = counting_limit(context="carried")
    for B in config.batching_sizes:
        win_tokens = counting_sequence(num_runs=config.batching_runs, seed=config.seed)
        win_b = window_batches(win_tokens, B, T)
        # sequential partitioning gets as many batches of the same shape: an equal token budget
        seq_runs = len(win_b) * B * T // RUN_LENGTH + B
        seq_b = sequential_batches(counting_sequence(num_runs=seq_runs, seed=config.seed), B, T)
        seq_b = list(islice(seq_b, len(win_b)))
        # overlapping windows hold B + T - 1 distinct tokens per batch, sequential ones B * T
        distinct = {"windows": len(win_b) * B + T, "sequential": len(seq_b) * B * T}
        for batching, batches in (("windows", win_b), ("sequential", seq_b)):
            if batching == "windows":
                held_b = window_batches(held, B, T)
            else:
                # the same held-out sequence, but at least 4 batches per row: a carried state
                # starts from zeros at each row, and a model trained on long rows needs a
                # batch or so to warm up (the row limit below counts that start exactly)
                runs = max(config.heldout_runs, 4 * B * T // RUN_LENGTH + B)
                held_seq = counting_sequence(num_runs=runs, seed=config.seed + 1)
                held_b = sequential_batches(held_seq, B, T)
            for spec in config.batching_strategies:
                cfg = replace(config, batch_size=B, num_steps=T)
                r = _train_and_score(
                    cfg,
                    spec,
                    SEED_VOCAB,
                    batches,
                    held_b,
                    config.batching_epochs,
                    lr_decay=config.batching_lr_decay,
                )
                lim = _row_limit(batching, spec, B, T, len(held_b))
                rows.append(
                    {
                        "batching": batching,
                        "batch_size": B,
                        "strategy": spec,
                        "perplexity": r["perplexity"],
                        "accuracy": r["accuracy"],
                        "first_target_ce": r["per_position_ce"][0],
                        "per_position_ce": r["per_position_ce"],
                        "limit_perplexity": lim["perplexity"] if lim else None,
                        "limit_first_target_ce": lim["first_target_ce"] if lim else None,
                        "limit_context": lim["context"] if lim else None,
                        "carried_state_is": _carried_is(batching, spec, B, T),
                        "train_tokens": r["train_tokens"],
                        "optimizer_steps": r["optimizer_steps"],
                        "distinct_train_tokens": distinct[batching],
                        "curve_tokens": r["curve_tokens"],
                        "curve_perplexity": r["curve_perplexity"],
                    }
                )
    for r in rows:  # what the carried state adds at the first target, against zeros
        fresh = [
            f["first_target_ce"]
            for f in rows
            if (f["batching"], f["batch_size"], f["strategy"])
            == (r["batching"], r["batch_size"], "fresh")
        ]
        r["first_target_vs_fresh"] = r["first_target_ce"] - fresh[0] if fresh else None
    return {
        "num_steps": T,
        "optimizer": config.optimizer,
        "lr": config.lr,
        "lr_decay": config.batching_lr_decay,
        "clip": config.clip,
        "epochs": config.batching_epochs,
        "rows": rows,
        "limits": {"carried": carried_lim.as_dict(), "fresh": fresh_lim.as_dict()},
        "fresh_first_target_ce": fresh_lim.per_position[0],
        "carried_ce": carried_lim.cross_entropy_nats,
    }
