"""Match an error (an exception, a message or a whole traceback) to the cases that declare it.

There is no second table of known errors: the matcher reads each case's own declared outcome
(``Raises(exc_type, pattern)``, resolved for the installed torch; ranges declared for other
releases are kept too, ranked after) and asks ``Raises.matches_exception`` or the same regex.

Ranking, best first:

1. *declared*: the exception type and the message pattern both match;
2. *pattern*: the message matches but the type is unknown (a bare message) or differs;
3. *hint*: no pattern matches, but many of a case's words occur in the message (weak).

Within a tier, a traceback's own code lines break ties: cases whose source shares the rarer
identifiers of those lines (``_saved_self``, ``retain_graph``, ``detach_``) come first. Then the
pattern found earliest in the message wins (the main clause of the error, not a parenthesis),
then the longest matched fragment, then the case whose question shares most words with the
message (a question that quotes the error), then the case id.
"""

from __future__ import annotations

import builtins
import math
import re
from collections import Counter
from dataclasses import dataclass

from ..spec import Case, all_cases
from ..spec.outcome import ByTorch, Declaration, Raises

__all__ = [
    "ErrorText",
    "Match",
    "match_error",
    "match_exception",
    "match_text",
    "parse_error_text",
]

TIERS = ("declared", "pattern", "hint")
_EXC_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*): ?(.*)$")
_FRAME = re.compile(r'^\s*File "([^"]*)", line \d+')
_CHAIN = re.compile(r"^(During handling of the above exception|The above exception was the direct)")
_PYTEST_E = re.compile(r"^E {2,}")
_ARROW = re.compile(r"^-*> ?(?:\d+ )?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "is",
        "was",
        "be",
        "for",
        "and",
        "or",
        "if",
        "you",
        "it",
        "its",
        "not",
        "by",
        "on",
        "at",
        "as",
        "with",
        "that",
        "this",
        "are",
        "has",
        "have",
        "when",
        "do",
        "does",
        "why",
        "what",
        "from",
        "into",
        "than",
        "then",
        "there",
    ]
)


@dataclass(frozen=True)
class ErrorText:
    """One exception read from text: its type name (None for a bare message) and message."""

    type_name: str | None
    message: str
    context: tuple[str, ...] = ()  # the traceback's code lines, outside torch itself


@dataclass(frozen=True)
class Match:
    """A case that declares (or may explain) an error, with how well it matched."""

    case: Case
    declared: Raises
    tier: str
    other_torch: str | None = None  # the version range, when declared for another torch
    context: float = 0.0
    start: int = 0
    span: int = 0
    score: float = 0.0  # the share of the case's question (hints: and pattern) words found

    @property
    def rank_key(self) -> tuple:
        return (
            TIERS.index(self.tier),
            self.other_torch is not None,
            -self.context,
            self.start,
            -self.span,
            -self.score,
            self.case.id,
        )


def _looks_like_exception(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last.endswith(("Error", "Exception", "Warning", "Interrupt", "Exit", "Iteration")):
        return True
    return isinstance(getattr(builtins, last, None), type) and issubclass(
        getattr(builtins, last), BaseException
    )


def parse_error_text(text: str) -> list[ErrorText]:
    """The exceptions in ``text``, last (the one raised) first.

    A traceback gives one per chained exception; each message runs from its ``Type: message``
    line to the next traceback or chain line (multi-line messages and PEP 678 notes included).
    Text with no such line is a bare message of unknown type. Python, IPython/Jupyter and pytest
    tracebacks are read alike.
    """
    # pytest prints the exception as "E   RuntimeError: ..." lines: read them without the "E".
    lines = [_PYTEST_E.sub("", line) for line in text.strip("\n").splitlines()]
    found: list[ErrorText] = []
    context: list[str] = []
    current: tuple[str, list[str]] | None = None
    skip_code = False

    def close() -> None:
        nonlocal current
        if current is not None:
            found.append(ErrorText(current[0], "\n".join(current[1]).strip(), tuple(context)))
            current = None

    for line in lines:
        frame = _FRAME.match(line)
        if line.startswith("Traceback (most recent call last)") or _CHAIN.match(line):
            close()
            context = [] if line.startswith("Traceback") else context
            continue
        if frame:
            close()
            # torch's own frames are the same for every error: only user code tells cases apart.
            skip_code = "/torch/" in frame.group(1).replace("\\", "/")
            continue
        arrow = _ARROW.match(line)  # IPython "----> 7 code", pytest ">       code"
        if current is None and (line[:1].isspace() or arrow):
            code = line[arrow.end() :].strip() if arrow else line.strip()
            if code and not skip_code and set(code) - set("^~ "):
                context.append(code)
            continue
        header = _EXC_LINE.match(line) if not line[:1].isspace() else None
        if current is None and header and _looks_like_exception(header.group(1)):
            current = (header.group(1), [header.group(2)])
        elif current is not None:
            current[1].append(line)
    close()
    if not found and text.strip():
        return [ErrorText(None, text.strip())]
    return list(reversed(found))


def _declarations(c: Case) -> list[tuple[Raises, str | None]]:
    """``c``'s Raises for the installed torch, then those declared for other releases."""
    out: list[tuple[Raises, str | None]] = []
    try:
        resolved: Declaration | None = c.outcome.resolve()
    except LookupError:
        resolved = None
    if isinstance(resolved, Raises):
        out.append((resolved, None))
    if isinstance(c.outcome, ByTorch):
        for spec, d in c.outcome.ranges.items():
            if isinstance(d, Raises) and d is not resolved:
                out.append((d, spec))
    return out


def _type_matches(declared: Raises, type_name: str | None) -> bool:
    if type_name is None:
        return False
    t = declared.exc_type
    return type_name in (t.__name__, f"{t.__module__}.{t.__qualname__}", t.__qualname__)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2 and w.lower() not in _STOP}


