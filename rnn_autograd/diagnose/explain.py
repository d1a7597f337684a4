"""Match an error or warning (an exception, a message, a traceback, a log) to the cases behind it.

There is no second table of known errors: the matcher reads each case's own declared outcome
(``Raises(exc_type, pattern)`` and the ``Warned`` warnings a case declares, resolved for the
installed torch; ranges declared for other releases are kept too, ranked after) and asks the
same regex.

Ranking, best first:

1. *declared*: the exception (or warning) type and the message pattern both match;
2. *pattern*: the message matches but the type is unknown (a bare message) or differs;
3. *hint*: no pattern matches, but many of a case's words occur in the message (weak).

Within a tier, a pattern found in the message's first sentence (what went wrong) comes before
one found only in the sentences after it (advice, such as the freed-graph error's "Specify
retain_graph=True if you need to backward through the graph a second time", which other
errors repeat).

Then what the error says and where it happened decide (``error_features``): the op in "which
is output N of X" against the one the case's own error names (observed once and cached),
whether an op is named at all, the version numbers, the saved tensor's shape and the hint that
says whether anomaly mode was on;
and the signals of the traceback's code lines (``optimizer.step()``, ``retain_graph=True``, a
tensor carried across iterations, ``inplace=True``, a slice assignment, ...) found in the
case's source. A case whose fix adds ``retain_graph=True`` is never first where the code shows
a graph carried on (a state, a running total, a step): that fix is the known trap there.
Then the rarer identifiers shared with the case's source, a case whose code cuts the graph the
commonest way (grad mode off, a loss rebuilt from plain values), the pattern found earliest in
the message, the longest fragment, the question that quotes the message, and the case id.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ..spec import Case, all_cases, get_case
from ..spec.outcome import ByTorch, Declaration, Raises, Returns, Warned
from .code_signals import SIGNALS, code_signals, fix_adds_trap, source_lines, trap_situation
from .error_features import SESSION, VIEW_OPS, MessageFeatures, ObservedMessages, message_features
from .error_text import ErrorText, parse_error_text

__all__ = [
    "ErrorText",
    "Match",
    "match_error",
    "match_exception",
    "match_text",
    "parse_error_text",
]

TIERS = ("declared", "pattern", "hint")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words too common to tell a question from the message it quotes.
_STOP_WORDS = (
    "the a an of to in is was be for and or if you it its not by on at as with that this "
    "are has have when do does why what from into than then there"
)
_STOP = frozenset(_STOP_WORDS.split())
# The end of a message's first sentence: what went wrong; the sentences after it advise.
_SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


@dataclass(frozen=True)
class Match:
    """A case that declares (or may explain) an error, with how well it matched and why."""

    case: Case
    declared: Raises | Warned
    tier: str
    other_torch: str | None = None  # the version range, when declared for another torch
    context: float = 0.0  # rarer identifiers shared with the case's source
    start: int = 0
    span: int = 0
    score: float = 0.0  # the share of the case's question (hints: and pattern) words found
    fit: float = 0.0  # agreement of the message's details and the code's signals
    trap: bool = False  # its fix is a known trap for what the user's code shows
    reasons: tuple[str, ...] = ()  # why it matched (or was ranked down), most decisive first
    tail: bool = False  # found only after the message's first sentence (in its advice)
    common: float = 0.0  # its code cuts the graph the commonest way (a last tie-break)

    @property
    def type_name(self) -> str:
        d = self.declared
        return (d.category if isinstance(d, Warned) else d.exc_type).__name__

    @property
    def rank_key(self) -> tuple:
        return (
            TIERS.index(self.tier),
            self.other_torch is not None,
            self.tail,
            self.trap,
            -self.fit,
            -self.context,
            -self.common,
            self.start,
            -self.span,
            -self.score,
            self.case.id,
        )


def _declarations(c: Case, warning: bool | None) -> list[tuple[Raises | Warned, str | None]]:
    """``c``'s Raises (a warning: its Warned; None: both) for this torch, then other releases."""

    def of(d: Declaration | None) -> list[Raises | Warned]:
        raises = [d] if isinstance(d, Raises) and warning is not True else []
        warns = list(d.warns) if isinstance(d, (Raises, Returns)) and warning is not False else []
        return raises + warns

    try:
        resolved: Declaration | None = c.outcome.resolve()
    except LookupError:
        resolved = None
    out: list[tuple[Raises | Warned, str | None]] = [(d, None) for d in of(resolved)]
    if isinstance(c.outcome, ByTorch):
        for spec, d in c.outcome.ranges.items():
            if d is not resolved:
                out += [(w, spec) for w in of(d)]
    return out


