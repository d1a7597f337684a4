"""Pictures of the autograd graphs a case recorded with ``snapshot``, for the ``{case}`` directive.

Each snapshot becomes an SVG drawn by Graphviz ``dot`` at build time (through
``rnn_autograd.graph_picture.render``) and shown as an image with the snapshot's label as caption.
Where ``dot`` is not installed the same graph is shown as the inspector's text tree in a literal
block: a readable picture, never a broken image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from rnn_autograd.graph_picture import has_graphviz, render

GENERATED = "_generated/graphs"


def graph_nodes(app: Sphinx, slug: str, label: str, report: Any) -> list[nodes.Node]:
    """A figure (SVG) or, without ``dot``, a captioned text tree for one graph snapshot."""
    caption = f"The autograd graph {label}" if not label[:1].isupper() else label
    if not has_graphviz():
        block = nodes.literal_block("", report.to_text(), language="none")
        block["classes"].append("case-graph-text")
        container = nodes.container(classes=["case-graph"])
        container += nodes.paragraph("", f"{caption} (text: Graphviz `dot` is not installed)")
        container += block
        return [container]
    out_dir = Path(app.srcdir) / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    path = render(report, out_dir / f"{slug}.svg", title=None)
    figure = nodes.figure(classes=["case-graph"])
    # A leading "/" makes Sphinx resolve the image relative to the source folder, whatever the page.
    figure += nodes.image(uri=f"/{GENERATED}/{path.name}", alt=f"autograd graph: {label}")
    figure += nodes.caption(caption, caption)
    return [figure]
