"""Which earlier batch made each node of a graph: where this forward's graph ends.

A graph spans batches when the state a batch starts from is the output of the batch before,
not detached: batch 2's first ``AddmmBackward0`` has an edge into batch 1's last
``StackBackward0``, and everything behind that edge was made by batch 1's forward. That holds
whatever batch 1's backward did to it: freed its saved tensors (no ``retain_graph``), kept them
(``retain_graph=True``; an optimizer step may have made some STALE), or nothing at all (no
backward ran); and over any number of batches (batch 3's graph holds batch 2's, which holds
batch 1's). So "the previous batch's part" is decided by *when a node was made*, not by what
happened to its saved tensors: the nodes made before the snapshot an earlier batch took.

When a node was made is its sequence number (``grad_fn._sequence_nr()``, guarded in
``spec.torch_private``): every ``Node`` made with autograd's default constructor takes the next
value of a thread-local counter (``at::sequence_number::get_and_increment``), so of two nodes made
in one thread the earlier has the smaller number, and a node made before a snapshot has a
smaller number than a node made at the snapshot. Each snapshot records that moment (``Moment``:
the number of a throwaway node made then); a later snapshot of the same run puts each node in
the earliest earlier moment it precedes. ``AccumulateGrad`` (a leaf's node, shared by every
batch) has no moment: torch gives it ``UINT64_MAX`` so that backward runs it first.

Without ``_sequence_nr`` a snapshot tags the nodes it walks (their ``metadata`` dict, which
lives and dies with the node) and a later snapshot counts a node as earlier when an earlier one
tagged it. That misses an earlier node no earlier snapshot reached (a batch's last hidden state
is not behind its loss: its ``StackBackward0`` is drawn with the batch that uses it), so the
sequence number is the signal and the tags only the fallback. With ``detach_()`` at the
boundary no node precedes an earlier snapshot, and the report says nothing is carried in.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..spec import torch_private

__all__ = ["SEEN", "Moment", "batch_name", "made_before", "moment_now"]

SEEN = "rnn_autograd.seen"  # the fallback's tag: the token of the first snapshot that walked it
_TOKENS = itertools.count(1)


@dataclass(frozen=True)
class Moment:
    """When a snapshot was taken: the autograd counter then (None without ``_sequence_nr``),
    the thread whose counter it is, and the token its walked nodes carry in the fallback."""

    counter: int | None
    thread: int
    token: int


def _counter_now() -> int | None:
    # A node made now takes the counter's next value: every node made before it has a smaller
    # one. ViewBackward0 saves no tensor, so no saved-tensor hook sees it; it is dropped at once.
    with torch.enable_grad(), torch.inference_mode(False):
        node = torch.zeros((), requires_grad=True).view(()).grad_fn
    return torch_private.sequence_nr(node)


def moment_now(nodes: Sequence[Any]) -> Moment:
    """The moment of a snapshot of ``nodes`` (its walked ``grad_fn`` nodes); tags them where
    this torch has no sequence numbers."""
    moment = Moment(counter=_counter_now(), thread=threading.get_ident(), token=next(_TOKENS))
    if moment.counter is None:
        for fn in nodes:
            meta = _metadata(fn)
            if meta is not None and SEEN not in meta:
                meta[SEEN] = moment.token
    return moment


def _metadata(fn: Any) -> dict | None:
    if hasattr(fn, "variable"):  # AccumulateGrad: a leaf's, shared by every batch
        return None
    try:
        meta = fn.metadata
    except (AttributeError, RuntimeError):
        return None
    return meta if isinstance(meta, dict) else None


def made_before(fn: Any, earlier: Sequence[Moment]) -> int | None:
    """The index of the earliest moment in ``earlier`` (oldest first) that ``fn`` was made
    before; None when made after all of them, or a leaf's ``AccumulateGrad``."""
    if hasattr(fn, "variable"):
        return None
    nr = torch_private.sequence_nr(fn)
    here = threading.get_ident()
    tag = None
    for i, moment in enumerate(earlier):
        if nr is not None and moment.counter is not None and moment.thread == here:
            if nr < moment.counter:
                return i
            continue
        if tag is None:
            meta = _metadata(fn)
            tag = meta.get(SEEN, 0) if meta is not None else 0
        if tag == moment.token:
            return i
    return None


def batch_name(label: str) -> str:
    """What a snapshot's label says the batch is: ``"batch 1, before backward"`` -> ``batch 1``;
    a label without a comma is kept whole (in quotes)."""
    head = label.split(",", 1)[0].strip()
    return head if "," in label and head else f"“{label}”"
