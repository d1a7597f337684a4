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

How the versions are read (torch 2.x has no public accessor for the saved version):

- ``node._raw_saved_<attr>`` is the ``SavedTensor`` record; its ``.data`` is the saved tensor
  *without* unpacking it (no version check, no unpack hook). It shares the tensor's version
  counter, so ``.data._version`` is the version *now*. ``.data`` is ``None`` once freed (or when
  nothing was saved); ``.unpack_hook`` is set when ``saved_tensors_hooks`` packed it.
- ``node._saved_<attr>`` unpacks it, which is the check backward itself makes: it returns the tensor
  when the versions agree (saved version = current version), raises RuntimeError "... is at
  version N; expected version M instead" when they differ (M is the saved version, parsed from the
  message), and raises "... after they have already been freed" when freed. Unpacking changes no
  version and frees nothing; the unpacked tensor is dropped at once. Tensors packed by
  ``saved_tensors_hooks`` are never unpacked here (that would run the user's hook): they are
  listed with ``hooked=True`` and unknown versions, as torch does not track them either.

The report holds metadata only (names, shapes, versions), never the tensors, so keeping it keeps
no memory alive. DOT pictures and rendering live in ``rnn_autograd.graph_picture``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["GraphReport", "NodeInfo", "SavedTensorInfo", "inspect_graph"]

_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+) instead")
_FREED = "already been freed"
# Walk at most this many nodes: a long RNN window can build tens of thousands.
DEFAULT_LIMIT = 20_000


@dataclass(frozen=True)
class SavedTensorInfo:
    """One tensor a node saved for backward, with its version then and now."""

    node_name: str
    node_id: str
    attr: str
    shape: tuple[int, ...] | None
    dtype: str | None
    saved_version: int | None
    current_version: int | None
    freed: bool
    name: str | None = None
    hooked: bool = False

    @property
    def stale(self) -> bool:
        """Changed in place since it was saved: unpacking it (backward does) raises."""
        return (
            self.saved_version is not None
            and self.current_version is not None
            and self.saved_version != self.current_version
        )

    @property
    def label(self) -> str:
        """``attr`` plus the user's name for the tensor where one was given."""
        return f"{self.attr} ({self.name})" if self.name else self.attr

    @property
    def layout(self) -> str:
        """``float32[2, 4]``; ``?`` when freed."""
        return _layout(self.dtype, self.shape) or "?"

    @property
    def status(self) -> str:
        if self.freed:
            return "freed"
        if self.hooked:
            return "packed by saved_tensors_hooks, version not tracked"
        text = f"saved v{self.saved_version}, now v{self.current_version}"
        return text + (" STALE" if self.stale else "")


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

    @property
    def label(self) -> str:
        """``MulBackward0``, or ``AccumulateGrad leaf x float32[2]`` for a leaf."""
        if not self.is_leaf:
            return self.name
        name = f" {self.leaf_name}" if self.leaf_name else ""
        return f"AccumulateGrad leaf{name} {_layout(self.leaf_dtype, self.leaf_shape)}".rstrip()


@dataclass
class GraphReport:
    """The graph behind some tensors at one moment, as plain data."""

    roots: list[tuple[str, str | None]]  # (label, root node id or None when no graph)
    nodes: list[NodeInfo]
    truncated: bool = False

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
        return (
            f"{len(self.nodes)} nodes{more}, {len(saved)} saved tensors: "
            f"{len(self.stale)} stale, {len(self.freed)} freed -> {verdict}"
        )

    def to_text(self, max_nodes: int = 80) -> str:
        """A tree from each root down to the leaves; shared nodes are shown once."""
        from .graph_picture import report_to_text

        return report_to_text(self, max_nodes=max_nodes)

    def to_dot(self, max_nodes: int = 80) -> str:
        """Graphviz DOT source: grad_fn boxes, leaves, saved tensors as notes with versions."""
        from .graph_picture import report_to_dot

        return report_to_dot(self, max_nodes=max_nodes)

    def __str__(self) -> str:
        return self.to_text()


