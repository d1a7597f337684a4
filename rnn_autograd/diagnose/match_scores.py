"""How well one case fits an error: the scores ``explain`` ranks by.

The words a case's question shares with the message, the details of the message against the
case's own observed message (``error_features``), what the traceback's code lines do against the
case's source (``code_signals``), the prior for the commonest cause, and the retain_graph trap.
Kept apart from ``explain``, which collects the candidates, orders them and says why.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from ..spec import Case, get_case
from .code_signals import SIGNALS, code_signals, fix_adds_trap, source_lines, trap_situation
from .error_features import VIEW_OPS, MessageFeatures, message_features

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words too common to tell a question from the message it quotes.
_STOP_WORDS = (
    "the a an of to in is was be for and or if you it its not by on at as with that this "
    "are has have when do does why what from into than then there"
)
_STOP = frozenset(_STOP_WORDS.split())


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
