"""Fold a large autograd graph: nodes of the same kind in the same place drawn once, "× N".

An RNN window of 20 steps records the same few nodes 20 times (``TanhBackward0`` ->
``AddBackward0`` -> ``AddmmBackward0`` -> the previous step's ``TanhBackward0``), and a state
carried across batches joins two such windows: 180 boxes that no page can show legibly. Folding
groups the nodes that look alike *and lead to alike nodes*: two nodes share a group when they
have the same name, the same leaf (for ``AccumulateGrad``), the same saved tensors in the same
condition (fine / STALE / freed), the same batch (``NodeInfo.batch``: made by an earlier
batch's forward or by this one) and, for a few levels down, children in the same groups. The
per-step chain then reads as one step with "× 19", an edge back into its own group says "the
previous step", and nodes whose saved tensors differ in condition never share a group: the freed
or STALE saved tensors a backward will trip on are always drawn, each group with its count.

The refinement is Weisfeiler-Lehman colour refinement over the ``next_functions`` edges, run a
fixed number of rounds (not to a fixpoint: at a fixpoint every step of a chain is its own group,
since step t is t nodes from the end). ``FOLD_ROUNDS`` rounds split off the first step or two of
a window (they read the state carried in, a different child) and the steps of different batches
when their saved tensors differ in condition a few nodes down.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FOLD_ROUNDS", "FoldedGraph", "Group", "fold_graph"]

FOLD_ROUNDS = 4


def condition(s: Any) -> str:
    """``freed``, ``stale``, ``hooked`` or ``ok``: what a backward will find in a saved tensor."""
    if s.freed:
        return "freed"
    if s.stale:
        return "stale"
    return "hooked" if getattr(s, "hooked", False) else "ok"


@dataclass
class Group:
    """Nodes drawn as one box: ``members`` (node infos) of one kind; ``id`` names the box."""

    id: str
    members: list[Any]
    # Each saved tensor's label with the statuses seen among the members, in first-seen order.
    saved_rows: list[tuple[str, str, list[str]]] = field(default_factory=list)

    @property
    def first(self) -> Any:
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def conditions(self) -> set[str]:
        return {condition(s) for n in self.members for s in n.saved}


@dataclass
class FoldedGraph:
    roots: list[tuple[str, str | None]]  # (label, group id or None)
    groups: list[Group]
    edges: dict[tuple[str, str], int]  # (from group, to group) -> how many node edges
    node_count: int

    @property
    def back_edges(self) -> set[tuple[str, str]]:
        """Edges that close a cycle (a chain folded into one group): drawn as "previous"."""
        children: dict[str, list[str]] = {}
        for a, b in self.edges:
            children.setdefault(a, []).append(b)
        state: dict[str, int] = {}
        back: set[tuple[str, str]] = set()
        for _, start in self.roots:
            if start is None or start in state:
                continue
            # Iterative depth-first search: 0 on the stack, 1 done.
            state[start] = 0
            stack = [(start, iter(children.get(start, ())))]
            while stack:
                gid, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[gid] = 1
                    stack.pop()
                elif nxt not in state:
                    state[nxt] = 0
                    stack.append((nxt, iter(children.get(nxt, ()))))
                elif state[nxt] == 0:
                    back.add((gid, nxt))
        return back


def _base_key(node: Any) -> tuple:
    leaf = (node.leaf_name, node.leaf_shape, node.leaf_dtype) if node.is_leaf else None
    saved = tuple((s.label, s.layout, condition(s)) for s in node.saved)
    # The batch that made it (graph_batches): one batch's steps never fold into another's.
    return (node.name, leaf, saved, getattr(node, "batch", None))


def fold_graph(report: Any, rounds: int = FOLD_ROUNDS) -> FoldedGraph:
    """Group the nodes of ``report`` (an ``inspect_graph`` report) as told in the module doc."""
    nodes = report.nodes
    by_id = {n.id: n for n in nodes}
    colour: dict[str, Any] = {n.id: _base_key(n) for n in nodes}
    for _ in range(rounds):
        keys = {
            n.id: (colour[n.id], frozenset(colour[c] for c, _ in n.next if c in colour))
            for n in nodes
        }
        # Small integers for the next round: keys would otherwise nest ever deeper.
        numbering: dict[Any, int] = {}
        colour = {nid: numbering.setdefault(k, len(numbering)) for nid, k in keys.items()}
    # Groups in breadth-first order of their first member (the report's own order).
    group_of: dict[str, str] = {}
    members: dict[Any, list[Any]] = {}
    order: list[Any] = []
    for n in nodes:
        c = colour[n.id]
        if c not in members:
            members[c] = []
            order.append(c)
        members[c].append(n)
    groups = []
    for i, c in enumerate(order):
        group = Group(id=f"g{i}", members=members[c], saved_rows=_saved_rows(members[c]))
        groups.append(group)
        for n in group.members:
            group_of[n.id] = group.id
    edges: Counter = Counter()
    for n in nodes:
        for child, _ in n.next:
            if child in by_id:
                edges[(group_of[n.id], group_of[child])] += 1
    roots = [(label, group_of.get(root) if root else None) for label, root in report.roots]
    return FoldedGraph(roots=roots, groups=groups, edges=dict(edges), node_count=len(nodes))


def _saved_rows(members: list[Any]) -> list[tuple[str, str, list[str]]]:
    rows: list[tuple[str, str, list[str]]] = []
    for i, s in enumerate(members[0].saved):
        statuses: list[str] = []
        for n in members:
            if i < len(n.saved):
                status = "freed by an earlier backward" if n.saved[i].freed else n.saved[i].status
                if status not in statuses:
                    statuses.append(status)
        rows.append((s.label, "" if s.freed else s.layout, statuses))
    return rows
