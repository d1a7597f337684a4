"""The folded picture of a large graph: one box per group of alike nodes (``graph_fold``), "× N".

Each box holds its node's name and its saved tensors with their condition; an edge back into
its own group reads "previous" (the step before, in a chain folded to one step); edges from the
live graph into groups with freed or STALE saved tensors are red ("into freed"). Where the graph
holds an earlier batch's nodes, the groups sit in one frame per batch and the edges that cross
into an earlier batch read "carried in" (``picture_style``); nodes of different batches never
share a group (``graph_fold``), so each batch's steps fold to their own "× N".
"""

from __future__ import annotations

from typing import Any

from .graph_fold import fold_graph
from .picture_style import (
    CARRIED_EDGE,
    LEAF,
    NODE,
    ROOT,
    boundary_clusters,
    boundary_note,
    crosses,
    html,
    quote,
)

__all__ = ["folded_to_dot"]


def folded_to_dot(report: Any, title: str | None = None) -> str:
    """DOT source of the folded graph: one box per group, "× N" where it stands for N nodes."""
    folded = fold_graph(report)
    back = folded.back_edges
    by_id = {g.id: g for g in folded.groups}
    lines = [
        "digraph autograd {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=14, nodesep=0.3, ranksep=0.35];',
        '  node [fontname="Helvetica", fontsize=14];',
        '  edge [color="#555555", fontname="Helvetica", fontsize=12];',
    ]
    note = f"{folded.node_count} nodes drawn as {len(folded.groups)}: × N marks N alike nodes"
    nothing = boundary_note(report)
    note += f"\n{nothing}" if nothing else ""
    label = f"{title}\n{note}" if title else note
    lines.append(f"  labelloc=t; label={quote(label)};")
    for i, (text, root) in enumerate(folded.roots):
        text = text if root is not None else f"{text}\n(no graph)"
        lines.append(f"  r{i} [label={quote(text)}, {ROOT}];")
        if root is not None:
            lines.append(f"  r{i} -> {root} [label=grad_fn];")
    for g in folded.groups:
        node = g.first
        times = f" × {g.count}" if g.count > 1 else ""
        if node.is_leaf:
            text = node.label.replace("AccumulateGrad leaf", "AccumulateGrad\nleaf") + times
            lines.append(f"  {g.id} [label={quote(text)}, {LEAF}];")
            continue
        # The saved tensors inside the box, under the name: a note beside each box doubled the
        # picture's width, and a wide picture is shrunk to an unreadable size on the page.
        style = _box_style(g.conditions) + (", penwidth=2" if g.count > 1 else "")
        lines.append(f"  {g.id} [label={_folded_label(node.name + times, g)}, {style}];")
    batch = {g.id: g.first.batch for g in folded.groups}
    lines += boundary_clusters(
        report, {g.id: batch[g.id] for g in folded.groups if not g.first.is_leaf}
    )
    into_old = _edges_into_old(folded, back)
    for (a, b), count in folded.edges.items():
        attrs = []
        times = f", × {count}" if count > 1 else ""
        if not by_id[b].first.is_leaf and crosses(batch[b], batch[a]):
            # The batch boundary: this edge leads from a later batch's node into what an
            # earlier batch made (the state carried in without detach).
            what = "carried in"
            if (a, b) in into_old:
                what += ", into freed" if "freed" in by_id[b].conditions else ", into STALE"
            attrs += [f"label={quote(what + times)}", CARRIED_EDGE]
        elif (a, b) in back:
            # A chain folded into its own group: the edge to the previous step, not a new rank.
            attrs += [f"label={quote('previous' + times)}", "constraint=false", "style=dashed"]
        elif (a, b) in into_old:
            # Where backward leaves the live graph for saved tensors it cannot use.
            what = "into freed" if "freed" in by_id[b].conditions else "into STALE"
            attrs += [f"label={quote(what + times)}", 'color="#cc0000"', 'fontcolor="#990000"']
            attrs.append("penwidth=2.5")
        elif count > 1:
            attrs.append(f"label={quote(f'× {count}')}")
        lines.append(f"  {a} -> {b}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edges_into_old(folded: Any, back: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges from the live graph into a group with freed or STALE saved tensors.

    A group is *old* when its saved tensors are freed or stale, or when it saves nothing and
    every edge into it comes from an old group (a node of the earlier graph between two that
    save). Edges are taken in the groups' breadth-first order, back edges left out.
    """
    by_id = {g.id: g for g in folded.groups}
    parents: dict[str, list[str]] = {}
    for a, b in folded.edges:
        if (a, b) not in back:
            parents.setdefault(b, []).append(a)
    old: dict[str, bool] = {}

    def is_old(gid: str, seen: frozenset = frozenset()) -> bool:
        if gid not in old:
            conditions = by_id[gid].conditions
            if conditions & {"freed", "stale"}:
                old[gid] = True
            elif conditions or not parents.get(gid) or gid in seen:
                old[gid] = False
            else:
                old[gid] = all(is_old(p, seen | {gid}) for p in parents[gid])
        return old[gid]

    return {
        (a, b)
        for a, b in folded.edges
        if (a, b) not in back and by_id[b].conditions & {"freed", "stale"} and not is_old(a)
    }


def _box_style(conditions: set[str]) -> str:
    if "stale" in conditions:
        return 'shape=box, style="rounded,filled", fillcolor="#f4cccc", color="#cc0000"'
    if "freed" in conditions:
        return 'shape=box, style="rounded,dashed,filled", fillcolor="#f3f3f3", color="#777777"'
    return NODE


def _folded_label(title: str, group: Any) -> str:
    """An HTML-like label: the node's name, then one line per saved tensor and its condition."""
    rows = [f"<tr><td><b>{html(title)}</b></td></tr>"]
    for label, lay, statuses in group.saved_rows:
        stale = any(s.endswith("STALE") for s in statuses)
        freed = all(s.startswith("freed") for s in statuses)
        color = "#990000" if stale else "#666666" if freed else "#333333"
        status = " / ".join(statuses[:2]) + (" / ..." if len(statuses) > 2 else "")
        status = f"<b>{html(status)}</b>" if stale else html(status)
        # Name on one line, layout and versions on the next: one long line made boxes wide.
        font = f'<font point-size="12" color="{color}">'
        rows.append(f'<tr><td align="left">{font}{html(label)}</font></td></tr>')
        rest = f"{html(lay)}: {status}" if lay else status
        rows.append(f'<tr><td align="left">{font}   {rest}</font></td></tr>')
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
    return f"<{table}{''.join(rows)}</table>>"
