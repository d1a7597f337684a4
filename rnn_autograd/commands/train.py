"""``train``: train a model on the synthetic data or a text file; write metrics and a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..errors import UsageError
from ..pipeline.corpus import load_char_corpus
from ..pipeline.data import BATCHINGS, counting_sequence, make_batches
from ..pipeline.device import DEVICES, resolve_device
from ..pipeline.model import CELLS, RNNModel
from ..pipeline.state import STRATEGY_FORMS, StateGraphError, parse_strategy
from ..pipeline.training import OPTIMIZERS, NonFiniteLossError, train

__all__ = ["register"]

# the notebook's synthetic data: runs of 5 integers starting in [0, 10]; 20 classes, 20 steps
SEED_VOCAB, SEED_STEPS = 20, 20
RUN_LENGTH, LOW, HIGH = 5, 0, 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an RNN language model; write DIR/metrics.json and DIR/checkpoint.pt",
        description="Train on the notebook's synthetic data (--data seed) or a UTF-8 text file.",
        epilog="example: rnn-autograd train --data seed --epochs 10 --out runs/seed",
    )
    p.add_argument("--data", default="seed", help="'seed' (the notebook's data) or a text file")
    p.add_argument("--out", required=True, metavar="DIR", help="where metrics and checkpoint go")
    p.add_argument("--cell", choices=sorted(CELLS), default="rnn")
    p.add_argument("--strategy", default="detach", help=f"one of: {STRATEGY_FORMS}")
    p.add_argument("--batching", choices=BATCHINGS, default="sequential")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--batch-size", type=int, help="default: seed 10 (50 with windows, the notebook's); text 32"
    )
    p.add_argument("--num-steps", type=int, help="default: seed 20 (the notebook's); text 35")
    p.add_argument("--hidden", type=int, default=256, help="hidden units (default 256)")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument(
        "--lr-decay", type=float, default=1.0, help="multiply the lr by this after every epoch"
    )
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm; 0: no clipping")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--seed", type=int, default=0, help="seeds the data, the weights and batching")
    p.add_argument(
        "--runs", type=int, default=10000, help="seed data: runs of 5 (the notebook had 200)"
    )
    p.add_argument("--max-chars", type=int, help="text data: keep only the first characters")
    p.add_argument("--eval-fraction", type=float, default=0.1, help="text data: the held-out tail")
    p.add_argument(
        "--threads", type=int, help="torch's CPU threads (default: torch's choice); 1 on a busy CPU"
    )
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


def _config(args: argparse.Namespace) -> dict:
    seed_data = args.data == "seed"
    batch = args.batch_size or ((50 if args.batching == "windows" else 10) if seed_data else 32)
    return {
        "data": args.data if seed_data else str(Path(args.data).resolve()),
        "cell": args.cell,
        "strategy": args.strategy,
        "batching": args.batching,
        "batch_size": batch,
        "num_steps": args.num_steps or (SEED_STEPS if seed_data else 35),
        "hidden": args.hidden,
        "layers": args.layers,
        "lr": args.lr,
        "lr_decay": args.lr_decay,
        "clip": args.clip or None,
        "optimizer": args.optimizer,
        "seed": args.seed,
        "runs": args.runs,
        "max_chars": args.max_chars,
        "eval_fraction": args.eval_fraction,
    }


def _load_data(cfg: dict):
    """Training tokens, held-out tokens, vocabulary size, Vocab (None for integer tokens)."""
    if cfg["data"] == "seed":
        if cfg["runs"] < 1:
            raise UsageError(f"--runs must be >= 1; got {cfg['runs']}")
        tokens = counting_sequence(cfg["runs"], RUN_LENGTH, LOW, HIGH, seed=cfg["seed"])
        held = counting_sequence(max(200, cfg["runs"] // 4), RUN_LENGTH, LOW, HIGH, cfg["seed"] + 1)
        return tokens, held, SEED_VOCAB, None
    if not 0 <= cfg["eval_fraction"] < 1:
        raise UsageError(f"--eval-fraction must lie in [0, 1); got {cfg['eval_fraction']}")
    corpus = load_char_corpus(cfg["data"], max_chars=cfg["max_chars"])
    cut = len(corpus.ids) - int(len(corpus.ids) * cfg["eval_fraction"])
    return corpus.ids[:cut], corpus.ids[cut:], len(corpus.vocab), corpus.vocab


def _limits(cfg: dict, held_batches) -> dict | None:
    """The best perplexity any model can reach on the seed data (``rnn_autograd.bench.limits``).

    ``carried``: with the whole past; ``fresh``: from zeros every num_steps tokens; with
    sequential batches, ``held_out_rows``: for the held-out rows as evaluated, each read from
    zeros and carried to its end (the figure to hold the held-out perplexity against).
    """
    if cfg["data"] != "seed":
        return None
    from ..bench.limits import counting_limit

    def ppl(context: str, num_steps: int | None = None) -> float:
        return counting_limit(
            RUN_LENGTH, LOW, HIGH, context=context, num_steps=num_steps
        ).perplexity

    limits = {"carried": ppl("carried"), "fresh": ppl("fresh", cfg["num_steps"])}
    if cfg["batching"] == "sequential" and held_batches is not None:
        limits["held_out_rows"] = ppl("fresh", len(held_batches) * cfg["num_steps"])
    return limits


def _train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    ckpt_path = out / "checkpoint.pt"
    if args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1; got {args.epochs}")
    if args.resume:
        from ..pipeline.checkpoint import load_checkpoint

        if not ckpt_path.is_file():
            raise UsageError(f"nothing to resume: {ckpt_path} not found")
        cfg = load_checkpoint(ckpt_path)["config"]  # the run continues as it was configured
    else:
        cfg = _config(args)
    if cfg["data"] != "seed" and not Path(cfg["data"]).is_file():
        raise UsageError(f"--data: file not found: {cfg['data']} (or use --data seed)")
    strategy = parse_strategy(cfg["strategy"])
    device = resolve_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be >= 1; got {args.threads}")
        torch.set_num_threads(args.threads)
    tokens, held, vocab_size, vocab = _load_data(cfg)
    kind, bs, steps, seed = cfg["batching"], cfg["batch_size"], cfg["num_steps"], cfg["seed"]
    make_batches(kind, tokens, bs, steps, seed)  # a corpus too short fails here, before training
    try:
        held_batches = make_batches(kind, held, bs, steps, seed) if held else None
    except UsageError:
        held_batches = None  # a held-out tail too short for one batch: no evaluation
    torch.manual_seed(seed)
    model = RNNModel(vocab_size, cfg["hidden"], cfg["cell"], cfg["layers"])
    try:
        history = train(
            model,
            lambda epoch: make_batches(kind, tokens, bs, steps, seed + epoch),
            strategy,
            epochs=args.epochs,
            lr=cfg["lr"],
            lr_decay=cfg.get("lr_decay", 1.0),
            clip=cfg["clip"],
            optimizer=cfg["optimizer"],
            device=device,
            progress=not args.quiet,
            eval_batches=held_batches,
            checkpoint_path=ckpt_path,
            resume=args.resume,
            checkpoint_extra={"config": cfg, "vocab": vocab.tokens if vocab else None},
        )
    except (StateGraphError, NonFiniteLossError) as exc:
        print(f"rnn-autograd train: {exc}", file=sys.stderr)
        return 1
    limits = _limits(cfg, held_batches)
    metrics = {
        **history.to_dict(),
        "limits": limits,
        "config": cfg,
        "vocab_size": vocab_size,
        "train_tokens": len(tokens),
        "held_out_tokens": len(held) if held_batches is not None else 0,
        "device": str(device),
        "torch": torch.__version__,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    e = history.epochs[-1]
    held_txt = f", held-out {e.eval_perplexity:.3f}" if e.eval_perplexity is not None else ""
    print(
        f"{cfg['cell']} on {cfg['data']}, strategy {cfg['strategy']}, {kind} batches: "
        f"epoch {e.epoch}: perplexity {e.perplexity:.3f}{held_txt}, accuracy {e.accuracy:.3f}, "
        f"{e.tokens_per_s:,.0f} tokens/s"
    )
    if limits:
        rows = limits.get("held_out_rows")
        print(
            f"best perplexity any model can reach on this data: {limits['carried']:.3f} "
            f"(carried state), {limits['fresh']:.3f} (fresh state every {steps} steps)"
            + (f", {rows:.3f} (the held-out rows as evaluated)" if rows else "")
        )
    print(f"wrote {out / 'metrics.json'} and {ckpt_path}")
    return 0
