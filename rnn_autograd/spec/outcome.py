"""Declared outcomes of a case, and how an observation is compared against them.

A case declares either that it *returns* named observations (``Returns``) or that it *raises*
an exception of a given type whose message matches a regex on a stable fragment (``Raises``).
Where PyTorch releases differ, ``ByTorch`` maps version ranges to declarations and the one
matching the installed torch is used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = [
    "ByTorch",
    "Close",
    "Declaration",
    "Raises",
    "Returns",
    "Satisfies",
    "Warned",
    "describe_value",
    "installed_torch_version",
]


def installed_torch_version() -> Version:
    """The installed torch release, without local tags (``2.13.0+cpu`` -> ``2.13.0``)."""
    return Version(Version(torch.__version__).base_version)


def describe_value(value: Any) -> str:
    """A short, stable text for an observed or declared value."""
    if isinstance(value, torch.Tensor):
        text = repr(value.detach()) if value.requires_grad else repr(value)
        text = " ".join(text.split())
        if value.requires_grad:
            text = text.rstrip(")") + ", requires_grad=True)"
        return text
    if isinstance(value, (Close, Satisfies, Warned)):
        return value.describe()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)) and len(value) > 8:
        runs = _run_length(value)
        if len(runs) < len(value) // 2:
            inner = ", ".join(
                f"{describe_value(v)} x{n}" if n > 1 else describe_value(v) for v, n in runs
            )
            return f"[{inner}]"
    if isinstance(value, tuple):
        return (
            "("
            + ", ".join(describe_value(v) for v in value)
            + ("," if len(value) == 1 else "")
            + ")"
        )
    if isinstance(value, list):
        return "[" + ", ".join(describe_value(v) for v in value) + "]"
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def _run_length(values: list | tuple) -> list[tuple[Any, int]]:
    runs: list[tuple[Any, int]] = []
    for v in values:
        if (
            runs
            and type(runs[-1][0]) is type(v)
            and not isinstance(v, torch.Tensor)
            and runs[-1][0] == v
        ):
            runs[-1] = (v, runs[-1][1] + 1)
        else:
            runs.append((v, 1))
    return runs


@dataclass(frozen=True)
class Close:
    """A number or tensor compared with a tolerance (``torch.testing.assert_close`` semantics).

    Args:
        value: the declared number or tensor.
        rtol: the relative tolerance.
        atol: the absolute tolerance. Tensors are compared by ``torch.testing.assert_close``
            (close where ``|observed - value| <= atol + rtol * |value|``), numbers by
            ``math.isclose``.
    """

    value: Any
    rtol: float = 1e-5
    atol: float = 1e-6

    def describe(self) -> str:
        return f"{describe_value(self.value)} (rtol={self.rtol:g}, atol={self.atol:g})"

    def matches(self, observed: Any) -> str | None:
        try:
            if isinstance(self.value, torch.Tensor) or isinstance(observed, torch.Tensor):
                torch.testing.assert_close(
                    torch.as_tensor(observed).detach(),
                    torch.as_tensor(self.value).detach(),
                    rtol=self.rtol,
                    atol=self.atol,
                    check_dtype=False,
                )
            elif not math.isclose(observed, self.value, rel_tol=self.rtol, abs_tol=self.atol):
                return "not close"
        except (AssertionError, TypeError, ValueError) as exc:
            return str(exc).splitlines()[0]
        return None


@dataclass(frozen=True)
class Satisfies:
    """A property of a value that is not a fixed number (a loss that fell, a ratio above 1).

    Args:
        predicate: called with the observed value; true: it matches. A predicate that raises
            is a mismatch.
        description: what the predicate checks, shown in the docs and in a mismatch.
    """

    predicate: Callable[[Any], bool]
    description: str

    def describe(self) -> str:
        return f"<{self.description}>"

    def matches(self, observed: Any) -> str | None:
        try:
            ok = bool(self.predicate(observed))
        except Exception as exc:  # a predicate that cannot evaluate is a mismatch, not a crash
            return f"predicate raised {type(exc).__name__}: {exc}"
        return None if ok else f"not {self.description}"


@dataclass(frozen=True)
class Warned:
    """A warning the case emits: category plus a regex on a stable fragment of its message.

    Args:
        category: the warning's class (a subclass matches too).
        pattern: a regular expression ``re.search`` finds in the message: a stable fragment.
    """

    category: type[Warning]
    pattern: str

    def describe(self) -> str:
        return f"{self.category.__name__}(~{self.pattern!r})"

    def matches_warning(self, category: type[Warning], message: str) -> bool:
        return issubclass(category, self.category) and re.search(self.pattern, message) is not None


def _compare_value(declared: Any, observed: Any) -> str | None:
    """None when ``observed`` satisfies ``declared``, else why not."""
    if isinstance(declared, (Close, Satisfies)):
        return declared.matches(observed)
    if isinstance(declared, torch.Tensor):
        if not isinstance(observed, torch.Tensor):
            return f"expected a tensor, got {type(observed).__name__}"
        if observed.dtype != declared.dtype or observed.shape != declared.shape:
            return f"dtype/shape {observed.dtype}{tuple(observed.shape)} != {declared.dtype}{tuple(declared.shape)}"
        return None if torch.equal(observed.detach(), declared) else "values differ"
    if isinstance(declared, (list, tuple)):
        if not isinstance(observed, (list, tuple)) or len(observed) != len(declared):
            return "length or type differs"
        for i, (d, o) in enumerate(zip(declared, observed, strict=True)):
            why = _compare_value(d, o)
            if why:
                return f"item {i}: {why}"
        return None
    if isinstance(declared, bool) or declared is None:
        return None if observed is declared else "differs"
    if isinstance(declared, type):
        return None if observed is declared else "differs"
    if isinstance(observed, torch.Tensor):
        return f"expected {type(declared).__name__}, got a tensor"
    return None if type(observed) is type(declared) and observed == declared else "differs"


class Declaration:
    """Base of the declared outcomes."""

    def resolve(self, version: Version | None = None) -> Declaration:
        return self

    def describe(self) -> str:
        raise NotImplementedError

    def mismatches(self, observation: Any) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Returns(Declaration):
    """The case returns; ``values`` maps each observation name to its declared value.

    Every observed name must be declared and every declared name observed. Warnings emitted while
    the case runs are part of the observation: undeclared warnings are a mismatch.

    Args:
        values: observation name -> declared value (a plain value, ``Close`` or ``Satisfies``).
        warns: the warnings the case emits (``Warned``).
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    warns: tuple[Warned, ...] = ()

    def describe(self) -> str:
        parts = [f"{k} = {describe_value(v)}" for k, v in self.values.items()]
        parts += [f"warns {w.describe()}" for w in self.warns]
        return "returns " + ("; ".join(parts) if parts else "nothing")

    def mismatches(self, observation: Any) -> list[str]:
        if observation.raised is not None:
            return [f"declared a return, observed {observation.raised_text()}"]
        problems: list[str] = []
        observed = observation.values
        for name in self.values:
            if name not in observed:
                problems.append(f"missing observation {name!r}")
        for name in observed:
            if name not in self.values:
                problems.append(f"extra observation {name!r} = {describe_value(observed[name])}")
        for name, declared in self.values.items():
            if name in observed:
                why = _compare_value(declared, observed[name])
                if why:
                    problems.append(
                        f"{name}: declared {describe_value(declared)}, "
                        f"observed {describe_value(observed[name])} ({why})"
                    )
        problems += _warning_mismatches(self.warns, observation.warnings)
        return problems


