"""The ``Case`` record and the registry of cases.

A case is a plain function registered under a stable id ``family/name`` with the question a user
would ask, its declared outcome, its explanation (the function's docstring, MyST markdown) and,
where it fails on purpose, the id of the case that shows the fix. Ids are never renumbered or
reused; a case that stops reproducing in a newer torch keeps its id and declares ``ByTorch``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .outcome import Declaration, Raises

__all__ = [
    "Case",
    "CaseLookupError",
    "all_cases",
    "case",
    "families",
    "get_case",
    "load_cases",
    "register",
]

_ID = re.compile(r"^[a-z][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")


class CaseLookupError(LookupError):
    """An unknown case id or family; the message names the closest known ones."""


@dataclass(frozen=True)
class Case:
    id: str
    func: Callable[[], dict[str, Any] | None]
    question: str
    outcome: Declaration
    explanation: str
    expect: str = ""
    fix: str | None = None
    see_also: tuple[str, ...] = ()
    module: str = ""
    # 0: the case runs in this process. 2: it is a function of (rank, world_size) run on two
    # processes at once (``spec.ranks``); seconds to start, so ``check`` runs it on request.
    ranks: int = 0

    @property
    def family(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def summary(self) -> str:
        """The explanation's first paragraph: a one-sentence summary by convention."""
        return self.explanation.strip().split("\n\n", 1)[0].replace("\n", " ")

    @property
    def fails_on_purpose(self) -> bool:
        return isinstance(self.outcome.resolve(), Raises)

    @property
    def source(self) -> str:
        """The case's code as a reader should see it: the body without decorator or docstring."""
        lines, _ = inspect.getsourcelines(self.func)
        text = textwrap.dedent("".join(lines))
        tree_start = text.index("def ")
        text = text[tree_start:]
        doc = inspect.getdoc(self.func)
        if doc:
            # Drop the docstring literal: the explanation is rendered separately.
            match = re.search(r'("""|\'\'\')(.*?)\1\n', text, flags=re.S)
            if match:
                text = text[: match.start()].rstrip() + "\n" + text[match.end() :]
                text = re.sub(r":\n\s*\n", ":\n", text, count=1)
        return text.rstrip() + "\n"


_REGISTRY: dict[str, Case] = {}


def register(c: Case) -> Case:
    """Add ``c`` to the registry; a malformed or duplicate id is rejected."""
    if not _ID.match(c.id):
        raise ValueError(
            f"case id {c.id!r} is not of the form 'family/name' (lower-case, digits, '-')"
        )
    if c.id in _REGISTRY:
        raise ValueError(
            f"duplicate case id {c.id!r} (already registered from {_REGISTRY[c.id].module})"
        )
    _REGISTRY[c.id] = c
    return c


def case(
    id: str,
    *,
    question: str,
    outcome: Declaration,
    expect: str = "",
    fix: str | None = None,
    see_also: tuple[str, ...] | list[str] = (),
    ranks: int = 0,
) -> Callable[[Callable], Callable]:
    """Register the decorated function as a case. Its docstring is the explanation.

    ``ranks=2``: the function takes ``(rank, world_size)`` and runs on two processes joined in a
    gloo process group (``rnn_autograd.spec.ranks``); rank 0's return value is the observation.

    Args:
        id: ``family/name``; the family names its page of the docs.
        question: the question the case answers, one line.
        outcome: the declared outcome (``Returns``, ``Raises``, ``Warned``, ``ByTorch`` ...),
            checked against what torch does.
        expect: for a case that fails on purpose, what you might expect instead.
        fix: the id of the case that does it right (every case that raises on purpose names
            one).
        see_also: ids of related cases.
        ranks: 0: runs in this process; 2: on two processes.

    Returns:
        The decorator; the function it returns is the one decorated, with ``case_id`` set.
    """
    if ranks not in (0, 2):
        raise ValueError(f"case {id!r}: ranks must be 0 (this process) or 2; got {ranks}")

    def decorate(func: Callable) -> Callable:
        explanation = inspect.getdoc(func) or ""
        if not explanation.strip():
            raise ValueError(f"case {id!r} has no explanation (the function's docstring)")
        register(
            Case(
                id=id,
                func=func,
                question=question,
                outcome=outcome,
                explanation=explanation,
                expect=expect,
                fix=fix,
                see_also=tuple(see_also),
                module=func.__module__,
                ranks=ranks,
            )
        )
        func.case_id = id  # type: ignore[attr-defined]
        return func

    return decorate


def load_cases(package: str | None = None) -> dict[str, Case]:
    """Import every module of ``package`` (a dotted name; idempotent) and return the registry.

    The machinery knows nothing of where cases live: whoever runs them (the command line, pytest,
    the docs) imports a library, and ``rnn_autograd``'s own ``__init__`` imports
    ``rnn_autograd.cases``. ``load_cases()`` alone returns what is registered so far. Modules
    named ``test_*`` (and ``conftest``) are pytest's and are skipped: a library may ship the
    pytest suite that runs its cases beside them.
    """
    if package is not None:
        pkg = importlib.import_module(package)
        for info in sorted(
            pkgutil.iter_modules(getattr(pkg, "__path__", [])), key=lambda m: m.name
        ):
            if _is_test_module(info.name):
                continue  # pytest's (the library's own suite): it imports pytest, no cases
            importlib.import_module(f"{package}.{info.name}")
    return _REGISTRY


def _is_test_module(name: str) -> bool:
    return name.startswith("test_") or name == "conftest"


def all_cases(family: str | None = None) -> list[Case]:
    """Every registered case in id order, optionally of one family (unknown family: error).

    Args:
        family: the family (the part of the id before ``/``); None: every family. An unknown
            one raises ``CaseLookupError`` naming the closest.
    """
    registry = load_cases()
    if family is not None and family not in families():
        raise CaseLookupError(_unknown("family", family, families()))
    return [c for _, c in sorted(registry.items()) if family is None or c.family == family]


def families() -> list[str]:
    """The family names (the part of case ids before the slash), sorted."""
    return sorted({c.family for c in load_cases().values()})


def get_case(case_id: str) -> Case:
    """The case registered as ``case_id``; unknown ids raise ``CaseLookupError`` naming the closest.

    Args:
        case_id: ``family/name``, e.g. ``"rnn-state/no-detach"``.
    """
    registry = load_cases()
    try:
        return registry[case_id]
    except KeyError:
        raise CaseLookupError(_unknown("case id", case_id, list(registry))) from None


def _unknown(kind: str, given: str, known: list[str]) -> str:
    close = difflib.get_close_matches(given, known, n=3, cutoff=0.4)
    if not close and "/" not in given:
        close = [k for k in known if given in k][:3]
    hint = (
        f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(sorted(known)[:6])}..."
    )
    return f"unknown {kind} {given!r}{hint}"
