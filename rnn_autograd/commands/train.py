"""``train``: train a model on the synthetic data or a text file; write metrics and a checkpoint."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch

from ..errors import UsageError
from ..pipeline import distributed
from ..pipeline.bounds import (
    available_memory,
)
from ..pipeline.checkpoint import load_checkpoint
from ..pipeline.checkpoint_contents import check_resumable
from ..pipeline.corpus import load_char_corpus
from ..pipeline.data import BATCHINGS, counting_sequence, make_batches
from ..pipeline.device import DEVICES, resolve_device
from ..pipeline.model import CELLS, RNNModel
from ..pipeline.outputs import RunLock, check_output_dir, write_json
from ..pipeline.state import STRATEGY_FORMS, TBPTT, StateGraphError, parse_strategy
from ..pipeline.training import OPTIMIZERS, NonFiniteLossError, make_optimizer, train
from ._validate import check_sizes, number, resumed_config, seed, threads, whole

__all__ = ["register"]

# the notebook's synthetic data: runs of 5 integers starting in [0, 10]; 20 classes, 20 steps
SEED_VOCAB, SEED_STEPS = 20, 20
RUN_LENGTH, LOW, HIGH = 5, 0, 10
# with SGD one step moves a weight by lr times its gradient (at most --clip in norm): a learning
# rate above this throws the weights far past any useful range in one step, a typo not a setting
LR_MAX = 1000.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an RNN language model; write DIR/metrics.json and DIR/checkpoint.pt",
        description=(
            "Train on the notebook's synthetic data (--data seed) or a UTF-8 text file. With "
            "--resume the run continues from DIR/checkpoint.pt with its own data, model, "
            "strategy, batching, optimizer and seed (giving another value is refused); --lr, "
            "--lr-decay and --clip may be changed, --epochs is the total to reach."
        ),
        epilog="example: rnn-autograd train --data seed --epochs 10 --out runs/seed",
    )
    p.add_argument("--data", help="'seed' (the notebook's data, the default) or a text file")
    p.add_argument("--out", required=True, metavar="DIR", help="where metrics and checkpoint go")
    p.add_argument("--cell", choices=sorted(CELLS), help="default: rnn")
    p.add_argument("--strategy", help=f"one of: {STRATEGY_FORMS} (default: detach)")
    p.add_argument("--batching", choices=BATCHINGS, help="default: sequential")
    p.add_argument("--epochs", type=whole(1), default=10, help="epochs in total (default 10)")
    p.add_argument(
        "--batch-size",
        type=whole(1),
        help="default: seed 10 (50 with windows, the notebook's); text 32",
    )
    p.add_argument("--num-steps", type=whole(1), help="default: seed 20 (the notebook's); text 35")
    p.add_argument("--hidden", type=whole(1), help="hidden units (default 256)")
    p.add_argument("--layers", type=whole(1), help="default 1")
    p.add_argument("--lr", type=number(0, LR_MAX, lo_open=True), help="default 1.0")
    p.add_argument(
        "--lr-decay",
        type=number(0, 1, lo_open=True),
        help="multiply the lr by this after every epoch (default 1)",
    )
    p.add_argument("--clip", type=number(0), help="max gradient norm; 0: no clipping (default 1.0)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default: sgd")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--seed", type=seed, help="seeds the data, the weights and batching (default 0)")
    p.add_argument(
        "--runs", type=whole(1), help="seed data: runs of 5 (default 10000; the notebook had 200)"
    )
    p.add_argument("--max-chars", type=whole(1), help="text data: keep only the first characters")
    p.add_argument(
        "--eval-fraction",
        type=number(0, 0.99),
        help="text data: the held-out tail (default 0.1)",
    )
    p.add_argument(
        "--threads",
        type=threads,
        help="torch's CPU threads (default: torch's choice); 1 on a busy CPU",
    )
    p.add_argument(
        "--nproc",
        type=int,
        help="train on N processes of this machine (DDP, gloo); each rank takes batch-size/N rows",
    )
    p.add_argument(
        "--port", type=int, default=0, help="with --nproc: the rendezvous port (0: free)"
    )
    run = p.add_mutually_exclusive_group()
    run.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    run.add_argument("--overwrite", action="store_true", help="replace the run DIR already holds")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


DEFAULTS = {
    "data": "seed",
    "cell": "rnn",
    "strategy": "detach",
    "batching": "sequential",
    "hidden": 256,
    "layers": 1,
    "lr": 1.0,
    "lr_decay": 1.0,
    "clip": 1.0,
    "optimizer": "sgd",
    "seed": 0,
    "runs": 10000,
    "eval_fraction": 0.1,
}


def _given(args: argparse.Namespace, key: str):
    return getattr(args, key, None)


def _config(args: argparse.Namespace) -> dict:
    """The run's configuration from the options, defaults filled in."""
    get = {k: (_given(args, k) if _given(args, k) is not None else v) for k, v in DEFAULTS.items()}
    seed_data = get["data"] == "seed"
    if get["data"] == "":
        raise UsageError("--data is empty; give 'seed' or a UTF-8 text file")
    batch = args.batch_size or ((50 if get["batching"] == "windows" else 10) if seed_data else 32)
    return {
        **get,
        "data": get["data"] if seed_data else str(Path(get["data"]).resolve()),
        "batch_size": batch,
        "num_steps": args.num_steps or (SEED_STEPS if seed_data else 35),
        "clip": get["clip"] or None,
        "max_chars": args.max_chars,
    }


