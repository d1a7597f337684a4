"""Prediction: warm the state up on a prefix, then extend it one token at a time.

The notebook's ``predict_ch8`` feeds the prefix one token at a time to build the state
(warm-up), then feeds each prediction back as the next input. Here the warm-up is one forward
call over ``prefix[:-1]`` (the same state, fewer calls), and a prefix is token ids (``"1 2 3"``
for the synthetic data: the notebook's ``int(prefix[0])`` reads one character, so it cannot
express tokens of 10 and above) or text through a ``Vocab``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError
from .bounds import check_float, check_int, check_predict_steps
from .corpus import Vocab

__all__ = [
    "load_for_prediction",
    "parse_prefix",
    "predict",
    "predict_text",
    "seconds_per_step",
]


def parse_prefix(text: str, vocab_size: int, vocab: Vocab | None = None) -> list[int]:
    """Token ids from a user's prefix.

    Without ``vocab`` (synthetic data, tokens are integers): ids separated by spaces or commas,
    ``"1 2 3"``, or a run of digits ``"123"`` read one digit per token, as the notebook's
    ``predict_ch8('123', ...)`` reads it (``int(y) for y in prefix``); ids of 10 and above need
    spaces. With ``vocab``: each character of ``text`` must be in the vocabulary.
    A token outside the vocabulary is a ``UsageError`` that names it.
    """
    if vocab is not None:
        if not text:
            raise UsageError("the prefix is empty; give at least one character")
        return vocab.encode(text, strict=True)
    parts = text.replace(",", " ").split()
    if reads_one_digit_per_token(text):
        # The notebook's own form: predict_ch8 takes the prefix one character at a time.
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


def reads_one_digit_per_token(text: str) -> bool:
    """Whether ``parse_prefix`` reads ``text`` as the notebook does: one digit, one token."""
    parts = text.replace(",", " ").split()
    return len(parts) == 1 and parts[0].isascii() and parts[0].isdigit() and len(parts[0]) > 1


def _check_ids(ids: Sequence[int], vocab_size: int) -> None:
    for i in ids:
        if not 0 <= i < vocab_size:
            hint = " (ids are separated by spaces, e.g. '1 2 3')" if i >= 10 else ""
            raise UsageError(
                f"prefix token {i} is outside the vocabulary: give ids from 0 to {vocab_size - 1}{hint}"
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

    Args:
        model: the trained model; put in eval mode for the call and restored after.
        prefix_ids: the token ids to start from (at least one); all but the last warm the state.
        num_preds: how many ids to predict after the prefix.
        greedy: take the most likely token; False: sample.
        temperature: divides the logits before sampling (> 0; ignored when greedy).
        top_k: sample among the ``top_k`` most likely tokens only; None: among all.
        generator: the random generator of the samples; None: torch's default one.
        device: where to run; None: the device of the model's parameters.

    Returns:
        The prefix's ids followed by the ``num_preds`` predicted ones.
    """
    if isinstance(prefix_ids, str | bytes) or not hasattr(prefix_ids, "__iter__"):
        raise UsageError(
            f"prefix_ids must be a sequence of token ids (parse_prefix turns text into one); "
            f"got {type(prefix_ids).__name__}"
        )
    prefix = [check_int(i, "a prefix token id", lo=0) for i in prefix_ids]
    if not prefix:
        raise UsageError("the prefix is empty; give at least one token")
    num_preds = check_int(num_preds, "num_preds (the number of predictions)", lo=0)
    check_predict_steps(num_preds, sum(p.numel() for p in model.parameters()))
    if not isinstance(greedy, bool):
        raise UsageError(f"greedy must be True or False; got {greedy!r}")
    if not greedy:
        check_float(temperature, "temperature", lo=0, lo_open=True)
    if top_k is not None:
        check_int(top_k, "top_k", lo=1)
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
    # shifted so that the largest is 0 before dividing: a tiny temperature sends the others to
    # -inf (probability 0), never the largest to inf (softmax of inf is nan)
    logits = (logits.double() - logits.max()) / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))


def seconds_per_step(model: nn.Module, device: torch.device | str | None = None) -> float:
    """What one prediction step costs on this machine now: the fastest of a few timed steps."""
    device = next(model.parameters()).device if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():  # timing a prediction step: no graph, as in predict
            state = model.begin_state(1, device)
            x = torch.zeros(1, 1, dtype=torch.long, device=device)
            best = math.inf
            for _ in range(4):
                t0 = time.perf_counter()
                logits, state = model(x, state)
                int(logits.argmax())  # waits for the device, as each real step does
                best = min(best, time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return best


def predict_text(model: nn.Module, vocab: Vocab, prefix: str, num_preds: int, **kwargs) -> str:
    """``predict`` for text: the prefix's characters through ``vocab`` and back.

    Args:
        model: the trained model.
        vocab: the vocabulary the model was trained with.
        prefix: the text to start from; each character must be in ``vocab``.
        num_preds: how many characters to predict after the prefix.
        **kwargs: passed on to ``predict`` (``greedy``, ``temperature``, ``top_k``,
            ``generator``, ``device``).

    Returns:
        The prefix followed by the predicted characters.
    """
    ids = parse_prefix(prefix, len(vocab), vocab)
    return vocab.decode(predict(model, ids, num_preds, **kwargs))


def load_for_prediction(
    checkpoint: str | Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, Vocab | None, dict]:
    """The model of a checkpoint written by ``rnn-autograd train``, its vocabulary (None for
    integer-token data) and the stored configuration."""
    from .checkpoint import load_checkpoint
    from .checkpoint_contents import model_from_checkpoint, vocab_from_checkpoint

    ckpt = load_checkpoint(checkpoint, map_location="cpu")
    model = model_from_checkpoint(ckpt, checkpoint, device)
    vocab = vocab_from_checkpoint(ckpt, checkpoint, model.vocab_size)
    cfg = ckpt.get("config", {})
    if not isinstance(cfg, dict):
        raise UsageError(
            f"checkpoint {checkpoint} is damaged: its config is not a dict; train again to write "
            f"a new one"
        )
    return model, vocab, cfg