def _layout(dtype: str | None, shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return ""
    return f"{(dtype or '').replace('torch.', '')}[{', '.join(map(str, shape))}]"


def inspect_graph(
    *tensors: torch.Tensor,
    names: Mapping[str, torch.Tensor] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> GraphReport:
    """The graph behind ``tensors`` as it is now; changes nothing and raises nothing for it.

    ``names`` labels tensors (leaves, saved tensors, roots) by identity, or failing that by the
    same view of the same storage (a saved output is a different object over the same memory).
    """
    namer = _Namer(names or {})
    ids: dict[Any, str] = {}
    nodes: list[NodeInfo] = []
    roots: list[tuple[str, str | None]] = []
    stack: list[Any] = []
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
        info = _describe_node(fn, ids[fn], namer)
        for child, input_nr in fn.next_functions:
            if child is not None:
                cid = node_id(child)
                if cid:
                    info.next.append((cid, input_nr))
        nodes.append(info)
    return GraphReport(roots=roots, nodes=nodes, truncated=truncated)


def _gradient_node(t: torch.Tensor) -> Any:
    if t.grad_fn is not None:
        return t.grad_fn
    if t.requires_grad:  # a leaf: its gradient goes to its AccumulateGrad node
        return torch.autograd.graph.get_gradient_edge(t).node
    return None


class _Namer:
    def __init__(self, names: Mapping[str, torch.Tensor]):
        self._by_id = {id(t): n for n, t in names.items()}
        self._by_view = {}
        for n, t in names.items():
            key = _view_key(t)
            if key is not None:
                self._by_view.setdefault(key, n)

    def name(self, t: Any) -> str | None:
        if not isinstance(t, torch.Tensor):
            return None
        if id(t) in self._by_id:
            return self._by_id[id(t)]
        key = _view_key(t)
        return self._by_view.get(key) if key is not None else None


def _view_key(t: torch.Tensor) -> tuple | None:
    try:
        return (t.data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
    except (RuntimeError, NotImplementedError):  # no storage (meta, sparse, some subclasses)
        return None


# Attribute names per node type: dir() on every node of a long graph would be the cost.
_ATTRS: dict[type, frozenset[str]] = {}


def _attr_names(fn: Any) -> frozenset[str]:
    kind = type(fn)
    if kind not in _ATTRS:
        _ATTRS[kind] = frozenset(dir(fn))
    return _ATTRS[kind]


def _saved_attrs(fn: Any) -> list[str]:
    # hasattr() would unpack (and raise for freed tensors): names come from dir() instead.
    return sorted(a[len("_raw_saved_") :] for a in _attr_names(fn) if a.startswith("_raw_saved_"))


def _describe_node(fn: Any, nid: str, namer: _Namer) -> NodeInfo:
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
    info = NodeInfo(id=nid, name=fn.name())
    for attr in _saved_attrs(fn):
        info.saved += _saved_infos(fn, info, attr, namer)
    return info


def _saved_infos(fn: Any, node: NodeInfo, attr: str, namer: _Namer) -> list[SavedTensorInfo]:
    # Custom autograd.Function nodes expose `saved_tensors` instead of `_saved_tensors`.
    plain = f"_saved_{attr}"
    unpack_name = plain if plain in _attr_names(fn) else "saved_tensors"
    try:
        raw = getattr(fn, f"_raw_saved_{attr}")
    except RuntimeError as exc:  # a custom Function whose saved tensors are freed
        if _FREED in str(exc):
            return [_record(node, attr, None, freed=True)]
        raise
    many = isinstance(raw, (tuple, list))
    items = list(raw) if many else [raw]
    if any(_hooked(r) for r in items):
        # Packed by saved_tensors_hooks: unpacking would run the user's hook, so do not.
        return [
            _record(node, f"{attr}[{i}]" if many else attr, None, hooked=True)
            for i in range(len(items))
        ]
    whole_error = _unpack_error(lambda: getattr(fn, unpack_name))
    infos = []
    for i, r in enumerate(items):
        if many:
            error = _unpack_error(r.unpack) if whole_error is not None else None
            if error is not None and "detached in-place" in error:
                # A saved *output* cannot be unpacked alone (it needs its node): the whole
                # attribute's error speaks for it when the versions in it are this tensor's.
                error = whole_error
        else:
            error = whole_error
        info = _classify(node, f"{attr}[{i}]" if many else attr, r.data, error, namer)
        if info is not None:
            infos.append(info)
    return infos


def _hooked(raw: Any) -> bool:
    # `unpack_hook` is set while hooks hold the tensor; older releases only show a non-tensor.
    if getattr(raw, "unpack_hook", None) is not None:
        return True
    return raw.data is not None and not isinstance(raw.data, torch.Tensor)


def _unpack_error(unpack: Any) -> str | None:
    """The RuntimeError message unpacking raises, or None; the unpacked value is dropped."""
    try:
        unpack()
    except RuntimeError as exc:
        return str(exc)
    return None


def _classify(
    node: NodeInfo, attr: str, data: torch.Tensor | None, error: str | None, namer: _Namer
) -> SavedTensorInfo | None:
    if data is None:
        if error is not None and _FREED in error:
            return _record(node, attr, None, freed=True)
        return None  # nothing was saved under this name (an optional input left out)
    current = _version(data)
    found = _VERSIONS.search(error) if error else None
    if found and current is not None and int(found.group(1)) == current:
        saved = int(found.group(2))
    elif error is None:
        saved = current
    else:
        saved = None  # unpacking failed for another reason: report the tensor, claim nothing
    return _record(node, attr, data, saved_version=saved, current_version=current, namer=namer)


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except RuntimeError:  # inference tensors have no version counter
        return None


def _record(
    node: NodeInfo,
    attr: str,
    data: torch.Tensor | None,
    *,
    freed: bool = False,
    hooked: bool = False,
    saved_version: int | None = None,
    current_version: int | None = None,
    namer: _Namer | None = None,
) -> SavedTensorInfo:
    return SavedTensorInfo(
        node_name=node.name,
        node_id=node.id,
        attr=attr,
        shape=tuple(data.shape) if data is not None else None,
        dtype=str(data.dtype) if data is not None else None,
        saved_version=saved_version,
        current_version=current_version,
        freed=freed,
        name=namer.name(data) if namer is not None and data is not None else None,
        hooked=hooked,
    )
