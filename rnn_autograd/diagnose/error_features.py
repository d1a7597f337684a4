"""What tells apart errors that share a message: the message's details and the code around it.

Two kinds of features, read the same way from the user's text and from a case:

- ``MessageFeatures``: the op in "which is output N of X" (``Exp``, ``AsStrided``, ...; older
  releases say ``ExpBackward0``), whether the message names an op at all (a parameter saved
  directly names none), the two version numbers and the saved tensor's shape. A case offers
  the message it *observed*, run once and cached (``ObservedMessages``).
- code *signals*: what a line of code does (``optimizer.step()``, ``retain_graph=True``, an
  assignment that carries a tensor across iterations, ``inplace=True``, a slice assignment, an
  in-place method, ``no_grad``, ``.item()``/``.numpy()``, a hook, a cast, a GAN's two models).
  A case offers the signals of its source, and its fix those of the lines it changes.

The signal table describes Python and PyTorch code, never a particular case: a new case is
ranked by what its own code and its own fix contain.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..spec import Case, run_case
from ..spec.outcome import installed_torch_version

__all__ = [
    "SIGNALS",
    "VIEW_OPS",
    "FixLine",
    "MessageFeatures",
    "ObservedMessages",
    "code_signals",
    "fix_lines",
    "message_features",
]

_OUTPUT_OF = re.compile(r"which is output (\d+) of ([\w:]+)")
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")
_SHAPE = re.compile(r"\[torch\.[\w.]+ \[([\d, ]*)\]\]")  # torch.FloatTensor, torch.cuda.FloatTensor
# Nodes that make a view: a saved view of a weight is named after one of them, by release
# ("TBackward" in torch 1.x, "AsStrided" once the base was written in place, on 2.x).
VIEW_OPS = frozenset(
    [
        "T",
        "Transpose",
        "AsStrided",
        "Permute",
        "View",
        "Unsqueeze",
        "Squeeze",
        "Expand",
        "Select",
        "Slice",
        "Alias",
        "Unfold",
        "Narrow",
        "Diagonal",
        "Split",
        "Unbind",
    ]
)


@dataclass(frozen=True)
class MessageFeatures:
    """The details of an error message that vary with its cause."""

    op: str | None = None  # the node in "output N of X", normalised: "Exp", "AsStrided"
    names_op: bool | None = None  # None: the message has no saved-tensor clause at all
    now: int | None = None
    expected: int | None = None
    rank: int | None = None  # the saved tensor's number of dimensions

    @property
    def gap(self) -> int | None:
        return None if self.now is None or self.expected is None else self.now - self.expected


def _normalise_op(name: str) -> str:
    name = name.rsplit("::", 1)[-1]  # "torch::autograd::CopySlices" -> "CopySlices"
    return re.sub(r"Backward\d*$", "", name)  # "ExpBackward0" (torch < 2.4 wording) -> "Exp"


def message_features(message: str) -> MessageFeatures:
    flat = " ".join(message.split())
    versions, shape = _VERSIONS.search(flat), _SHAPE.search(flat)
    op = _OUTPUT_OF.search(flat)
    if versions is None and op is None:
        return MessageFeatures()
    dims = shape.group(1).strip() if shape else None
    return MessageFeatures(
        op=_normalise_op(op.group(2)) if op else None,
        names_op=op is not None,
        now=int(versions.group(1)) if versions else None,
        expected=int(versions.group(2)) if versions else None,
        rank=None if dims is None else (len(dims.split(",")) if dims else 0),
    )


# name -> (regex over one line of code, weight, what it says in a "why" line).
SIGNALS: dict[str, tuple[re.Pattern[str], float, str]] = {
    name: (re.compile(rx), weight, text)
    for name, rx, weight, text in [
        ("retain_graph", r"retain_graph\s*=\s*True", 3.0, "retain_graph=True"),
        ("step", r"\.step\(\s*\)", 2.0, "an optimizer step"),
        (
            "carried_total",
            r"^\s*(\w*(?:loss|total|sum|running)\w*)\s*=\s*\1\s*\+(?!.*\.item\(\))"
            r"|^\s*\w*(?:loss|total|sum|running)\w*\s*\+=\s*(?!.*\.item\(\))",
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
        ("saved_attr", r"\._saved_\w+|\._raw_saved_", 3.0, "a saved tensor read directly"),
        ("create_graph", r"create_graph\s*=\s*True", 3.0, "create_graph=True"),
        ("softmax", r"softmax", 1.0, "a softmax"),
        (
            "loss_backward",
            r"\b(?:\w*loss\w*|l|err\w*|cost)\.backward\(",
            0.5,
            "the backward of a training loss",
        ),
        ("grad_attr", r"\.grad\b(?![_(])", 1.0, "a .grad read"),
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
    elsewhere = " ".join(x for x in new if not x.startswith(("return", '"', "}")))
    for line in added:
        if line.startswith(("return", '"', "}", "def ", "class ")) or re.match(r"^\w+\[", line):
            continue  # the fix's observations and definitions, not its change
        mine = set(code_signals([line]))
        brings = _remedial(mine - case_signals)
        target = re.match(r"^(\w+)\s*(?:=[^=]|\.\w+\()", line)
        name = target.group(1) if target else ""
        uses = len(re.findall(rf"\b{name}\b", elsewhere)) if name else 0
        measured = name and re.search(rf"\b{name}\b", returned) and uses <= 1 + ("." in line)
        if measured and not brings - {"values"}:
            continue  # a name only the returned observations read: measured, not changed
        best, best_score = "", 0.0
        for before in removed:
            ratio = difflib.SequenceMatcher(None, before, line).ratio()
            drops = _remedial(set(code_signals([before])) - mine)
            score = ratio + (0.5 * len(drops) if ratio >= 0.45 else 0.0)
            same = _ASSIGNED.sub("", before) == _ASSIGNED.sub("", line)
            if (ratio >= 0.6 or (drops and ratio >= 0.45)) and score > best_score and not same:
                best, best_score = before, score
        score = 2 * len(brings) + best_score
        if score >= 0.6:
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


class ObservedMessages:
    """The message each case raises on the installed torch, run once and cached.

    In memory always; on disk too when given a path (a JSON file keyed by case id, holding the
    torch version and a hash of the case's source, so an edited case or another torch runs
    again). A case that does not raise has no observed message (None).
    """

    def __init__(self, path: Path | None = None):
        self.path = path
        self._memory: dict[str, str | None] = {}
        self._disk: dict[str, dict] | None = None
        self._dirty = False

    @staticmethod
    def default_path() -> Path | None:
        """``$RNN_AUTOGRAD_CACHE`` (``off``: none), else the user's cache directory."""
        configured = os.environ.get("RNN_AUTOGRAD_CACHE")
        if configured == "off":
            return None
        base = Path(configured) if configured else None
        if base is None:
            xdg = os.environ.get("XDG_CACHE_HOME")
            base = (Path(xdg) if xdg else Path.home() / ".cache") / "rnn-autograd"
        return base / "observed-messages.json"

    def _key(self, c: Case) -> str:
        digest = hashlib.sha1("\n".join(source_lines(c)).encode()).hexdigest()[:12]
        return f"{installed_torch_version()}:{digest}"

    def _load(self) -> dict[str, dict]:
        if self._disk is None:
            self._disk = {}
            if self.path is not None and self.path.is_file():
                try:
                    self._disk = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    self._disk = {}  # a broken cache is only a slower answer
        return self._disk

    def message(self, c: Case) -> str | None:
        if c.id in self._memory:
            return self._memory[c.id]
        disk, key = self._load(), self._key(c)
        entry = disk.get(c.id)
        if entry and entry.get("key") == key:
            text = entry.get("message")
        else:
            observation = run_case(c)
            text = observation.message if observation.raised is not None else None
            disk[c.id] = {"key": key, "message": text}
            self._dirty = True
        self._memory[c.id] = text
        return text

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._disk, indent=1, sort_keys=True), "utf-8")
            self._dirty = False
        except OSError:
            pass  # a read-only home: the answer is the same, only slower next time


SESSION = ObservedMessages()  # for a process that explains many errors (tests, diagnose())
