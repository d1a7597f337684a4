"""Code signals: what a line of the user's code does, and what a case's code and its fix do.

A *signal* is one thing a line of code shows: ``optimizer.step()``, ``retain_graph=True``, a
state passed back into the call that returns it, a running total of losses, ``inplace=True``, a
slice assignment, an in-place method, ``no_grad``, ``.item()``/``.numpy()``, a hook, a cast, a
GAN's two models. The same table reads the traceback's code lines, a case's source (with the
module's own helpers it calls) and the lines its fix changes (``fix_lines``). It describes
Python and PyTorch code, never a particular case: a new case is ranked by what its own code and
its own fix contain.
"""

from __future__ import annotations

import difflib
import inspect
import re
import textwrap
from dataclasses import dataclass

from ..spec import Case

__all__ = [
    "SIGNALS",
    "FixLine",
    "code_signals",
    "fix_adds_trap",
    "fix_lines",
    "source_lines",
    "trap_situation",
]

# name -> (regex over one line of code, weight, what it says in a "why" line).
SIGNALS: dict[str, tuple[re.Pattern[str], float, str]] = {
    name: (re.compile(rx), weight, text)
    for name, rx, weight, text in [
        ("retain_graph", r"retain_graph\s*=\s*True", 3.0, "retain_graph=True"),
        ("step", r"\.step\(\s*\)", 2.0, "an optimizer step"),
        (
            "carried_total",
            r"^\s*((?:\w+\.)*\w*(?:loss|total|sum|running)\w*)\s*=\s*\1\s*\+(?!.*\.item\(\))"
            r"|^\s*(?:\w+\.)*\w*(?:loss|total|sum|running)\w*\s*\+=\s*(?!.*\.item\(\))"
            # the backward of a running total's mean so far: (total_loss / steps).backward()
            r"|\(\s*(?:\w+\.)*\w*(?:loss|total|sum|running)\w*\s*/\s*[\w.]+\s*\)\.backward\(",
            3.0,
            "a running total carried across iterations",
        ),
        (
            "carried_state",
            r"^\s*\(?(?=[\w ]*,)[\w, ()]*\b(\w+)\b[\w, ()]*=\s*[\w.\[\]]+\((?:.*[(, ])?\1\s*[,)]",
            3.0,
            "a state passed back into the call that returns it",
        ),
        ("inplace_flag", r"inplace\s*=\s*True", 3.0, "inplace=True"),
        ("slice_assign", r"^\s*[\w.]+\[[^\]]*\]\s*(?:[-+*/]?=)(?!=)", 3.0, "a slice assignment"),
        (
            "inplace_method",
            r"\.(?!requires_grad_|detach_|zero_grad)[a-z][a-z0-9]*(?:_[a-z0-9]+)*_\(",
            2.0,
            "an in-place method",
        ),
        ("augmented", r"^\s*[\w.]+(?:\[[^\]]*\])?\s*[-+*/]=", 2.0, "an in-place +="),
        ("view", r"\.(?:view|reshape|t|transpose|expand|unsqueeze|narrow)\(", 1.0, "a view"),
        ("no_grad", r"no_grad|inference_mode|set_grad_enabled\(\s*False", 3.0, "grad mode off"),
        ("values", r"\.item\(\)|\.numpy\(\)|\.tolist\(\)|\bnp\.\w+\(", 2.5, "plain values"),
        ("detach", r"\.detach_?\(\)|repackage", 1.5, "a detach"),
        ("hook", r"register_(?:full_)?(?:backward_)?hook\(", 3.0, "a hook"),
        ("cast", r"\.(?:to|cuda|double|float|half|cpu)\(", 2.0, "a cast or move"),
        ("make_optimizer", r"optim\.\w+\(", 1.5, "an optimizer built"),
        ("autograd_grad", r"autograd\.grad\(", 3.0, "torch.autograd.grad"),
        ("reduction_none", r"reduction\s*=\s*['\"]none", 3.0, "an unreduced loss"),
        ("recurrent", r"\b(?:LSTM|GRU|RNN|lstm|gru|rnn|hidden|state)\b", 2.0, "a recurrent model"),
        ("adamw", r"AdamW\b", 1.5, "AdamW"),
        (
            "gan",
            r"\bfake\b|\bnet[DG]\b|\berr[DG]\b|\b[dg]_loss\b|\bopt(?:imizer)?_?[DG]\b"
            r"|discriminator|generator",
            3.0,
            "a GAN's two models",
        ),
        (
            "custom_function",
            r"\bctx\.\w+|autograd\.Function\b|\bmark_dirty\(",
            3.0,
            "a custom autograd.Function",
        ),
        ("saved_attr", r"\._saved_\w+|\._raw_saved_", 3.0, "a saved tensor read directly"),
        ("create_graph", r"create_graph\s*=\s*True", 3.0, "create_graph=True"),
        ("softmax", r"softmax", 1.0, "a softmax"),
        (
            "loss_backward",
            r"\b(?:\w*loss\w*|l|err\w*|cost)\)?\.backward\(",
            0.5,
            "the backward of a training loss",
        ),
        ("grad_attr", r"\.grad\b(?![_(])", 1.0, "a .grad read"),
        ("retain_grad", r"\.retain_grad\(\)", 3.0, "retain_grad()"),
        (
            "requires_grad_on",
            r"\.requires_grad_\(|requires_grad\s*=\s*True",
            1.0,
            "requires_grad on",
        ),
        (
            "allow_unused",
            r"(?:allow_unused|materialize_grads)\s*=\s*True",
            3.0,
            "allow_unused=True",
        ),
    ]
}
# Signals that describe the situation rather than a change a fix makes.
_DESCRIPTIVE = frozenset(
    [
        "step",
        "view",
        "make_optimizer",
        "recurrent",
        "adamw",
        "gan",
        "softmax",
        "grad_attr",
        "loss_backward",
        "saved_attr",
    ]
)
# Fixes that make a retained graph live longer: wrong wherever a tensor carries the graph on.
_TRAP_FIX = "retain_graph"
# Where a retain_graph fix is a trap: a graph carried on, or (the commonest case of the
# message) the backward of a training loss with nothing to say it is meant to run twice.
_TRAP_SITUATION = (
    "carried_state",
    "carried_total",
    "step",
    "retain_graph",
    "recurrent",
    "gan",
    "loss_backward",
)


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).strip()