def _warning_mismatches(
    declared: tuple[Warned, ...], observed: list[tuple[type, str]]
) -> list[str]:
    problems = []
    unmatched = list(observed)
    for w in declared:
        hit = next((o for o in unmatched if w.matches_warning(*o)), None)
        if hit is None:
            problems.append(f"declared warning {w.describe()} was not emitted")
        else:
            unmatched.remove(hit)
    for category, message in unmatched:
        problems.append(f"undeclared warning {category.__name__}: {message.splitlines()[0]}")
    return problems


@dataclass(frozen=True)
class Raises(Declaration):
    """The case raises ``exc_type`` (exactly that type, not a subclass) whose message matches
    ``pattern`` (``re.search``): a stable fragment, never the full text, which changes between
    releases.

    Args:
        exc_type: the exception's class.
        pattern: a regular expression ``re.search`` finds in the message.
        warns: the warnings the case emits before it raises (``Warned``).
    """

    exc_type: type[BaseException]
    pattern: str
    warns: tuple[Warned, ...] = ()

    def describe(self) -> str:
        # The warnings are part of the declaration: two releases that raise alike but warn
        # differently (UserWarning, later FutureWarning) must not read as the same declaration.
        text = f"raises {self.exc_type.__name__} matching {self.pattern!r}"
        return "; ".join([text] + [f"warns {w.describe()}" for w in self.warns])

    def matches_exception(self, exc_type: type[BaseException], message: str) -> bool:
        return exc_type is self.exc_type and re.search(self.pattern, message) is not None

    def mismatches(self, observation: Any) -> list[str]:
        if observation.raised is None:
            values = "; ".join(f"{k} = {describe_value(v)}" for k, v in observation.values.items())
            return [f"declared {self.describe()}, but it returned ({values or 'nothing'})"]
        exc_type, message = observation.raised, observation.message
        problems = []
        if exc_type is not self.exc_type:
            problems.append(
                f"declared {self.exc_type.__name__}, observed {exc_type.__name__}: {_first_line(message)}"
            )
        elif re.search(self.pattern, message) is None:
            problems.append(f"message does not match {self.pattern!r}: {_first_line(message)}")
        problems += _warning_mismatches(self.warns, observation.warnings)
        return problems


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@dataclass(frozen=True)
class ByTorch(Declaration):
    """Declarations per torch release range, e.g. ``ByTorch({"<2.4": A, ">=2.4": B})``.

    Exactly one range must contain the installed release; none is an error that says so.

    Args:
        ranges: a version specifier (``packaging``'s, e.g. ``">=2.4"``) -> the declaration for
            the torch releases in it.
    """

    ranges: Mapping[str, Declaration]

    def resolve(self, version: Version | None = None) -> Declaration:
        version = version or installed_torch_version()
        hits = [d for spec, d in self.ranges.items() if version in SpecifierSet(spec)]
        if len(hits) != 1:
            covered = ", ".join(self.ranges)
            raise LookupError(
                f"torch {version} is covered by {len(hits)} of the declared ranges ({covered}); expected exactly one"
            )
        return hits[0].resolve(version)

    def describe(self) -> str:
        return self.resolve().describe()

    def mismatches(self, observation: Any) -> list[str]:
        return self.resolve().mismatches(observation)
