"""Inspect the autograd graph behind tensors *before* backward: nodes, leaves, saved tensors.

``inspect_graph(loss)`` walks the ``grad_fn`` nodes behind ``loss`` (through ``next_functions``,
down to the ``AccumulateGrad`` nodes of the leaves) and lists every tensor a node saved for its
backward, with the version the tensor had when it was saved and the version it has now. Two
things make a later backward fail, and both are visible before it runs:

- a saved tensor *changed in place* since it was saved (its version moved on: "stale"); backward
  raises "one of the variables needed for gradient computation has been modified by an inplace
  operation";
- a saved tensor already *freed* by an earlier backward without ``retain_graph``; backward raises
  "Trying to backward through the graph a second time".

How saved versions are read without side effects is told in ``rnn_autograd.diagnose.saved_tensors``.
Given the earlier snapshots of the same run (``graph_at`` finds them), the report also tells
which nodes an earlier batch made: the batch boundary (``rnn_autograd.diagnose.graph_batches``).

The report holds metadata only (names, shapes, versions), never the tensors, so keeping it keeps
no memory alive. DOT pictures and rendering live in ``rnn_autograd.diagnose.graph_picture``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import torch

from ..errors import UsageError
from ..spec.probe import earlier_snapshots
from .graph_batches import Moment, batch_name, made_before, moment_now
from .saved_tensors import SavedTensorInfo, TensorNamer, layout, reading_note, saved_tensors_of

__all__ = ["GraphReport", "NodeInfo", "SavedTensorInfo", "inspect_graph", "names_in_frame"]

# Walk at most this many nodes: a long RNN window can build tens of thousands.
DEFAULT_LIMIT = 20_000


@dataclass
class NodeInfo:
    """One ``grad_fn`` node; an ``AccumulateGrad`` node stands for a leaf tensor."""

    id: str
    name: str
    is_leaf: bool = False
    leaf_name: str | None = None
    leaf_shape: tuple[int, ...] | None = None
    leaf_dtype: str | None = None
    next: list[tuple[str, int]] = field(default_factory=list)  # (node id, input_nr)
    saved: list[SavedTensorInfo] = field(default_factory=list)
    # Index into the report's ``earlier``: the earliest earlier snapshot this node was made
    # before (an earlier batch's node); None: made since them all (or a leaf's).
    batch: int | None = None

    @property
    def label(self) -> str:
        """``MulBackward0``, or ``AccumulateGrad leaf x float32[2]`` for a leaf."""
        if not self.is_leaf:
            return self.name
        name = f" {self.leaf_name}" if self.leaf_name else ""
        return f"AccumulateGrad leaf{name} {layout(self.leaf_dtype, self.leaf_shape)}".rstrip()


@dataclass
class GraphReport:
    """The graph behind some tensors at one moment, as plain data."""

    roots: list[tuple[str, str | None]]  # (label, root node id or None when no graph)
    nodes: list[NodeInfo]
    truncated: bool = False
    # The labels of the earlier snapshots of the run this graph was compared with, oldest
    # first ([]: none, so nothing is said about batches), and this snapshot's own moment.
    earlier: list[str] = field(default_factory=list)
    moment: Moment | None = None

    @property
    def carried(self) -> dict[int, int]:
        """Earlier snapshot index -> how many of this graph's nodes were made before it."""
        counts: dict[int, int] = {}
        for n in self.nodes:
            if n.batch is not None:
                counts[n.batch] = counts.get(n.batch, 0) + 1
        return dict(sorted(counts.items()))

    def batch_label(self, index: int) -> str:
        """``batch 1`` for the snapshot ``"batch 1, before backward"`` (``graph_batches``)."""
        return batch_name(self.earlier[index])

    def boundary_note(self) -> str | None:
        """One line on what this graph holds of earlier batches; None when none was compared."""
        if not self.earlier:
            return None
        carried = self.carried
        if not carried:
            since = self.earlier[-1]
            return f"nothing carried in: every node was made after the snapshot “{since}”"
        parts = [f"{count} by {self.batch_label(i)}" for i, count in carried.items()]
        return f"carried in: {sum(carried.values())} nodes made by earlier batches ({', '.join(parts)})"

    @property
    def saved(self) -> list[SavedTensorInfo]:
        return [s for n in self.nodes for s in n.saved]

    @property
    def stale(self) -> list[SavedTensorInfo]:
        return [s for s in self.saved if s.stale]

    @property
    def freed(self) -> list[SavedTensorInfo]:
        return [s for s in self.saved if s.freed]

    @property
    def will_fail(self) -> bool:
        """A backward through these tensors would raise (stale or freed saved tensors)."""
        return bool(self.stale or self.freed)

    def node(self, node_id: str) -> NodeInfo:
        return self._by_id()[node_id]

    def _by_id(self) -> dict[str, NodeInfo]:
        return {n.id: n for n in self.nodes}

    def summary(self) -> str:
        saved = self.saved
        verdict = "backward will fail" if self.will_fail else "backward can run"
        more = " (walk stopped at the limit)" if self.truncated else ""
        note = reading_note() if saved else None  # an older torch: read by unpacking
        return (
            (
                f"{len(self.nodes)} nodes{more}, {len(saved)} saved tensors: "
                f"{len(self.stale)} stale, {len(self.freed)} freed -> {verdict}"
            )
            + (f"; {b}" if (b := self.boundary_note()) else "")
            + (f"\nnote: {note}" if note else "")
        )

    def to_text(self, max_nodes: int = 80) -> str:
        """A tree from each root down to the leaves; shared nodes are shown once."""
        from .graph_picture import report_to_text

        return report_to_text(self, max_nodes=max_nodes)

    def to_dot(self, max_nodes: int = 80, fold: bool | None = None) -> str:
        """Graphviz DOT source: grad_fn boxes, leaves, saved tensors with versions.

        A large graph is drawn folded (alike nodes once, "× N"; ``graph_fold``) unless
        ``fold=False``; ``fold=True`` folds a small one too.
        """
        from .graph_picture import report_to_dot

        return report_to_dot(self, max_nodes=max_nodes, fold=fold)

    def __str__(self) -> str:
        return self.to_text()


