"""The error inventory: every autograd error and warning text, as data, and how to keep it honest.

The inventory is a JSON file kept with a case library (``rnn_autograd/cases/inventory.json``).
One entry per *message*, keyed by a stable id that is never renumbered or reused:

- ``fragment``: a regex (``re.search``) on a stable part of the message, never the whole text;
- ``kind``: the exception or warning class name (``RuntimeError``, ``UserWarning``,
  ``CheckpointError``); a name ending in ``Warning`` makes the entry a warning;
- ``where``: where PyTorch raises it (source file and function);
- ``meaning``: what it means, one sentence;
- ``cases``: case id -> the pattern that case stands for (the same message, different causes);
- ``none_because``: where ``cases`` is empty, why (``needs CUDA: ...``, ``not plain Python: ...``);
- ``cpu``: false where plain Python on the CPU cannot reach the message at all.

``inventory_problems`` is the one comparison (pytest and the docs use it): every case an entry
names exists and raises or warns exactly that on the installed torch, and every case that raises
or warns is named by an entry. Each problem says what to add or change, and where.

This module reads a file and compares observations; it imports nothing else of the package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .case import Case
from .outcome import Raises, Returns

__all__ = ["Entry", "entries_matching", "inventory_problems", "load_inventory", "observed_texts"]

INVENTORY_FILE = "inventory.json"


@dataclass(frozen=True)
class Entry:
    id: str
    fragment: str
    kind: str
    where: str
    meaning: str
    cases: Mapping[str, str] = field(default_factory=dict)
    none_because: str = ""
    cpu: bool = True

    @property
    def is_warning(self) -> bool:
        return self.kind.endswith("Warning")

    def matches(self, kind: str, message: str) -> bool:
        """Whether an observed exception or warning (class name, message) is this entry's."""
        return kind == self.kind and re.search(self.fragment, message) is not None


def load_inventory(package: str, filename: str = INVENTORY_FILE) -> dict[str, Entry]:
    """The entries of ``package``'s inventory file (a dotted package name), in file order."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_inventory(json.loads(text))


def parse_inventory(data: Mapping[str, Any]) -> dict[str, Entry]:
    entries = {}
    for key, raw in data["entries"].items():
        unknown = set(raw) - {f for f in Entry.__dataclass_fields__ if f != "id"}
        if unknown:
            raise ValueError(f"inventory entry {key!r}: unknown fields {sorted(unknown)}")
        entries[key] = Entry(id=key, **{**raw, "cases": dict(raw.get("cases", {}))})
    return entries


def observed_texts(observation: Any) -> list[tuple[str, str]]:
    """(class name, message) of what a case's run raised and warned, exception first."""
    found = []
    if observation.raised is not None:
        found.append((observation.raised.__name__, observation.message))
    found += [(category.__name__, message) for category, message in observation.warnings]
    return found


def declared_kinds(case: Case) -> set[str]:
    """The class names a case declares: its exception and its warnings."""
    declared = case.outcome.resolve()
    kinds = {w.category.__name__ for w in getattr(declared, "warns", ())}
    if isinstance(declared, Raises):
        kinds.add(declared.exc_type.__name__)
    return kinds


def entries_matching(entries: Iterable[Entry], kind: str, message: str) -> list[Entry]:
    return [e for e in entries if e.matches(kind, message)]


def _suggest(entries: Mapping[str, Entry], case: Case, kind: str, message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    hits = entries_matching(entries.values(), kind, message)
    if hits:
        return (
            f'add "{case.id}": "<the pattern it stands for>" to the "cases" of entry '
            + " or ".join(repr(h.id) for h in hits)
        )
    return (
        f"no entry matches {kind}: {first[:120]!r}; add an entry keyed by a new stable id with "
        f'"fragment", "kind": "{kind}", "where", "meaning" and "cases": {{"{case.id}": "..."}}'
    )


def inventory_problems(
    entries: Mapping[str, Entry],
    cases: Iterable[Case],
    observe: Callable[[Case], Any],
    where: str = "the inventory",
) -> list[str]:
    """What is wrong between ``entries`` and ``cases`` (each run once through ``observe``).

    ``observe`` is ``rnn_autograd.spec.run_case`` (or a cache of it). Returned texts name the
    entry or case and say what to add or change in ``where``.
    """
    by_id = {c.id: c for c in cases}
    problems: list[str] = []
    cache: dict[str, Any] = {}

    def run(c: Case) -> Any:
        if c.id not in cache:
            cache[c.id] = observe(c)
        return cache[c.id]

    named: dict[str, list[str]] = {}
    for entry in entries.values():
        try:
            re.compile(entry.fragment)
        except re.error as exc:
            problems.append(f"entry {entry.id!r}: fragment is not a regex ({exc})")
            continue
        if not entry.cases and not entry.none_because:
            problems.append(
                f"entry {entry.id!r} names no case and says no why: add a case id to its "
                '"cases" or a "none_because" in ' + where
            )
        if not entry.cpu and entry.cases:
            problems.append(f"entry {entry.id!r} says cpu: false but names cases that run here")
        for case_id in entry.cases:
            named.setdefault(case_id, []).append(entry.id)
            case = by_id.get(case_id)
            if case is None:
                problems.append(f"entry {entry.id!r} names {case_id!r}, which is no case")
                continue
            if entry.kind not in declared_kinds(case):
                problems.append(
                    f"entry {entry.id!r} is a {entry.kind}, but {case_id} declares "
                    f"{sorted(declared_kinds(case)) or 'no exception or warning'}"
                )
                continue
            seen = observed_texts(run(case))
            if not any(entry.matches(kind, message) for kind, message in seen):
                shown = "; ".join(f"{k}: {m.strip().splitlines()[0][:100]}" for k, m in seen)
                problems.append(
                    f"entry {entry.id!r}: {case_id} did not raise or warn {entry.kind} "
                    f"matching {entry.fragment!r} (observed: {shown or 'nothing'})"
                )
    for case in by_id.values():
        declared = case.outcome.resolve()
        if isinstance(declared, Returns) and not declared.warns:
            continue
        for kind, message in observed_texts(run(case)):
            if kind not in declared_kinds(case):
                continue  # an undeclared warning is the case's own mismatch, reported by check
            mine = [e for e in named.get(case.id, ()) if entries[e].matches(kind, message)]
            if not mine:
                problems.append(
                    f"case {case.id} {'warns' if kind.endswith('Warning') else 'raises'} "
                    f"{kind} but no entry of {where} names it: "
                    + _suggest(entries, case, kind, message)
                )
    return problems
