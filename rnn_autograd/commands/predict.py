"""``predict``: warm a trained model up on a prefix and print what it predicts next."""

from __future__ import annotations

import argparse
import sys

import torch

from ..errors import UsageError
from ..pipeline.bounds import PREDICT_BUDGET_S, most_predict_steps
from ..pipeline.device import DEVICES, resolve_device
from ..pipeline.prediction import (
    load_for_prediction,
    parse_prefix,
    predict,
    reads_one_digit_per_token,
    seconds_per_step,
)
from ._validate import number, seed, whole

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="continue a prefix with a trained model",
        description="Warm the state up on the prefix, then predict one token at a time.",
        epilog="example: rnn-autograd predict --checkpoint runs/seed/checkpoint.pt --prefix '1 2 3'",
    )
    p.add_argument("--checkpoint", required=True, help="DIR/checkpoint.pt written by train")
    p.add_argument(
        "--prefix",
        required=True,
        help="token ids for the seed data: '1 2 3', or '123' read one digit per token as the notebook's predict_ch8 reads it (ids of 10 and above need spaces); text for a text corpus",
    )
    p.add_argument("--steps", type=whole(0), default=10, help="how many tokens to predict")
    p.add_argument("--sample", action="store_true", help="sample instead of taking the argmax")
    p.add_argument(
        "--temperature", type=number(0, lo_open=True), help="with --sample (default 1.0)"
    )
    p.add_argument("--top-k", type=whole(1), help="with --sample: only the K most likely")
    p.add_argument("--seed", type=seed, default=0, help="seeds sampling")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    if not args.sample:
        for option, value in (("--temperature", args.temperature), ("--top-k", args.top_k)):
            if value is not None:
                raise UsageError(
                    f"{option} shapes sampling, and without --sample the argmax is taken: add "
                    f"--sample, or drop {option}"
                )
    if args.prefix == "":
        raise UsageError("--prefix is empty; give token ids ('1 2 3') or text to continue")
    device = resolve_device(args.device)
    model, vocab, cfg = load_for_prediction(args.checkpoint, device)
    # what an hour allows: the least of the library's bound and one from a few timed steps
    per_step = seconds_per_step(model, device)
    most = min(
        most_predict_steps(sum(p.numel() for p in model.parameters())),
        int(PREDICT_BUDGET_S / max(per_step, 1e-9)),
    )
    if args.steps > most:
        raise UsageError(
            f"--steps {args.steps}: at {per_step * 1e6:.0f} us a token on this machine now, "
            f"that takes more than an hour (or more memory than is free); use at most "
            f"--steps {most}"
        )
    prefix = args.prefix
    if vocab is not None and cfg.get("lower", True):
        prefix = prefix.lower()  # the corpus was lower-cased when the vocabulary was built
    ids = parse_prefix(prefix, model.vocab_size, vocab)
    if vocab is None and model.vocab_size > 10 and reads_one_digit_per_token(prefix):
        # With ids of two digits in the vocabulary, "123" could mean 12 3: say how it was read.
        print(
            f"note: --prefix {prefix!r} is read one digit per token, as the notebook's "
            f"predict_ch8 reads it ({' '.join(map(str, ids))}); separate ids with spaces "
            "for ids of 10 and above, e.g. '12 3'",
            file=sys.stderr,
        )
    generator = torch.Generator().manual_seed(args.seed) if args.sample else None
    out = predict(
        model,
        ids,
        args.steps,
        greedy=not args.sample,
        temperature=args.temperature or 1.0,
        top_k=args.top_k,
        generator=generator,
        device=device,
    )
    new = out[len(ids) :]
    if vocab is None:
        print(f"prefix:    {' '.join(map(str, ids))}")
        print(f"predicted: {' '.join(map(str, new))}")
    else:
        print(f"prefix:    {vocab.decode(ids)!r}")
        print(f"predicted: {vocab.decode(new)!r}")
    return 0