def _type_matches(declared: Raises | Warned, type_name: str | None) -> bool:
    if type_name is None:
        return False
    t = declared.category if isinstance(declared, Warned) else declared.exc_type
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


def _message_fit(user: MessageFeatures, case_message: str | None) -> tuple[float, list[str]]:
    """How well the details of the user's message agree with the case's observed one."""
    if user.names_op is None or case_message is None:
        return 0.0, []
    own = message_features(case_message)
    if own.names_op is None:
        return 0.0, []
    fit, why = 0.0, []
    if user.names_op and own.names_op:
        if user.op == own.op:
            fit += 4
            why.append(f"'which is output N of {user.op}': this case's error names the same op")
        elif user.op in VIEW_OPS and own.op in VIEW_OPS:
            fit += 3
            why.append(
                f"'which is output N of {user.op}': a view, as in this case's error ({own.op})"
            )
        else:
            fit -= 3
    elif user.names_op == own.names_op:
        fit += 4
        why.append(
            "no 'output N of' clause: the saved tensor is a leaf saved as itself (a parameter),"
            " as in this case"
        )
    else:
        fit -= 3
    if user.expected is not None and own.expected is not None:
        fit += 1 if (user.expected == 0) == (own.expected == 0) else -1
        if user.gap == own.gap:
            fit += 1.5 if user.gap != 1 else 0.5
            if user.gap != 1:
                why.append(
                    f"'is at version {user.now}; expected version {user.expected}': "
                    f"{user.gap} writes since the save, as in this case's error"
                )
    if user.rank is not None and user.rank == own.rank:
        fit += 0.5
    if user.anomaly is not None and own.anomaly is not None and user.anomaly != own.anomaly:
        # The hint tells whether set_detect_anomaly was on: a case that runs with the other
        # setting is another situation, however alike the rest of the message.
        fit -= 2
    return fit, why


def _code_fit(c: Case, user: dict[str, str]) -> tuple[float, list[str]]:
    own = code_signals(source_lines(c))
    hits = sorted((n for n in user if n in own), key=lambda n: -SIGNALS[n][1])
    why = [f"your line `{user[n]}`: {SIGNALS[n][2]}, as in this case" for n in hits]
    return sum(SIGNALS[n][1] for n in hits), why


def _prior(c: Case) -> tuple[float, list[str]]:
    """No code given: the commonest cause first, a tensor carried into the next iteration."""
    own = code_signals(source_lines(c))
    for name, weight in (("carried_state", 1.0), ("carried_total", 0.5)):
        if name in own:
            return weight, [f"no code given: {SIGNALS[name][2]} is the commonest cause"]
    return 0.0, []


# Where neither the message nor the code tells cases apart: the commonest ways user code cuts a
# graph, grad mode switched off around the forward and a loss rebuilt from plain values, before
# rarer ones (weights made without requires_grad, a gradient differentiated again).
_COMMON = (("no_grad", 1.0), ("values", 1.0))


def _common(c: Case) -> float:
    own = code_signals(source_lines(c))
    return max((w for name, w in _COMMON if name in own), default=0.0)


def _trap(c: Case, user: dict[str, str], bare: bool) -> str | None:
    """Why the case's fix is a trap for this code (None: it is not).

    A fix that adds ``retain_graph=True`` is a trap wherever the code shows a graph carried on
    (a state, a running total, an optimizer step, a training loss's backward) and, that being
    the commonest cause, for a bare message with no code at all.
    """
    try:
        fix = get_case(c.fix) if c.fix else None
    except LookupError:
        return None
    if not fix_adds_trap(c, fix):
        return None
    line = trap_situation(user)
    if line is not None:
        return f"ranked after: its fix adds retain_graph=True, a trap for your line `{line}`"
    if bare:
        return (
            "ranked after: its fix, retain_graph=True, suits a graph you mean to backward twice;"
            " where a tensor carries the graph into the next iteration (a state, a running"
            " loss), it is a trap"
        )
    return None


