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
case's source (a custom Function's ``ctx``, too). Where the code does not tell them apart, a case
matching the message as written comes before one matching it only in today's words for an
older release's message (``current_wording``: torch 1.x's "Can't call numpy() on Variable" is
today's "on Tensor"). A case whose fix adds ``retain_graph=True`` is never first where the code shows
a graph carried on (a state, a running total, a step): that fix is the known trap there.
Then the rarer identifiers shared with the case's source, a case whose code cuts the graph the
commonest way (grad mode off, a loss rebuilt from plain values), the pattern found earliest in
the message, the longest fragment, the question that quotes the message, and the case id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..spec import Case, all_cases
from ..spec.outcome import ByTorch, Declaration, Raises, Returns, Warned
from .code_signals import code_signals
from .error_features import SESSION, ObservedMessages, message_features
from .error_text import ErrorText, current_wording, parse_error_text
from .match_scores import (
    _code_fit,
    _common,
    _context_scores,
    _message_fit,
    _prior,
    _share,
    _trap,
    _words,
)

__all__ = [
    "ErrorText",
    "Match",
    "match_error",
    "match_exception",
    "match_text",
    "parse_error_text",
]

TIERS = ("declared", "pattern", "hint")
_OLD_WORDS = "your message is an older torch's wording of the message this case declares"
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
    reworded: bool = False  # matched only in today's words for an older torch's message

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
            self.reworded,
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
    modern = current_wording(flat)  # an older torch's words for today's message
    details, user = message_features(message), code_signals(context)
    best: dict[str, Match] = {}
    for c, d, other in raising:
        searched = next((t for t in (message, flat, modern) if re.search(d.pattern, t)), message)
        found = re.search(d.pattern, searched)
        extra: dict = {}
        # Matched only once reworded: the message is an older torch's (say so, most decisive).
        reworded = searched is modern and modern != flat and modern != message
        _reworded = [_OLD_WORDS] if reworded else []
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
                "reworded": reworded,
                "reasons": tuple(m_why + c_why + ([trap] if trap else []) + _reworded),
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
