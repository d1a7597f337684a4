"""Pictures of an inspected autograd graph: DOT source, and SVG/PNG through Graphviz ``dot``.

The picture reads top-down in the direction backward runs: the tensor you call backward on,
its ``grad_fn``, then each node's ``next_functions`` down to the leaves (``AccumulateGrad``).
Saved tensors hang off their node as notes saying "saved vM, now vN": red when stale (backward
will raise the in-place error), grey and dashed when freed (backward will raise "backward through
the graph a second time"). A graph that holds an earlier batch's nodes is framed per batch, and
its text tree marks the boundary (``picture_style``, ``graph_batches``). Without Graphviz
installed, ``render`` writes the text tree instead.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

from .folded_picture import folded_to_dot
from .picture_style import (
    CARRIED_EDGE,
    FREED,
    LEAF,
    NODE,
    ROOT,
    SAVED,
    STALE,
    boundary_clusters,
    boundary_note,
    crosses,
    html,
    quote,
)
from .saved_tensors import SavedTensorInfo

_ROOT_BATCH = object()  # a root's node has no parent, so no edge of it crosses a boundary

# Above this many nodes a picture is folded (graph_fold): unfolded it cannot be read at page width.
FOLD_ABOVE = 40


class GraphReport(Protocol):
    """What a picture reads of ``rnn_autograd.diagnose.inspector.GraphReport``.

    A protocol rather than an import: the report's ``to_text``/``to_dot`` call this module, so
    importing the report here would close an import circle.
    """

    roots: list[tuple[str, str | None]]
    nodes: list[Any]
    truncated: bool
    earlier: list[str]  # the earlier snapshots compared (graph_batches); [] when none
    carried: dict[int, int]

    def batch_label(self, index: int) -> str: ...

    def boundary_note(self) -> str | None: ...

    def summary(self) -> str: ...

    def to_text(self, max_nodes: int = ...) -> str: ...


__all__ = ["has_graphviz", "render", "report_to_dot", "report_to_text"]


def report_to_text(report: GraphReport, max_nodes: int = 80) -> str:
    """A tree from each root down to the leaves; a node reached twice is shown once."""
    by_id = {n.id: n for n in report.nodes}
    lines = [report.summary()]
    shown: set[str] = set()
    budget = [max_nodes]

    def visit(
        node_id: str, prefix: str, branch: str, child_prefix: str, parent_batch: Any = None
    ) -> None:
        node = by_id.get(node_id)
        if node is None:
            return
        if node_id in shown:
            lines.append(f"{prefix}{branch}{node.name} [{node_id}] (shown above)")
            return
        if budget[0] <= 0:
            return
        budget[0] -= 1
        shown.add(node_id)
        if parent_batch is not _ROOT_BATCH and crosses(node.batch, parent_batch):
            made = report.earlier[node.batch]
            # On the stem into the node: the line above it belongs to the later batch.
            lines.append(
                f"{prefix}│  ┄┄ batch boundary ┄┄ below: {report.batch_label(node.batch)}'s graph, "
                f"carried in (made before the snapshot “{made}”)"
            )
        batch = f" (from {report.batch_label(node.batch)})" if node.batch is not None else ""
        lines.append(f"{prefix}{branch}{node.label} [{node_id}]{batch}")
        inner = prefix + child_prefix
        freed = [s for s in node.saved if s.freed]
        for s in node.saved:
            if s.freed and len(freed) > 3:
                continue  # listed together below: one line, not one per tensor
            mark = "  <- backward fails here" if s.stale or s.freed else ""
            body = "freed by an earlier backward" if s.freed else f"{s.layout}, {s.status}"
            lines.append(f"{inner}  saved {s.label}: {body}{mark}")
        if len(freed) > 3:
            attrs = ", ".join(s.label for s in freed)
            lines.append(
                f"{inner}  saved {attrs}: all {len(freed)} freed by an earlier backward"
                "  <- backward fails here"
            )
        for i, (child, _) in enumerate(node.next):
            last = i == len(node.next) - 1
            visit(child, inner, "└─ " if last else "├─ ", "   " if last else "│  ", node.batch)

    for label, root in report.roots:
        if root is None:
            lines.append(f"{label}: no graph (does not require grad)")
            continue
        lines.append(f"{label}:")
        visit(root, "  ", "", "", _ROOT_BATCH)
    hidden = len(report.nodes) - len(shown)
    if hidden > 0:
        lines.append(f"  ... {hidden} more nodes not shown")
    return "\n".join(lines)


def _saved_table(saved: list[SavedTensorInfo]) -> str:
    """One note per node: a row per saved tensor, stale rows red and bold, freed rows grey."""
    rows = []
    for s in saved:
        if s.freed:
            color, cells = "#777777", [s.label, "", "freed by an earlier backward"]
        else:
            color, cells = ("#990000" if s.stale else "#333333"), [s.label, s.layout, s.status]
        tds = ""
        for cell in cells:
            text = html(cell)
            if s.stale and cell == s.status:
                text = f"<b>{text}</b>"
            # Graphviz rejects an empty <font></font>: an empty cell stays bare.
            tds += (
                f'<td align="left"><font color="{color}">{text}</font></td>'
                if text
                else "<td></td>"
            )
        rows.append(f"<tr>{tds}</tr>")
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
    return f"<{table}{''.join(rows)}</table>>"


def _note_style(saved: list[SavedTensorInfo]) -> str:
    if any(s.stale for s in saved):
        return STALE
    return FREED if all(s.freed for s in saved) else SAVED


def report_to_dot(
    report: GraphReport,
    max_nodes: int = 80,
    title: str | None = None,
    fold: bool | None = None,
) -> str:
    """DOT source for ``report``; at most ``max_nodes`` nodes, then a "... N more" marker.

    ``fold`` draws alike nodes once with their count (``graph_fold``); ``None`` folds a graph of
    more than ``FOLD_ABOVE`` nodes. A folded picture shows every node's group, so it cuts nothing.
    """
    if fold or (fold is None and len(report.nodes) > FOLD_ABOVE):
        return folded_to_dot(report, title=title)
    shown = {n.id for n in report.nodes[:max_nodes]}
    lines = [
        "digraph autograd {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555", fontname="Helvetica", fontsize=9];',
    ]
    nothing = boundary_note(report)
    if title or nothing:
        heading = "\n".join(t for t in (title, nothing) if t)
        lines.append(f"  labelloc=t; label={quote(heading)};")
    batch = {n.id: n.batch for n in report.nodes[:max_nodes]}
    framed = {n.id: n.batch for n in report.nodes[:max_nodes] if not n.is_leaf}
    notes = {n.id: f"{n.id}_saved" for n in report.nodes[:max_nodes] if n.saved}
    # A node and the note of its saved tensors share its batch's frame. Frames side by side:
    # stacked, dot takes seconds on the 400 nodes of a full-size picture.
    frames = boundary_clusters(report, framed, beside=notes, stack=False)
    lines += frames
    for i, (label, root) in enumerate(report.roots):
        text = label if root is not None else f"{label}\n(no graph)"
        lines.append(f"  r{i} [label={quote(text)}, {ROOT}];")
        if root is not None and root in shown:
            lines.append(f"  r{i} -> {root} [label=grad_fn, fontsize=9];")
    for node in report.nodes[:max_nodes]:
        if node.is_leaf:
            text = node.label.replace("AccumulateGrad leaf", "AccumulateGrad\nleaf")
            lines.append(f"  {node.id} [label={quote(text)}, {LEAF}];")
        else:
            lines.append(f"  {node.id} [label={quote(node.name)}, {NODE}];")
        for child, _ in node.next:
            if child in shown and crosses(batch[child], node.batch):
                # The batch boundary: into what an earlier batch's forward made.
                lines.append(f'  {node.id} -> {child} [label="carried in", {CARRIED_EDGE}];')
            elif child in shown:
                lines.append(f"  {node.id} -> {child};")
        if node.saved:
            sid = f"{node.id}_saved"
            lines.append(f"  {sid} [label={_saved_table(node.saved)}, {_note_style(node.saved)}];")
            lines.append(f'  {node.id} -> {sid} [style=dashed, arrowhead=none, color="#999999"];')
            if not (frames and node.id in framed):  # else stated inside the frame
                lines.append(f"  {{rank=same; {node.id}; {sid};}}")
    hidden = len(report.nodes) - len(shown)
    if hidden > 0 or report.truncated:
        more = f"... {hidden} more nodes" + (
            " (walk stopped at the limit)" if report.truncated else ""
        )
        lines.append(f"  more [label={quote(more)}, shape=plaintext];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def has_graphviz() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


def render(
    report: GraphReport,
    path: str | Path,
    *,
    max_nodes: int = 80,
    title: str | None = None,
) -> Path:
    """Write the picture of ``report`` to ``path`` (``.svg`` or ``.png``) and return the path.

    Without ``dot`` on PATH, writes the text tree to ``path`` with suffix ``.txt`` instead and
    returns that path, so a docs build without Graphviz still shows the graph.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "dot"):
        raise ValueError(f"cannot render to {path.name!r}: use a .svg, .png or .dot file name")
    source = report_to_dot(report, max_nodes=max_nodes, title=title)
    if fmt == "dot":
        path.write_text(source)
        return path
    dot = shutil.which("dot")
    if dot is None:
        fallback = path.with_suffix(".txt")
        fallback.write_text(report.to_text(max_nodes=max_nodes) + "\n")
        return fallback
    done = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(path)], input=source.encode(), capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot failed on the graph ({done.stderr.decode().strip()})")
    return path
