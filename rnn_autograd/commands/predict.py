"""``predict``: warm a trained model up on a prefix and print what it predicts next."""

from __future__ import annotations

import argparse

import torch

from ..errors import UsageError
from ..pipeline.device import DEVICES, resolve_device
from ..pipeline.prediction import load_for_prediction, parse_prefix, predict

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
        help="token ids separated by spaces for the seed data ('1 2 3'; '123' when every id is one digit); text for a text corpus",
    )
    p.add_argument("--steps", type=int, default=10, help="how many tokens to predict")
    p.add_argument("--sample", action="store_true", help="sample instead of taking the argmax")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int)
    p.add_argument("--seed", type=int, default=0, help="seeds sampling")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0; got {args.steps}")
    device = resolve_device(args.device)
    model, vocab, cfg = load_for_prediction(args.checkpoint, device)
    prefix = args.prefix
    if vocab is not None and cfg.get("lower", True):
        prefix = prefix.lower()  # the corpus was lower-cased when the vocabulary was built
    ids = parse_prefix(prefix, model.vocab_size, vocab)
    generator = torch.Generator().manual_seed(args.seed) if args.sample else None
    out = predict(
        model,
        ids,
        args.steps,
        greedy=not args.sample,
        temperature=args.temperature,
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
