"""Pictures of an inspected autograd graph: DOT source, and SVG/PNG through Graphviz ``dot``.

The picture reads top-down in the direction backward runs: the tensor you call backward on,
its ``grad_fn``, then each node's ``next_functions`` down to the leaves (``AccumulateGrad``).
Saved tensors hang off their node as notes saying "saved vM, now vN": red when stale (backward
will raise the in-place error), grey and dashed when freed (backward will raise "backward through
the graph a second time"). Without Graphviz installed, ``render`` writes the text tree instead.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

from .graph_fold import fold_graph
from .saved_tensors import SavedTensorInfo

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

    def summary(self) -> str: ...

    def to_text(self, max_nodes: int = ...) -> str: ...


__all__ = ["has_graphviz", "render", "report_to_dot", "report_to_text"]

_ROOT = 'shape=ellipse, style=filled, fillcolor="#d9ead3"'
_NODE = 'shape=box, style="rounded,filled", fillcolor="#eeeeee"'
_LEAF = 'shape=box, style=filled, fillcolor="#cfe2f3"'
_SAVED = 'shape=note, style=filled, fillcolor="#fffbe6", fontsize=10'
_STALE = 'shape=note, style=filled, fillcolor="#f4cccc", color="#cc0000", fontcolor="#990000", penwidth=2, fontsize=10'
_FREED = 'shape=note, style="dashed,filled", fillcolor="#f3f3f3", color="#999999", fontcolor="#777777", fontsize=10'


def report_to_text(report: GraphReport, max_nodes: int = 80) -> str:
    """A tree from each root down to the leaves; a node reached twice is shown once."""
    by_id = {n.id: n for n in report.nodes}
    lines = [report.summary()]
    shown: set[str] = set()
    budget = [max_nodes]

    def visit(node_id: str, prefix: str, branch: str, child_prefix: str) -> None:
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
        lines.append(f"{prefix}{branch}{node.label} [{node_id}]")
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
            visit(child, inner, "└─ " if last else "├─ ", "   " if last else "│  ")

    for label, root in report.roots:
        if root is None:
            lines.append(f"{label}: no graph (does not require grad)")
            continue
        lines.append(f"{label}:")
        visit(root, "  ", "", "")
    hidden = len(report.nodes) - len(shown)
    if hidden > 0:
        lines.append(f"  ... {hidden} more nodes not shown")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


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
            text = _html(cell)
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
        return _STALE
    return _FREED if all(s.freed for s in saved) else _SAVED


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
    if title:
        lines.append(f"  labelloc=t; label={_quote(title)};")
    for i, (label, root) in enumerate(report.roots):
        text = label if root is not None else f"{label}\n(no graph)"
        lines.append(f"  r{i} [label={_quote(text)}, {_ROOT}];")
        if root is not None and root in shown:
            lines.append(f"  r{i} -> {root} [label=grad_fn, fontsize=9];")
    for node in report.nodes[:max_nodes]:
        if node.is_leaf:
            text = node.label.replace("AccumulateGrad leaf", "AccumulateGrad\nleaf")
            lines.append(f"  {node.id} [label={_quote(text)}, {_LEAF}];")
        else:
            lines.append(f"  {node.id} [label={_quote(node.name)}, {_NODE}];")
        for child, _ in node.next:
            if child in shown:
                lines.append(f"  {node.id} -> {child};")
        if node.saved:
            sid = f"{node.id}_saved"
            lines.append(f"  {sid} [label={_saved_table(node.saved)}, {_note_style(node.saved)}];")
            lines.append(f'  {node.id} -> {sid} [style=dashed, arrowhead=none, color="#999999"];')
            lines.append(f"  {{rank=same; {node.id}; {sid};}}")
    hidden = len(report.nodes) - len(shown)
    if hidden > 0 or report.truncated:
        more = f"... {hidden} more nodes" + (
            " (walk stopped at the limit)" if report.truncated else ""
        )
        lines.append(f"  more [label={_quote(more)}, shape=plaintext];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def folded_to_dot(report: GraphReport, title: str | None = None) -> str:
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
    label = f"{title}\n{note}" if title else note
    lines.append(f"  labelloc=t; label={_quote(label)};")
    for i, (text, root) in enumerate(folded.roots):
        text = text if root is not None else f"{text}\n(no graph)"
        lines.append(f"  r{i} [label={_quote(text)}, {_ROOT}];")
        if root is not None:
            lines.append(f"  r{i} -> {root} [label=grad_fn];")
    for g in folded.groups:
        node = g.first
        times = f" × {g.count}" if g.count > 1 else ""
        if node.is_leaf:
            text = node.label.replace("AccumulateGrad leaf", "AccumulateGrad\nleaf") + times
            lines.append(f"  {g.id} [label={_quote(text)}, {_LEAF}];")
            continue
        # The saved tensors inside the box, under the name: a note beside each box doubled the
        # picture's width, and a wide picture is shrunk to an unreadable size on the page.
        style = _box_style(g.conditions) + (", penwidth=2" if g.count > 1 else "")
        lines.append(f"  {g.id} [label={_folded_label(node.name + times, g)}, {style}];")
    into_old = _edges_into_old(folded, back)
    for (a, b), count in folded.edges.items():
        attrs = []
        times = f", × {count}" if count > 1 else ""
        if (a, b) in back:
            # A chain folded into its own group: the edge to the previous step, not a new rank.
            attrs += [f"label={_quote('previous' + times)}", "constraint=false", "style=dashed"]
        elif (a, b) in into_old:
            # Where backward leaves the live graph for saved tensors it cannot use.
            what = "into freed" if "freed" in by_id[b].conditions else "into STALE"
            attrs += [f"label={_quote(what + times)}", 'color="#cc0000"', 'fontcolor="#990000"']
            attrs.append("penwidth=2.5")
        elif count > 1:
            attrs.append(f"label={_quote(f'× {count}')}")
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
    return _NODE


def _folded_label(title: str, group: Any) -> str:
    """An HTML-like label: the node's name, then one line per saved tensor and its condition."""
    rows = [f"<tr><td><b>{_html(title)}</b></td></tr>"]
    for label, lay, statuses in group.saved_rows:
        stale = any(s.endswith("STALE") for s in statuses)
        freed = all(s.startswith("freed") for s in statuses)
        color = "#990000" if stale else "#666666" if freed else "#333333"
        status = " / ".join(statuses[:2]) + (" / ..." if len(statuses) > 2 else "")
        status = f"<b>{_html(status)}</b>" if stale else _html(status)
        # Name on one line, layout and versions on the next: one long line made boxes wide.
        font = f'<font point-size="12" color="{color}">'
        rows.append(f'<tr><td align="left">{font}{_html(label)}</font></td></tr>')
        rest = f"{_html(lay)}: {status}" if lay else status
        rows.append(f'<tr><td align="left">{font}   {rest}</font></td></tr>')
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
    return f"<{table}{''.join(rows)}</table>>"


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
