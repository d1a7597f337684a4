"""The best next-token perplexity any model can reach on a synthetic sequence, computed exactly.

The synthetic sequences of this project come from processes we know: the notebook's runs of
consecutive integers (``counting_limit``) and the delayed-recall task of ``rnn_autograd.bench.tasks``.
Each is a hidden Markov model (HMM): a hidden state (for the notebook, the position inside the
run and the run's first value) that moves by a known transition matrix and emits a token. The
Bayes-optimal predictor keeps the posterior over the hidden state given every token it has seen
(forward filtering) and predicts the next token from it. Its expected cross-entropy is a lower
bound for every model; its expected accuracy (``argmax`` of the posterior prediction) an upper
bound.

Two contexts, matching the hidden-state strategies of the trainer:

* ``"carried"``: the predictor has seen the whole past (a state carried across batches under
  sequential partitioning). The figure is the *entropy rate* ``lim H(X_t | X_<t)``.
* ``"fresh"``: the context is reset every ``num_steps`` tokens (a fresh state every batch). A
  window holds inputs ``x_0 .. x_{T-1}`` and targets ``x_1 .. x_T`` (``T = num_steps``), so
  target ``k`` is predicted from ``x_0 .. x_{k-1}`` only; the figure is the mean over
  ``k = 1 .. T`` of ``H(X_k | X_0 .. X_{k-1})``, the window starting at a stationary position
  (sequential partitioning puts windows at arbitrary offsets relative to the runs).

Both are computed exactly by enumerating the distinct posteriors (there are few: equal posteriors
are merged) rather than by sampling; ``monte_carlo`` estimates the same figures from a long
sample to check them.

How to compare with the trainer: the trainer's perplexity is ``exp`` of the mean cross-entropy
(natural log) over every predicted token, and its accuracy the fraction of targets equal to the
``argmax`` of the logits. ``LimitResult.perplexity`` is ``exp(cross_entropy_nats)`` with the same
mean over predicted tokens, so the two are directly comparable: a trained model's held-out
perplexity can approach the limit of its context from above, never cross it (up to sampling
noise of a finite held-out set).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "HiddenMarkovSource",
    "LimitResult",
    "counting_limit",
    "counting_source",
    "exact_limit",
    "gap_limit",
    "monte_carlo",
]

_KEY_DECIMALS = 12  # posteriors equal to 12 decimals are merged: exact for these processes


@dataclass(frozen=True)
class LimitResult:
    """The Bayes-optimal next-token figures under one context.

    ``per_position`` holds, for ``"fresh"``, the expected cross-entropy of target ``k``
    (``k = 1 .. num_steps``); for ``"carried"``, the conditional entropies ``H(X_t | X_<t)``
    that converge to the rate (the last is the rate).
    """

    perplexity: float
    cross_entropy_nats: float
    accuracy: float
    context: str
    num_steps: int | None
    per_position: tuple[float, ...] = field(repr=False, default=())

    def as_dict(self) -> dict:
        return {
            "perplexity": self.perplexity,
            "cross_entropy_nats": self.cross_entropy_nats,
            "accuracy": self.accuracy,
            "context": self.context,
            "num_steps": self.num_steps,
            "per_position": list(self.per_position),
        }


class HiddenMarkovSource:
    """A stationary token process: hidden states moving by ``transition``, each emitting a token.

    ``transition[i, j] = P(S_{t+1} = j | S_t = i)``, ``emission[i, v] = P(X_t = v | S_t = i)``;
    ``initial`` defaults to the stationary distribution of ``transition``.
    """

    def __init__(
        self, transition: np.ndarray, emission: np.ndarray, initial: np.ndarray | None = None
    ):
        self.transition = np.asarray(transition, dtype=np.float64)
        self.emission = np.asarray(emission, dtype=np.float64)
        n = self.transition.shape[0]
        if self.transition.shape != (n, n) or self.emission.shape[0] != n:
            raise ValueError("transition must be (S, S) and emission (S, V)")
        self.initial = self.stationary() if initial is None else np.asarray(initial, float)

    @property
    def vocab_size(self) -> int:
        return self.emission.shape[1]

    def stationary(self) -> np.ndarray:
        values, vectors = np.linalg.eig(self.transition.T)
        pi = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
        return pi / pi.sum()

    def sample(self, num_tokens: int, rng: np.random.Generator) -> np.ndarray:
        """A sample path of ``num_tokens`` tokens, the first state drawn from ``initial``."""
        n, v = self.transition.shape[0], self.vocab_size
        cum_t = np.cumsum(self.transition, axis=1)
        cum_e = np.cumsum(self.emission, axis=1)
        state = int(np.searchsorted(np.cumsum(self.initial), rng.random(), side="right"))
        out = np.empty(num_tokens, dtype=np.int64)
        for t in range(num_tokens):
            out[t] = min(int(np.searchsorted(cum_e[state], rng.random(), side="right")), v - 1)
            state = min(int(np.searchsorted(cum_t[state], rng.random(), side="right")), n - 1)
        return out

    def _observe_first(self) -> _Pool:
        """Posteriors after the first token (merged), with their probabilities."""
        joint = self.initial[None, :, None] * self.emission[None]  # (1, S, V)
        return _merge(joint, np.ones(1))[0]

    def _step(self, pool: _Pool) -> tuple[_Pool, float, float]:
        """Predict the next token from every posterior; return the new pool, E[H] and E[max]."""
        beliefs, probs = pool
        prior = beliefs @ self.transition  # (P, S): P(S_{t+1} | x_0..x_t) for each posterior
        joint = prior[:, :, None] * self.emission[None]  # (P, S, V)
        new, predict = _merge(joint, probs)
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(predict > 0, predict * np.log(predict), 0.0)
        entropy = float(probs @ -plogp.sum(axis=1))
        accuracy = float(probs @ predict.max(axis=1))
        return new, entropy, accuracy


_Pool = tuple[np.ndarray, np.ndarray]  # (P, S) distinct posteriors and their (P,) probabilities


def _merge(joint: np.ndarray, probs: np.ndarray) -> tuple[_Pool, np.ndarray]:
    """Condition each posterior on each possible token; merge equal results.

    ``joint[p, s, v]`` is P(S = s, X = v | posterior p). Returns the merged pool and the
    predictive distributions ``(P, V)``.
    """
    predict = joint.sum(axis=1)  # (P, V)
    p_idx, v_idx = np.nonzero(predict > 0)
    beliefs = joint[p_idx, :, v_idx] / predict[p_idx, v_idx, None]  # (M, S)
    weights = probs[p_idx] * predict[p_idx, v_idx]
    keys = np.round(beliefs, _KEY_DECIMALS)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    merged = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(first))
    return (beliefs[first], merged), predict


def exact_limit(
    source: HiddenMarkovSource,
    context: str = "carried",
    num_steps: int | None = None,
    *,
    tol: float = 1e-12,
    max_steps: int = 10_000,
) -> LimitResult:
    """The Bayes-optimal cross-entropy, perplexity and accuracy of ``source`` under ``context``.

    ``"fresh"`` needs ``num_steps`` (the window length: targets 1 .. num_steps of each window);
    ``"carried"`` iterates the conditional entropy until it has changed by less than ``tol``
    for as many steps as there are hidden states (a plateau shorter than that, as in a task
    whose dependency spans many steps, is not mistaken for convergence).
    """
    if context not in ("carried", "fresh"):
        raise ValueError(f"context must be 'carried' or 'fresh', not {context!r}")
    pool = source._observe_first()
    entropies: list[float] = []
    accuracies: list[float] = []
    if context == "fresh":
        if num_steps is None or num_steps < 1:
            raise ValueError("context='fresh' needs num_steps >= 1")
        for _ in range(num_steps):
            pool, h, a = source._step(pool)
            entropies.append(h)
            accuracies.append(a)
        ce, acc = float(np.mean(entropies)), float(np.mean(accuracies))
    else:
        # H(X_t | X_0..X_{t-1}) is non-increasing for a stationary process: stop when it settles
        patience, settled = source.transition.shape[0], 0
        for _ in range(max_steps):
            pool, h, a = source._step(pool)
            settled = settled + 1 if entropies and abs(entropies[-1] - h) < tol else 0
            entropies.append(h)
            accuracies.append(a)
            if settled >= patience:
                break
        ce, acc = entropies[-1], accuracies[-1]
    return LimitResult(
        perplexity=math.exp(ce),
        cross_entropy_nats=ce,
        accuracy=acc,
        context=context,
        num_steps=num_steps,
        per_position=tuple(entropies),
    )


def gap_limit(
    source: HiddenMarkovSource, context_tokens: int, gap: int, num_steps: int
) -> LimitResult:
    """The Bayes-optimal figures for a window whose only past is an *earlier* window.

    The predictor has seen ``context_tokens`` tokens, then ``gap`` tokens it never sees, then
    the window (inputs ``x_0 .. x_{T-1}``, targets ``x_1 .. x_T``, ``T = num_steps``). This is
    what a state carried across the notebook's overlapping windows can at best hold: row r of
    batch b+1 starts ``batch_size`` tokens after row r of batch b, so ``context_tokens =
    num_steps`` and ``gap = batch_size - num_steps``. ``per_position`` holds each target's figure.
    """
    if context_tokens < 1 or gap < 0 or num_steps < 1:
        raise ValueError("need context_tokens >= 1, gap >= 0 and num_steps >= 1")
    pool = source._observe_first()
    for _ in range(context_tokens - 1):
        pool = source._step(pool)[0]
    beliefs, probs = pool
    # the unseen tokens: the hidden state moves on, nothing is observed
    pool = (beliefs @ np.linalg.matrix_power(source.transition, gap), probs)
    pool = source._step(pool)[0]  # observe x_0, the window's first input
    entropies, accuracies = [], []
    for _ in range(num_steps):
        pool, h, a = source._step(pool)
        entropies.append(h)
        accuracies.append(a)
    ce = float(np.mean(entropies))
    return LimitResult(
        perplexity=math.exp(ce),
        cross_entropy_nats=ce,
        accuracy=float(np.mean(accuracies)),
        context=f"after a gap of {gap}",
        num_steps=num_steps,
        per_position=tuple(entropies),
    )


def monte_carlo(
    source: HiddenMarkovSource,
    tokens: np.ndarray,
    context: str = "carried",
    num_steps: int | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy (nats) and accuracy of the exact filter on a sample ``tokens``.

    ``"carried"`` filters once over the whole sample; ``"fresh"`` restarts from ``initial`` at
    every window of ``num_steps + 1`` tokens (inputs and the last target), as the trainer's
    sequential windows do. Used to check ``exact_limit``.
    """
    tokens = np.asarray(tokens)
    losses: list[float] = []
    hits: list[bool] = []
    if context == "carried":
        segments = [tokens]
    else:
        if num_steps is None:
            raise ValueError("context='fresh' needs num_steps")
        # window i: inputs tokens[i*T : i*T+T], targets shifted by one, as sequential batches
        segments = [
            tokens[i : i + num_steps + 1] for i in range(0, len(tokens) - num_steps, num_steps)
        ]
    for seg in segments:
        belief = source.initial * source.emission[:, seg[0]]
        belief /= belief.sum()
        for v in seg[1:]:
            prior = belief @ source.transition
            predict = prior @ source.emission
            losses.append(-math.log(predict[v]))
            hits.append(int(np.argmax(predict)) == int(v))
            belief = prior * source.emission[:, v]
            belief /= belief.sum()
    return float(np.mean(losses)), float(np.mean(hits))


