"""Prediction: warm the state up on a prefix, then extend it one token at a time.

The notebook's ``predict_ch8`` feeds the prefix one token at a time to build the state
(warm-up), then feeds each prediction back as the next input. Here the warm-up is one forward
call over ``prefix[:-1]`` (the same state, fewer calls), and a prefix is token ids (``"1 2 3"``
for the synthetic data: the notebook's ``int(prefix[0])`` reads one character, so it cannot
express tokens of 10 and above) or text through a ``Vocab``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from .corpus import Vocab

__all__ = ["load_for_prediction", "parse_prefix", "predict", "predict_text"]


def parse_prefix(text: str, vocab_size: int, vocab: Vocab | None = None) -> list[int]:
    """Token ids from a user's prefix.

    Without ``vocab`` (synthetic data, tokens are integers): ids separated by spaces or commas,
    ``"1 2 3"``, or ``"123"`` when every id is a single digit (``vocab_size <= 10``), as the
    notebook writes it. With ``vocab``: each character of ``text`` must be in the vocabulary.
    A token outside the vocabulary is a ``UsageError`` that names it.
    """
    if vocab is not None:
        if not text:
            raise UsageError("the prefix is empty; give at least one character")
        return vocab.encode(text, strict=True)
    parts = text.replace(",", " ").split()
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) > 1 and vocab_size <= 10:
        # Every token is one digit: "123" is the notebook's own form of 1 2 3 (predict_ch8 reads
        # the prefix one character at a time). With ids of two digits it stays ambiguous.
        parts = list(parts[0])
    if not parts:
        raise UsageError("the prefix is empty; give token ids separated by spaces, e.g. '1 2 3'")
    ids = []
    for p in parts:
        try:
            ids.append(int(p))
        except ValueError:
            raise UsageError(
                f"prefix token {p!r} is not an integer id; give ids separated by spaces, e.g. '1 2 3'"
            ) from None
    _check_ids(ids, vocab_size)
    return ids


def _check_ids(ids: Sequence[int], vocab_size: int) -> None:
    for i in ids:
        if not 0 <= i < vocab_size:
            hint = " (ids are separated by spaces: '1 2 3', not '123')" if i >= 10 else ""
            raise UsageError(
                f"prefix token {i} is outside the vocabulary 0 .. {vocab_size - 1}{hint}"
            )


@torch.no_grad()  # prediction builds no graph: the state needs no detaching between steps
def predict(
    model: nn.Module,
    prefix_ids: Sequence[int],
    num_preds: int,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> list[int]:
    """The prefix followed by ``num_preds`` predicted ids.

    Greedy takes the most likely next token (the notebook's ``argmax``); otherwise the next token
    is sampled from ``softmax(logits / temperature)``, restricted to the ``top_k`` most likely
    when given, drawing from ``generator`` (for reproducible samples).
    """
    prefix = [int(i) for i in prefix_ids]
    if not prefix:
        raise UsageError("the prefix is empty; give at least one token")
    if num_preds < 0:
        raise UsageError(f"the number of predictions must be >= 0; got {num_preds}")
    if not greedy and not temperature > 0:
        raise UsageError(f"temperature must be > 0; got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"top_k must be >= 1; got {top_k}")
    _check_ids(prefix, model.vocab_size)
    device = next(model.parameters()).device if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    try:
        state = model.begin_state(1, device)
        outputs = list(prefix)
        if len(prefix) > 1:
            # warm-up: the state after reading prefix[:-1]; its predictions are not used
            warm = torch.tensor([prefix[:-1]], device=device)  # (1, len - 1)
            _, state = model(warm, state)
        for _ in range(num_preds):
            x = torch.tensor([[outputs[-1]]], device=device)  # (1, 1)
            logits, state = model(x, state)  # logits: (1, vocab)
            outputs.append(_choose(logits[0], greedy, temperature, top_k, generator))
        return outputs
    finally:
        model.train(was_training)


def _choose(logits, greedy, temperature, top_k, generator) -> int:
    if greedy:
        return int(logits.argmax())
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.float(), dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))


def predict_text(model: nn.Module, vocab: Vocab, prefix: str, num_preds: int, **kwargs) -> str:
    """``predict`` for text: the prefix's characters through ``vocab`` and back."""
    ids = parse_prefix(prefix, len(vocab), vocab)
    return vocab.decode(predict(model, ids, num_preds, **kwargs))


def load_for_prediction(
    checkpoint: str | Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, Vocab | None, dict]:
    """The model of a checkpoint written by ``rnn-autograd train``, its vocabulary (None for
    integer-token data) and the stored configuration."""
    from .checkpoint import load_checkpoint
    from .model import RNNModel

    ckpt = load_checkpoint(checkpoint, map_location=device)
    if not ckpt.get("model_config"):
        raise UsageError(f"checkpoint {checkpoint} does not say how to rebuild its model")
    model = RNNModel(**ckpt["model_config"]).to(device)
    model.load_state_dict(ckpt["model"])
    tokens = ckpt.get("vocab")
    vocab = Vocab.from_tokens(tokens) if tokens else None
    return model, vocab, ckpt.get("config", {})
