"""What tells apart errors that share a message: the details of the message itself.

``MessageFeatures``: the op in "which is output N of X" (``Exp``, ``AsStrided``, ...; older
releases say ``ExpBackward0``), whether the message names an op at all (a parameter saved
directly names none), the two version numbers, the saved tensor's shape and whether anomaly
mode was on (its hint). A case offers the
message it *observed*, run once and cached (``ObservedMessages``). What the code around the
error does is read by ``code_signals``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..spec import Case, run_case
from ..spec.outcome import installed_torch_version
from .code_signals import source_lines

__all__ = ["SESSION", "VIEW_OPS", "MessageFeatures", "ObservedMessages", "message_features"]

_OUTPUT_OF = re.compile(r"which is output (\d+) of ([\w:]+)")
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")
_SHAPE = re.compile(r"\[torch\.[\w.]+ \[([\d, ]*)\]\]")  # torch.FloatTensor, torch.cuda.FloatTensor
# The version error's last sentence says whether anomaly mode was on (saved_variable.cpp writes
# one hint or the other on AnomalyMode::is_enabled()).
_ANOMALY_ON = "backtrace further above shows the operation"
_ANOMALY_OFF = "enable anomaly detection"
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
    anomaly: bool | None = None  # anomaly mode on when it was raised (None: the hint is absent)

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
        anomaly=True if _ANOMALY_ON in flat else (False if _ANOMALY_OFF in flat else None),
    )


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
