"""A synthetic task where carrying the hidden state matters: a key recalled ``delay`` steps later.

The notebook's counting sequence needs little memory: after one visible run boundary the phase
is known and only a few tokens of context matter. The *delayed recall* stream needs a memory
as long as ``delay``. It is a sequence of episodes of ``delay + 1`` tokens::

    key  clock_1 clock_2 ... clock_{delay-1}  key      (then the next episode)
    k    K       K+1         K+delay-2        k

The key ``k`` is uniform over ``0 .. num_keys - 1``; the clock tokens ``K .. K + delay - 2``
(``K = num_keys``) are always the same, so the position inside an episode is visible from any
single clock token and the only thing to remember is the key. Predicting the recall (the last
token) needs the key seen ``delay`` steps before:

* a state reset every ``num_steps < delay`` tokens (``fresh``) never has it: the recall costs
  ``log num_keys`` nats, as the key does;
* a carried, detached state (``detach``) has the key in its forward pass, but no gradient
  reaches back ``delay`` steps to teach the network to keep it, so it can at best partly learn
  it (through what shorter dependencies happen to teach);
* a graph kept over ``delay`` steps or more (``window:K`` with ``K * num_steps > delay``, or
  TBPTT with ``K2 > delay``) carries the gradient from the recall to the key.

Its exact limits come from the same hidden Markov filter as the notebook's sequence
(``rnn_autograd.bench.limits``). ``recall_mask`` finds the targets that are recalls, so that a
benchmark can report accuracy on them alone (chance is ``1 / num_keys``).
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch

from ..errors import UsageError
from .limits import HiddenMarkovSource, LimitResult, exact_limit

__all__ = [
    "delayed_recall_limit",
    "delayed_recall_sequence",
    "delayed_recall_source",
    "recall_mask",
    "recall_vocab_size",
]


def _check(delay: int, num_keys: int) -> None:
    if delay < 2 or num_keys < 2:
        raise UsageError(
            f"delayed recall needs delay >= 2 and num_keys >= 2; got delay={delay}, num_keys={num_keys}"
        )


def recall_vocab_size(delay: int, num_keys: int) -> int:
    """Number of token ids: the keys and the ``delay - 1`` clock tokens."""
    return num_keys + delay - 1


def delayed_recall_sequence(
    num_episodes: int, delay: int = 15, num_keys: int = 4, seed: int = 0
) -> list[int]:
    """``num_episodes`` episodes of ``delay + 1`` tokens (see the module doc), seeded.

    >>> delayed_recall_sequence(2, delay=3, num_keys=2, seed=0)
    [1, 2, 3, 1, 1, 2, 3, 1]
    """
    _check(delay, num_keys)
    if num_episodes < 1:
        raise UsageError(f"num_episodes must be >= 1; got {num_episodes}")
    rng = random.Random(seed)
    clock = list(range(num_keys, num_keys + delay - 1))
    seq: list[int] = []
    for _ in range(num_episodes):
        key = rng.randrange(num_keys)
        seq.append(key)
        seq.extend(clock)
        seq.append(key)
    return seq


def recall_mask(inputs: torch.Tensor, delay: int, num_keys: int) -> torch.Tensor:
    """True where the *target* after ``inputs`` is a recall: the input is the last clock token."""
    return inputs == num_keys + delay - 2


def delayed_recall_source(delay: int = 15, num_keys: int = 4) -> HiddenMarkovSource:
    """The delayed recall stream as a hidden Markov model: hidden state ``(phase, key)``."""
    _check(delay, num_keys)
    period = delay + 1
    n = period * num_keys
    transition = np.zeros((n, n))
    emission = np.zeros((n, recall_vocab_size(delay, num_keys)))
    for phase in range(period):
        for k in range(num_keys):
            i = phase * num_keys + k
            token = k if phase in (0, delay) else num_keys + phase - 1
            emission[i, token] = 1.0
            if phase < delay:
                transition[i, (phase + 1) * num_keys + k] = 1.0
            else:
                transition[i, :num_keys] = 1.0 / num_keys  # a new episode, a new key
    return HiddenMarkovSource(transition, emission)


@functools.lru_cache(maxsize=64)  # exact but not free; benchmarks ask repeatedly
def delayed_recall_limit(
    delay: int = 15, num_keys: int = 4, context: str = "carried", num_steps: int | None = None
) -> LimitResult:
    """Best next-token figures on the delayed recall stream (``context`` as in ``limits``).

    With a carried context only the keys are uncertain: ``log(num_keys) / (delay + 1)`` nats
    per token. With a fresh context of ``num_steps < delay`` tokens the recalls are too.

    >>> import math
    >>> r = delayed_recall_limit(delay=5, num_keys=4)
    >>> math.isclose(r.cross_entropy_nats, math.log(4) / 6)
    True
    """
    return exact_limit(delayed_recall_source(delay, num_keys), context, num_steps)
