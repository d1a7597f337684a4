"""Pictures of the autograd graphs a case recorded with ``snapshot``, for the ``{case}`` directive.

Each snapshot becomes an SVG drawn by Graphviz ``dot`` at build time (through
``rnn_autograd.graph_picture.render``) and shown as an image with the snapshot's label as caption.
Where ``dot`` is not installed the same graph is shown as the inspector's text tree in a literal
block: a readable picture, never a broken image.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from rnn_autograd.graph_picture import has_graphviz, render

GENERATED = "_generated/graphs"
logger = logging.getLogger(__name__)


def graph_nodes(app: Sphinx, slug: str, label: str, report: Any) -> list[nodes.Node]:
    """A figure (SVG) or, without ``dot``, a captioned text tree for one graph snapshot."""
    caption = f"The autograd graph {label}" if not label[:1].isupper() else label
    path = _render_svg(app, slug, report) if has_graphviz() else None
    if path is None:
        block = nodes.literal_block("", report.to_text(), language="none")
        block["classes"].append("case-graph-text")
        container = nodes.container(classes=["case-graph"])
        container += nodes.paragraph(
            "", f"{caption} (as text: the Graphviz program dot is not available)"
        )
        container += block
        return [container]
    figure = nodes.figure(classes=["case-graph"])
    # A leading "/" makes Sphinx resolve the image relative to the source folder, whatever the page.
    figure += nodes.image(uri=f"/{GENERATED}/{path.name}", alt=f"autograd graph: {label}")
    figure += nodes.caption(caption, caption)
    return [figure]


def _render_svg(app: Sphinx, slug: str, report: Any) -> Path | None:
    """The SVG drawn by ``dot``; None (and a logged error) when ``dot`` fails on it."""
    out_dir = Path(app.srcdir) / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = render(report, out_dir / f"{slug}.svg", title=None)
    except (OSError, subprocess.CalledProcessError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        logger.error(
            "graph picture %s: dot failed: %s %s", slug, exc, stderr.decode(errors="replace")
        )
        return None
    # render() falls back to a .txt file when dot vanished in between: show the text instead.
    return path if path.suffix == ".svg" else None
