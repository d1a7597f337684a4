"""What the graph pictures share: node styles, DOT quoting, and the batch boundary.

A graph compared with the run's earlier snapshots (``graph_batches``) is drawn with its nodes in
one frame per batch: a dashed blue frame "from batch 1, carried in" around what an earlier
batch made, a green one "this forward" around what was made since, and the edges that cross
from the later frame into the earlier one drawn blue, labelled "carried in". A leaf's
``AccumulateGrad`` belongs to no batch (every batch's steps lead into the same parameters) and
stays outside the frames. A graph that was compared and holds nothing of an earlier batch says
so in its title ("nothing carried in"). In the folded picture each earlier batch's frame is
drawn below the later one's; the full-size one draws them side by side. The freed and STALE markers are drawn inside the frames
as they are without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["boundary_clusters", "boundary_note", "crosses", "html", "quote"]

ROOT = 'shape=ellipse, style=filled, fillcolor="#d9ead3"'
NODE = 'shape=box, style="rounded,filled", fillcolor="#eeeeee"'
LEAF = 'shape=box, style=filled, fillcolor="#cfe2f3"'
SAVED = 'shape=note, style=filled, fillcolor="#fffbe6", fontsize=10'
STALE = 'shape=note, style=filled, fillcolor="#f4cccc", color="#cc0000", fontcolor="#990000", penwidth=2, fontsize=10'
FREED = 'shape=note, style="dashed,filled", fillcolor="#f3f3f3", color="#999999", fontcolor="#777777", fontsize=10'
BOUNDARY = "#1f5fa8"  # the frame of an earlier batch's nodes and the edges carried into it
_NOW = "#2e7d32"
CARRIED_EDGE = f'color="{BOUNDARY}", fontcolor="{BOUNDARY}", penwidth=2.5, style=bold'


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def crosses(older: int | None, newer: int | None) -> bool:
    """Whether an edge from a node of batch ``newer`` into one of ``older`` crosses a boundary
    (None: this forward; a smaller index: an earlier batch)."""
    return older is not None and (newer is None or older < newer)


def boundary_note(report: Any) -> str | None:
    """The title line of a compared graph that holds nothing of an earlier batch."""
    if getattr(report, "earlier", None) and not report.carried:
        return report.boundary_note()
    return None


def boundary_clusters(
    report: Any,
    members: Mapping[str, int | None],
    *,
    beside: Mapping[str, str] | None = None,
    stack: bool = True,
) -> list[str]:
    """DOT clusters for ``members`` (DOT node id -> batch index, None: this forward; leaves left
    out), one per batch; none when the graph holds nothing of an earlier batch.

    ``beside`` maps a member to a note drawn on its rank (its saved tensors): the note joins
    its frame, and the rank constraint is stated inside the frame (stated outside, dot's
    default ranking fails on it: "trouble in init_rank"). ``stack`` draws each earlier batch's
    frame below the later one's; dot needs seconds for that on a few hundred nodes, so the
    full-size pictures go without and draw the frames side by side.
    """
    beside = beside or {}
    if not getattr(report, "earlier", None) or not report.carried:
        return []
    by_batch: dict[int | None, list[str]] = {}
    for nid, batch in members.items():
        by_batch.setdefault(batch, []).append(nid)
    lines = []
    for batch in sorted(by_batch, key=lambda b: (b is None, b or 0)):
        if batch is None:
            name = "now"
            label = f"this forward: made after the snapshot “{report.earlier[-1]}”"
            style = f'style="rounded"; color="{_NOW}"; fontcolor="{_NOW}"'
        else:
            name = str(batch)
            label = (
                f"from {report.batch_label(batch)}, carried in\n"
                f"(made before the snapshot “{report.earlier[batch]}”)"
            )
            style = (
                f'style="dashed,rounded"; color="{BOUNDARY}"; fontcolor="{BOUNDARY}"; penwidth=2'
            )
        lines.append(f"  subgraph cluster_batch_{name} {{")
        lines.append(f"    label={quote(label)}; labeljust=l; fontsize=15; {style};")
        lines.append(f"    {'; '.join(by_batch[batch])};")
        lines += [f"    {{rank=same; {n}; {beside[n]};}}" for n in by_batch[batch] if n in beside]
        lines.append("  }")
    # Each batch's frame below the later one's, not beside it (beside, the picture is twice as
    # wide and shrinks on the page): invisible edges from every node of the later batch into
    # the first node (breadth first) of the earlier one; newrank makes the clusters obey them.
    if not stack:
        return lines
    order = sorted(by_batch, key=lambda b: (b is None, b or 0), reverse=True)
    lines.insert(0, "  newrank=true;")
    for newer, older in zip(order, order[1:], strict=False):
        entry = by_batch[older][0]
        lines += [f"  {nid} -> {entry} [style=invis, weight=0];" for nid in by_batch[newer]]
    return lines
