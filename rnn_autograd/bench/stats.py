"""Figures over seeds: mean and spread, and which differences between strategies are significant.

Every strategy of a learning section trains once per seed, and within one seed every strategy
starts from the same weights on the same batches. The differences between two strategies are
therefore *paired* by seed: ``paired_t`` tests the mean of the per-seed differences against zero
(Student's t with n - 1 degrees of freedom, two-sided), and ``compare`` applies Holm's step-down
correction over every pair of a section, so that "significant" holds at the family-wise level
``alpha``. Student's t distribution is computed here (the regularized incomplete beta function by
its continued fraction), without scipy.
"""

from __future__ import annotations

import math
from itertools import combinations

__all__ = [
    "compare",
    "compare_pairs",
    "holm",
    "paired_t",
    "summarize",
    "t_quantile",
    "t_sf_two_sided",
]

ALPHA = 0.05


def _betacf(a: float, b: float, x: float) -> float:
    # the continued fraction of the incomplete beta function, by the modified Lentz method
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # the fraction converges fast on this side of the mean; use the symmetry on the other
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (p in (0.5, 1)), by bisection on ``t_sf_two_sided``."""
    target = 2.0 * (1.0 - p)  # two-sided tail at the quantile
    lo, hi = 0.0, 1.0
    while t_sf_two_sided(hi, df) > target:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_sf_two_sided(mid, df) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def summarize(values: list[float]) -> dict:
    """n, mean, sample standard deviation and the half-width of the 95% t interval of the mean
    (sd and half-width None for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci95": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return {"n": n, "mean": mean, "sd": sd, "ci95": t_quantile(0.975, n - 1) * sd / math.sqrt(n)}


def paired_t(a: list[float], b: list[float]) -> dict:
    """Paired t-test of mean(a - b) = 0 over seeds: the mean difference, its 95% interval's
    half-width, t, the degrees of freedom and the two-sided p (None for fewer than two pairs)."""
    if len(a) != len(b):
        raise ValueError(f"paired_t needs as many values on each side; got {len(a)} and {len(b)}")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    s = summarize(diffs)
    out = {"diff": s["mean"], "ci95": s["ci95"], "t": None, "df": s["n"] - 1, "p": None}
    if s["sd"] is None:
        return out
    if s["sd"] == 0.0:  # identical differences on every seed: t is infinite unless they are 0
        out["t"], out["p"] = (0.0, 1.0) if s["mean"] == 0.0 else (math.inf, 0.0)
        return out
    out["t"] = s["mean"] / (s["sd"] / math.sqrt(s["n"]))
    out["p"] = t_sf_two_sided(out["t"], out["df"])
    return out


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the given order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def compare(per_seed: dict[str, list[float]], alpha: float = ALPHA) -> list[dict]:
    """Every pair of strategies of a section: the paired t-test over seeds, Holm-adjusted.

    ``per_seed[name]`` lists one figure per seed, seeds in the same order for every name. Each
    entry: ``a``, ``b``, ``diff`` (mean of a - b), ``ci95``, ``t``, ``df``, ``p``, ``p_holm``
    and ``significant`` (None where fewer than two seeds allow no test).
    """
    return compare_pairs(per_seed, list(combinations(per_seed, 2)), alpha)


def compare_pairs(
    per_seed: dict[str, list[float]], pairs: list[tuple[str, str]], alpha: float = ALPHA
) -> list[dict]:
    """``compare`` over the given ``pairs`` (a, b) only: Holm's family is those pairs."""
    out = [dict(a=a, b=b, **paired_t(per_seed[a], per_seed[b])) for a, b in pairs]
    tested = [c for c in out if c["p"] is not None]
    for c, p in zip(tested, holm([c["p"] for c in tested]), strict=True):
        c["p_holm"] = p
        c["significant"] = p < alpha
    for c in out:
        c.setdefault("p_holm", None)
        c.setdefault("significant", None)
    return out
