"""Running a case (observing) and checking it (comparing with its declaration).

``run_case`` executes a case in isolation and records what happened; ``check`` compares that
observation with the declaration. pytest, the command line and the docs directive all call
``check``, so there is one comparison in the project and no outcome is ever typed by hand.
"""

from __future__ import annotations

import contextlib
import random
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from .case import Case
from .outcome import Declaration, describe_value, installed_torch_version
from .probe import Inspect, collecting_snapshots
from .ranks import on_ranks
from .torch_private import restoring_saved_tensors_hooks

__all__ = ["Observation", "Verdict", "check", "isolated", "run_case", "SEED"]

SEED = 0


@dataclass
class Observation:
    """What a case did: its named values, or the exception it raised; warnings in both cases."""

    case_id: str
    values: dict[str, Any] = field(default_factory=dict)
    raised: type[BaseException] | None = None
    message: str = ""
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)
    seconds: float = 0.0
    # (label, report) pairs recorded by the case's ``snapshot`` calls when run with ``inspect``.
    graphs: list[tuple[str, Any]] = field(default_factory=list)
    exception: BaseException | None = field(default=None, repr=False)

    def raised_text(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.raised.__name__}: {first}" if self.raised else ""

    def describe(self) -> str:
        if self.raised is not None:
            return f"raises {self.raised_text()}"
        parts = [f"{k} = {describe_value(v)}" for k, v in self.values.items()]
        parts += [f"warns {c.__name__}: {m.splitlines()[0]}" for c, m in self.warnings]
        return "returns " + ("; ".join(parts) if parts else "nothing")


@dataclass
class Verdict:
    """The comparison of one observation with its case's declaration."""

    case: Case
    declared: Declaration
    observation: Observation
    mismatches: list[str]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def label(self) -> str:
        return "match" if self.ok else "MISMATCH"


@contextlib.contextmanager
def isolated(seed: int = SEED) -> Iterator[None]:
    """Seed the RNGs and restore every piece of global autograd state afterwards, also on error.

    Restored: torch/Python RNG, grad mode, inference mode, anomaly mode (and its nan check),
    default dtype, deterministic-algorithms flag, warn-always flag, intra-op thread count and the
    saved-tensors default hooks stack.
    """
    rng_torch = torch.get_rng_state()
    rng_py = random.getstate()
    grad = torch.is_grad_enabled()
    anomaly = torch.is_anomaly_enabled()
    anomaly_nan = torch.is_anomaly_check_nan_enabled()
    dtype = torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_always = torch.is_warn_always_enabled()
    threads = torch.get_num_threads()
    # One intra-op thread: float reductions then add in one order on every machine, so exact
    # observations do not depend on the core count; cases are too small to gain from threads.
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    random.seed(seed)
    try:
        # inference_mode(False) is how to *leave* an enclosing inference mode for the case.
        # restoring_saved_tensors_hooks: a raising case may leave saved_tensors_hooks pushed.
        with torch.inference_mode(False), restoring_saved_tensors_hooks():
            yield
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
        torch.autograd.set_detect_anomaly(anomaly, check_nan=anomaly_nan)
        torch.set_default_dtype(dtype)
        torch.set_warn_always(warn_always)
        if torch.are_deterministic_algorithms_enabled() != deterministic:
            # Only when a case changed it: the first call imports torch._inductor (seconds).
            torch.use_deterministic_algorithms(deterministic)
        torch.set_rng_state(rng_torch)
        random.setstate(rng_py)


def run_case(case: Case, *, inspect: Inspect | None = None) -> Observation:
    """Run ``case`` isolated and record its observation. Never raises for the case's own errors.

    With ``inspect`` (``rnn_autograd.diagnose.graph_at``), each ``snapshot`` in the case records
    its graph into ``observation.graphs``; without it, snapshots cost nothing.

    Args:
        case: the case to run.
        inspect: what records a graph at each ``snapshot``
            (``rnn_autograd.diagnose.graph_at``); None: snapshots record nothing.

    Returns:
        The ``Observation``: the returned values, or the exception raised, the warnings, the
        graphs and the seconds it took.
    """
    obs = Observation(case_id=case.id)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with isolated(), collecting_snapshots(inspect) as graphs:
                try:
                    # a case on two processes: both ranks run it, rank 0's values are observed
                    values = on_ranks(case.func)[0] if case.ranks else case.func()
                finally:
                    obs.graphs = graphs
            if values is not None and not isinstance(values, dict):
                raise TypeError(f"case {case.id} must return a dict of observations or None")
            obs.values = dict(values or {})
        except Exception as exc:  # the exception *is* the observation
            obs.raised = type(exc)
            obs.message = str(exc)
            obs.exception = exc
    obs.warnings = [(w.category, str(w.message)) for w in caught]
    obs.seconds = time.perf_counter() - start
    return obs


def check(
    case: Case, observation: Observation | None = None, *, inspect: Inspect | None = None
) -> Verdict:
    """Compare ``case``'s observation (run now if not given, with ``inspect``) with its declaration.

    Args:
        case: the case to check.
        observation: what ``run_case`` observed; None: run the case now.
        inspect: passed to ``run_case`` when it runs the case here.

    Returns:
        The ``Verdict``: the declaration for the installed torch, the observation and the
        mismatches between them (none: the case holds).
    """
    observation = observation if observation is not None else run_case(case, inspect=inspect)
    try:
        declared = case.outcome.resolve(installed_torch_version())
    except LookupError as exc:
        return Verdict(case, case.outcome, observation, [str(exc)])
    return Verdict(case, declared, observation, declared.mismatches(observation))