def _share(words: set[str], found: set[str]) -> float:
    return round(len(words & found) / max(len(words), 1), 3)


def _identifiers(text: str) -> Counter:
    return Counter(w for w in _WORD.findall(text) if len(w) > 1 and w not in _STOP)


def _context_scores(cases: list[Case], context: tuple[str, ...]) -> dict[str, float]:
    """Idf-weighted overlap of the traceback's code identifiers with each case's source."""
    if not context:
        return {}
    sources = {c.id: set(_identifiers(c.source)) for c in cases}
    df = Counter(w for ws in sources.values() for w in ws)
    wanted = set(_identifiers("\n".join(context)))
    n = len(cases)
    return {
        cid: round(sum(math.log((1 + n) / (1 + df[w])) for w in wanted & ws), 6)
        for cid, ws in sources.items()
    }


def match_error(
    type_name: str | None,
    message: str,
    context: tuple[str, ...] = (),
    *,
    cases: list[Case] | None = None,
    hints: bool = True,
) -> list[Match]:
    """Every case whose declared exception matches, ranked; hints after, when asked for."""
    cases = cases if cases is not None else all_cases()
    raising = [(c, d, other) for c in cases for d, other in _declarations(c)]
    unique = {c.id: c for c, _, _ in raising}  # a Case with a ByTorch outcome is not hashable
    scores = _context_scores([unique[k] for k in sorted(unique)], context)
    flat = " ".join(message.split())  # a message wrapped by a terminal still matches
    best: dict[str, Match] = {}
    for c, d, other in raising:
        found = re.search(d.pattern, message) or re.search(d.pattern, flat)
        if found:
            tier = "declared" if _type_matches(d, type_name) else "pattern"
            # A question that quotes the error is the canonical page for it: a tie-break.
            share = _share(_words(c.question), _words(message))
            m = Match(c, d, tier, other, scores.get(c.id, 0.0), found.start(), len(found[0]), share)
        elif hints:
            share = _share(_words(d.pattern) | _words(c.question), _words(message))
            if share < 0.5:
                continue
            m = Match(c, d, "hint", other, scores.get(c.id, 0.0), score=share)
        else:
            continue
        if c.id not in best or m.rank_key < best[c.id].rank_key:
            best[c.id] = m
    return sorted(best.values(), key=lambda m: m.rank_key)


def match_text(text: str, *, cases: list[Case] | None = None) -> list[Match]:
    """Cases for the error(s) in ``text`` (a message or a traceback): the raised one first."""
    errors = parse_error_text(text)
    seen: dict[str, Match] = {}
    ordered: list[Match] = []
    for depth, err in enumerate(errors):
        for m in match_error(err.type_name, err.message, err.context, cases=cases):
            # An exception the raised one was chained from only adds cases, after its own.
            if m.case.id not in seen and (depth == 0 or m.tier != "hint"):
                seen[m.case.id] = m
                ordered.append(m)
    firm = [m for m in ordered if m.tier != "hint"]
    return firm + [m for m in ordered if m.tier == "hint"]


def match_exception(
    exc: BaseException, *, context: tuple[str, ...] = (), cases: list[Case] | None = None
) -> list[Match]:
    """Cases whose declared pattern matches ``exc``'s message (no hints), its exact type first.

    ``context``: source lines of the traceback, to rank cases that share a message.
    """
    message = str(exc)
    out = []
    for m in match_error(type(exc).__name__, message, context, cases=cases, hints=False):
        # The name matched; the type itself must too (two classes can share a name).
        exact = m.declared.matches_exception(type(exc), message)
        tier = "declared" if exact else "pattern"
        out.append(
            Match(m.case, m.declared, tier, m.other_torch, m.context, m.start, m.span, m.score)
        )
    return sorted(out, key=lambda m: m.rank_key)