def _load_data(cfg: dict):
    """Training tokens, held-out tokens, vocabulary size, Vocab (None for integer tokens)."""
    if cfg["data"] == "seed":
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
    out = check_output_dir(args.out)
    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.json"
    for path in (ckpt_path, metrics_path):
        if path.is_dir():
            raise UsageError(f"--out {str(out)!r}: {path} is a folder; choose another --out")
    done, notes = 0, []
    if args.resume:
        if not ckpt_path.is_file():
            raise UsageError(f"--resume: nothing to resume, {ckpt_path} not found; drop --resume")
        ckpt = load_checkpoint(ckpt_path)
        cfg, notes = resumed_config(args, ckpt, ckpt_path, DEFAULTS)
        done = ckpt.get("epoch")
        if isinstance(done, int) and args.epochs < done:
            raise UsageError(
                f"--epochs {args.epochs}: the run in {out} has already trained {done} epochs; "
                f"--epochs is the total, so give --epochs {done + 1} or more to continue it"
            )
    else:
        if (ckpt_path.exists() or metrics_path.exists()) and not args.overwrite:
            raise UsageError(
                f"--out {str(out)!r} already holds a run; continue it with --resume, replace it "
                f"with --overwrite, or choose another --out"
            )
        cfg = _config(args)
    if cfg["data"] != "seed" and not Path(cfg["data"]).is_file():
        what = "not a regular file" if Path(cfg["data"]).exists() else "file not found"
        raise UsageError(f"--data: {what}: {cfg['data']}; give a UTF-8 text file or --data seed")
    strategy = parse_strategy(cfg["strategy"])
    if isinstance(strategy, TBPTT):
        strategy._spans(cfg["num_steps"])  # K1, K2 multiples of --num-steps, else UsageError
    device = resolve_device(args.device)
    if cfg["data"] == "seed":  # the counting sequence is built in memory: 16 bytes a token
        fits = available_memory() // (16 * RUN_LENGTH * 5 // 4)  # and a quarter more held out
        if cfg["runs"] > fits:
            raise UsageError(
                f"--runs {cfg['runs']}: the data would not fit in the memory free now; use at "
                f"most --runs {fits}"
            )
    tokens, held, vocab_size, vocab = _load_data(cfg)
    kind, bs, steps, seed = cfg["batching"], cfg["batch_size"], cfg["num_steps"], cfg["seed"]
    try:  # a corpus too short fails here, before training
        make_batches(kind, tokens, bs, steps, seed)
    except UsageError as exc:
        raise UsageError(
            f"--batch-size {bs} and --num-steps {steps} do not fit the data: {exc}; use smaller "
            f"ones or more data"
        ) from None
    check_sizes(cfg, tokens, vocab_size, args.epochs)
    if args.resume and (vocab.tokens if vocab else None) != ckpt.get("vocab"):
        raise UsageError(
            f"--data {cfg['data']}: the text changed since the run in {out} started (its "
            f"vocabulary differs from the checkpoint's); restore the file, or train afresh "
            f"with --overwrite"
        )
    if args.resume:  # every entry the resumed run reads, checked before any work
        model_config = {
            "vocab_size": vocab_size,
            "num_hiddens": cfg["hidden"],
            "cell": cfg["cell"],
            "num_layers": cfg["layers"],
        }
        check_resumable(
            ckpt_path,
            ckpt,
            model_config,
            cfg["optimizer"],
            parse_strategy(cfg["strategy"]),
            make_optimizer,
        )
    if args.resume and args.epochs == done:
        print(
            f"rnn-autograd train: the run in {out} has already trained {done} epochs "
            f"(--epochs {args.epochs}); nothing to do",
            file=sys.stderr,
        )
        return 0
    if args.nproc is not None and not distributed.launched():
        distributed.check_world(args.nproc, bs)
        if args.nproc > 1:  # this process starts the ranks; each runs _train again, as one rank
            return distributed.launch(_train, args, nproc=args.nproc, port=args.port)
    ranks = distributed.join(bs, device)  # under torchrun or launch: this rank; else None
    try:
        held_batches = make_batches(kind, held, bs, steps, seed) if held else None
    except UsageError:
        held_batches = None  # a held-out tail too short for one batch: no evaluation
    for note in notes:
        print(note, file=sys.stderr)
    main = ranks is None or ranks.main
    # One training at a time writes into this folder; under DDP rank 0 writes, so it holds the lock.
    with RunLock(out) if main else contextlib.nullcontext():
        if args.overwrite and main:  # the old run goes only once the new one is sure to start
            ckpt_path.unlink(missing_ok=True)
            metrics_path.unlink(missing_ok=True)
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        return _run(
            args, cfg, out, device, strategy, tokens, held, held_batches, vocab_size, vocab, ranks
        )


def _run(
    args, cfg, out, device, strategy, tokens, held, held_batches, vocab_size, vocab, ranks
) -> int:
    ckpt_path = out / "checkpoint.pt"
    kind, bs, steps, seed = cfg["batching"], cfg["batch_size"], cfg["num_steps"], cfg["seed"]
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
    if ranks is not None:
        metrics["processes"] = ranks.world_size
    if ranks is None or ranks.main:  # the other ranks' figures are the same (summed over all)
        write_json(out / "metrics.json", metrics)
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