def match_error(
    type_name: str | None,
    message: str,
    context: tuple[str, ...] = (),
    *,
    cases: list[Case] | None = None,
    hints: bool = True,
    warning: bool | None = False,
    observed: ObservedMessages | None = None,
) -> list[Match]:
    """Every case whose declared exception (or warning) matches, ranked; hints after.

    ``warning``: False matches declared exceptions, True declared warnings, None both.

    Args:
        type_name: the exception's (or warning's) class name, e.g. ``"RuntimeError"``; None
            when unknown (the pattern alone decides).
        message: the error message, as printed (wrapped lines match too).
        context: source lines around the error (the traceback's), to rank cases that share a
            message by what the code does.
        cases: the cases to match against; None: every registered case.
        hints: also return cases that share words with the message without matching it.
        warning: False: declared exceptions; True: declared warnings; None: both.
        observed: the messages the cases raise on the installed torch, whose details (which
            output of which node, ...) are compared with ``message``'s to rank the cases;
            None: this session's cache.

    Returns:
        The ``Match`` es, best first.
    """
    cases = cases if cases is not None else all_cases()
    observed = observed if observed is not None else SESSION
    raising = [(c, d, other) for c in cases for d, other in _declarations(c, warning)]
    unique = {c.id: c for c, _, _ in raising}  # a Case with a ByTorch outcome is not hashable
    scores = _context_scores([unique[k] for k in sorted(unique)], context)
    flat = " ".join(message.split())  # a message wrapped by a terminal still matches
    details, user = message_features(message), code_signals(context)
    best: dict[str, Match] = {}
    for c, d, other in raising:
        searched = message if re.search(d.pattern, message) else flat
        found = re.search(d.pattern, searched)
        extra: dict = {}
        if found:
            tier = "declared" if _type_matches(d, type_name) else "pattern"
            # A question that quotes the error is the canonical page for it: a tie-break.
            share = _share(_words(c.question), _words(message))
            observed_message = observed.message(c) if isinstance(d, Raises) else None
            m_fit, m_why = _message_fit(details, observed_message)
            c_fit, c_why = _code_fit(c, user) if context else _prior(c)
            trap = _trap(c, user, bare=not context)
            extra |= {
                "fit": m_fit + c_fit,
                "trap": trap is not None,
                "common": _common(c),
                "reasons": tuple(m_why + c_why + ([trap] if trap else [])),
            }
            head = _SENTENCE_END.search(searched)
            extra["tail"] = head is not None and found.start() >= head.start()
            m = Match(c, d, tier, other, scores.get(c.id, 0.0), found.start(), len(found[0]), share)
        elif hints:
            share = _share(_words(d.pattern) | _words(c.question), _words(message))
            if share < 0.5:
                continue
            m = Match(c, d, "hint", other, scores.get(c.id, 0.0), score=share)
        else:
            continue
        m = Match(**{**m.__dict__, **extra})
        if c.id not in best or m.rank_key < best[c.id].rank_key:
            best[c.id] = m
    return sorted(best.values(), key=lambda m: m.rank_key)


def match_text(
    text: str, *, cases: list[Case] | None = None, observed: ObservedMessages | None = None
) -> list[Match]:
    """Cases for the errors and warnings in ``text``: the raised exception's first."""
    seen: dict[str, Match] = {}
    ordered: list[Match] = []
    for depth, err in enumerate(parse_error_text(text)):
        # A bare message, or "UserWarning: ..." raised as an error, may be either kind.
        maybe_warning = err.type_name is None or err.type_name.endswith("Warning")
        kinds = True if err.warning else (None if maybe_warning else False)
        found = match_error(
            err.type_name, err.message, err.context, cases=cases, warning=kinds, observed=observed
        )
        for m in found:
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

    Args:
        exc: the exception raised.
        context: source lines of the traceback, to rank cases that share a message.
        cases: the cases to match against; None: every registered case.

    Returns:
        The ``Match`` es, those declaring ``exc``'s own type first.
    """
    message = str(exc)
    out = []
    for m in match_error(type(exc).__name__, message, context, cases=cases, hints=False):
        # The name matched; the type itself must too (two classes can share a name).
        exact = isinstance(m.declared, Raises) and m.declared.matches_exception(type(exc), message)
        out.append(Match(**{**m.__dict__, "tier": "declared" if exact else "pattern"}))
    return sorted(out, key=lambda m: m.rank_key)