def code_signals(lines: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Signal name -> the first line that shows it (comments ignored)."""
    found: dict[str, str] = {}
    for raw in lines:
        line = _strip_comment(raw)
        for name, (rx, _weight, _text) in SIGNALS.items():
            if name not in found and rx.search(line):
                found[name] = line
    return found


_NAME = re.compile(r"[A-Za-z_]\w*")
_DOCSTRING = re.compile(r'("""|\'\'\')(?:.|\n)*?\1')


def _code_of(text: str) -> list[str]:
    lines = [_strip_comment(x) for x in _DOCSTRING.sub("", text).splitlines()]
    return [x for x in lines if x]


def _helpers(c: Case, body: str, depth: int = 2) -> list[str]:
    """The code of the module's own functions and classes that the case calls (two levels)."""
    namespace = getattr(c.func, "__globals__", {})
    seen, out, todo = {getattr(c.func, "__name__", "")}, [], [(body, 0)]
    while todo:
        text, level = todo.pop()
        for name in sorted(set(_NAME.findall(text)) - seen):
            obj = namespace.get(name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != c.func.__module__:
                continue  # torch's or the library's own code is not the case's
            seen.add(name)
            try:
                helper = textwrap.dedent(inspect.getsource(obj))
            except (OSError, TypeError):
                continue
            out += _code_of(helper)
            if level + 1 < depth:
                todo.append((helper, level + 1))
    return out


def source_lines(c: Case) -> list[str]:
    """The case's code lines (no ``def`` line, docstring, comments), then its helpers' code."""
    try:
        source = c.source
    except (OSError, TypeError, ValueError):  # a case built from a lambda has no source to read
        return []
    return _code_of("\n".join(source.splitlines()[1:])) + _helpers(c, source)


@dataclass(frozen=True)
class FixLine:
    """A line of the failing case and the line its fix has instead (either may be empty)."""

    before: str
    after: str


_ASSIGNED = re.compile(r"^[\w, ()]+=\s*(?!=)")  # "name = " before an expression
_FIRST = re.compile(r"^\w+")  # the receiver of "name.backward()"
# Signals of a cause: a fix that brings one is not fixing with it.
_CAUSES = frozenset(
    [
        "augmented",
        "inplace_method",
        "slice_assign",
        "carried_state",
        "carried_total",
        "inplace_flag",
    ]
)


def _remedial(signals: set[str]) -> set[str]:
    return signals - _DESCRIPTIVE


def fix_lines(c: Case, fix: Case) -> list[FixLine]:
    """The lines the fix changes, most telling first: ``before`` may be empty (an added line).

    A line of the fix that is not in the case scores by what it brings (a ``detach()``,
    ``no_grad``, ``.item()`` the case lacks) and pairs with the case's line that it most
    resembles or whose cause it drops (``inplace=True``, ``retain_graph=True``, a carried total).
    """
    old, new = source_lines(c), source_lines(fix)
    removed = [x for x in old if x not in new]
    added = [x for x in new if x not in old]
    case_signals = set(code_signals(old))
    ranked: list[tuple[float, FixLine]] = []
    returned = " ".join(x for x in new if x.startswith(("return", '"', "}")))
    body = [x for x in new if not x.startswith(("return", '"', "}"))]
    for line in added:
        if line.startswith(("return", '"', "}", "def ", "class ")) or re.match(r"^\w+\[", line):
            continue  # the fix's observations and definitions, not its change
        mine = set(code_signals([line]))
        brings = _remedial(mine - case_signals) - _CAUSES
        target = re.match(r"^(\w+)\s*(?:=[^=]|\.\w+\()", line)
        name = target.group(1) if target else ""
        # Other lines that read the name (not its empty start, not an append to it).
        readers = [
            x
            for x in body
            if x != line
            and re.search(rf"\b{name}\b", x)
            and not re.match(r"^[\w, ]+=\s*[\[\]{}(), 0.None]*$", x)  # starts empty
            and not x.startswith(f"{name}.append(")
        ]
        measured = name and re.search(rf"\b{name}\b", returned) and not readers
        if measured and not brings - {"values"}:
            continue  # a name only the returned observations read: measured, not changed
        best, best_score = "", 0.0
        for before in removed:
            ratio = difflib.SequenceMatcher(None, before, line).ratio()
            drops = _remedial(set(code_signals([before])) - mine)
            score = ratio + (0.5 * len(drops) if ratio >= 0.45 else 0.0)
            same = _ASSIGNED.sub("", before) == _ASSIGNED.sub("", line) or _FIRST.sub(
                "", before
            ) == _FIRST.sub("", line)  # only the name assigned to, or called on, differs
            if (ratio >= 0.7 or (drops and ratio >= 0.45)) and score > best_score and not same:
                best, best_score = before, score
        score = 2 * len(brings) + best_score
        if score >= 0.7:  # a line that only renames is not the fix
            ranked.append((score, FixLine(best, line)))
    ranked.sort(key=lambda p: -p[0])
    shown: list[FixLine] = []
    for _, pair in ranked:
        if pair.before and any(pair.before == s.before for s in shown):
            continue  # one replacement per line of the case
        shown.append(pair)
    return shown[:2]


def fix_adds_trap(c: Case, fix: Case | None) -> bool:
    """Does the fix turn ``retain_graph=True`` on for a backward call the case makes without it?"""
    if fix is None:
        return False
    old = source_lines(c)
    for line in source_lines(fix):
        if _TRAP_FIX in code_signals([line]):
            plain = re.sub(r",?\s*retain_graph\s*=\s*True", "", line).replace("(, ", "(")
            if plain in old:
                return True
    return False


# Code that works with one graph on purpose (reads saved tensors, differentiates twice).
_DELIBERATE = ("saved_attr", "create_graph", "autograd_grad")


def trap_situation(user: dict[str, str]) -> str | None:
    """The user's line that makes a retain_graph fix a trap: a carried tensor, a step, ..."""
    if any(name in user for name in _DELIBERATE):
        return None
    for name in _TRAP_SITUATION:
        if name in user:
            return user[name]
    return None