def counting_source(run_length: int = 5, low: int = 0, high: int = 10) -> HiddenMarkovSource:
    """The notebook's process: runs of ``run_length`` consecutive integers, each starting at a
    uniform integer in ``[low, high]`` (inclusive). Tokens are ``low .. high + run_length - 1``.

    Hidden state ``(phase, start)``: token ``start + phase``; the phase advances by one and,
    after the last, a new start is drawn. A new run may start at ``previous + 1`` and look like a
    continuation, so the phase is not always visible: the filter handles that ambiguity.
    """
    if run_length < 1 or high < low:
        raise ValueError("need run_length >= 1 and high >= low")
    starts = high - low + 1
    n = run_length * starts
    vocab = high + run_length  # token ids 0 .. high + run_length - 1 (ids below low unused)
    transition = np.zeros((n, n))
    emission = np.zeros((n, vocab))
    index = lambda phase, s: phase * starts + s  # noqa: E731 - local index helper
    for phase in range(run_length):
        for s in range(starts):
            i = index(phase, s)
            emission[i, low + s + phase] = 1.0
            if phase + 1 < run_length:
                transition[i, index(phase + 1, s)] = 1.0
            else:
                transition[i, [index(0, s2) for s2 in range(starts)]] = 1.0 / starts
    return HiddenMarkovSource(transition, emission)


@functools.lru_cache(maxsize=64)  # exact but not free; benchmarks ask repeatedly
def counting_limit(
    run_length: int = 5,
    low: int = 0,
    high: int = 10,
    context: str = "carried",
    num_steps: int | None = None,
) -> LimitResult:
    """The best next-token figures on the notebook's synthetic sequence (see the module doc).

    Args:
        run_length: the number of consecutive integers in each run (``counting_sequence``).
        low: the smallest start of a run.
        high: the largest start of a run.
        context: ``"carried"`` (the predictor has seen the whole past) or ``"fresh"`` (the
            context is reset every ``num_steps`` tokens).
        num_steps: the window length, needed by ``"fresh"``.

    Returns:
        The ``LimitResult``: the Bayes-optimal cross-entropy, perplexity and accuracy.

    >>> round(counting_limit().perplexity, 4)  # carried: 11 ** (1 / 5)
    1.6154
    >>> counting_limit(context="fresh", num_steps=20).perplexity > counting_limit().perplexity
    True
    """
    return exact_limit(counting_source(run_length, low, high), context, num_steps)