def inspect_graph(
    *tensors: torch.Tensor,
    names: Mapping[str, torch.Tensor] | None = None,
    limit: int = DEFAULT_LIMIT,
    earlier: Sequence[tuple[str, Any]] = (),
) -> GraphReport:
    """The graph behind ``tensors`` as it is now; changes nothing and raises nothing for it.

    (It makes one throwaway node to read the autograd counter, and on a torch without
    ``_sequence_nr`` it tags the walked nodes' ``metadata``: ``graph_batches``.)

    ``names`` labels tensors (leaves, saved tensors, roots) by identity, or failing that by the
    same view of the same storage (a saved output is a different object over the same memory).

    Args:
        *tensors: the roots to inspect, e.g. the loss (tensors only).
        names: a mapping of name to tensor, the names shown for those tensors.
        limit: the most graph nodes to list (>= 1); beyond it the report says it is truncated.
        earlier: (label, report) of the snapshots taken before in the same run, oldest first:
            each node is marked with the earliest of them it was made before (``NodeInfo.batch``).

    Returns:
        The ``GraphReport``: its roots and nodes, breadth first from the roots.
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise UsageError(
                f"inspect_graph takes tensors (e.g. the loss); argument {i + 1} is a "
                f"{type(t).__name__}"
            )
    if names is not None and not isinstance(names, Mapping):
        raise UsageError(f"names must be a mapping of name to tensor; got {type(names).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UsageError(f"limit must be a whole number >= 1 (nodes to list); got {limit!r}")
    namer = TensorNamer(names or {})
    ids: dict[Any, str] = {}
    nodes: list[NodeInfo] = []
    roots: list[tuple[str, str | None]] = []
    stack: list[Any] = []
    walked: list[Any] = []
    truncated = False

    def node_id(fn: Any) -> str:
        nonlocal truncated
        if fn not in ids:
            if len(ids) >= limit:
                truncated = True
                return ""
            ids[fn] = f"n{len(ids)}"
            stack.append(fn)
        return ids[fn]

    for i, t in enumerate(tensors):
        label = namer.name(t) or (f"tensor {i}" if len(tensors) > 1 else "tensor")
        fn = _gradient_node(t)
        roots.append((label, node_id(fn) if fn is not None else None))
    while stack:
        fn = stack.pop(0)  # breadth first: ids grow with distance from the roots
        walked.append(fn)
        info = _describe_node(fn, ids[fn], namer)
        for child, input_nr in fn.next_functions:
            if child is not None:
                cid = node_id(child)
                if cid:
                    info.next.append((cid, input_nr))
        nodes.append(info)
    compared = [(label, r.moment) for label, r in earlier if getattr(r, "moment", None)]
    moments = [m for _, m in compared]
    for fn, info in zip(walked, nodes, strict=True):
        info.batch = made_before(fn, moments) if moments else None
    return GraphReport(
        roots=roots,
        nodes=nodes,
        truncated=truncated,
        earlier=[label for label, _ in compared],
        moment=moment_now(walked),
    )


def graph_at(frame: FrameType, *tensors: torch.Tensor) -> GraphReport:
    """``inspect_graph`` of ``tensors`` named by ``frame``'s variables: what ``snapshot`` records.

    The spec's runners pass it as ``run_case(case, inspect=graph_at)``. It compares the graph
    with the run's earlier snapshots, so a picture of batch 2 shows what batch 1 made.
    """
    return inspect_graph(*tensors, names=names_in_frame(frame), earlier=earlier_snapshots())


def names_in_frame(frame: FrameType, *, include_globals: bool = False) -> dict[str, torch.Tensor]:
    """Names for tensors from a Python frame: its tensor variables and its modules' parameters.

    ``names_in_frame(sys._getframe())`` labels a picture with the code's own names (``x1``,
    ``state``, ``rnn.weight_hh_l0``). With ``include_globals``, module globals come first and
    locals override them: the name the code at hand uses wins.
    """
    names: dict[str, torch.Tensor] = {}
    scopes = [frame.f_globals, frame.f_locals] if include_globals else [frame.f_locals]
    for scope in scopes:
        for var, value in list(scope.items()):
            if isinstance(value, torch.Tensor):
                names[var] = value
            elif isinstance(value, torch.nn.Module):
                for pname, p in value.named_parameters():
                    names[f"{var}.{pname}"] = p
    return names


def _gradient_node(t: torch.Tensor) -> Any:
    if t.grad_fn is not None:
        return t.grad_fn
    if t.requires_grad:  # a leaf: its gradient goes to its AccumulateGrad node
        return torch.autograd.graph.get_gradient_edge(t).node
    return None


def _describe_node(fn: Any, nid: str, namer: TensorNamer) -> NodeInfo:
    if hasattr(fn, "variable"):  # AccumulateGrad: the leaf it accumulates into
        leaf = fn.variable
        return NodeInfo(
            id=nid,
            name="AccumulateGrad",
            is_leaf=True,
            leaf_name=namer.name(leaf),
            leaf_shape=tuple(leaf.shape),
            leaf_dtype=str(leaf.dtype),
        )
    return NodeInfo(id=nid, name=fn.name(), saved=saved_tensors_of(fn, nid, namer))
