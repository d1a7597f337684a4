"""Pictures of the autograd graphs a case recorded with ``snapshot``, for the ``{case}`` directive.

Each snapshot becomes an SVG drawn by Graphviz ``dot`` at build time from the report's DOT
source (``GraphReport.to_dot``) and shown as an image with the snapshot's label as caption.
Where ``dot`` is not installed the same graph is shown as the inspector's text tree in a literal
block: a readable picture, never a broken image.

``dot`` needs a second or two for the graph of an RNN window, so each picture is drawn by a
``dot`` process started when the directive runs; the build goes on parsing meanwhile, and the
processes of a page are waited for when the page has been read (``doctree-read``, before
Sphinx's image collector looks for the files). A ``dot`` that fails is a build error, and its
figure is replaced by the text tree.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

GENERATED = "_generated/graphs"
LARGE_GRAPH = 40  # nodes
# Before Sphinx's image collector (priority 500), which needs the SVG files to exist.
_BEFORE_IMAGE_COLLECTOR = 400

logger = logging.getLogger(__name__)


def has_graphviz() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


@dataclass
class _DotJob:
    docname: str
    process: subprocess.Popen
    svg: Path
    figure: nodes.figure
    fallback: list[nodes.Node]


def _jobs(app: Any) -> list[_DotJob]:
    return app.__dict__.setdefault("_rnn_dot_jobs", [])


def graph_nodes(
    app: Any, slug: str, label: str, report: Any, docname: str = ""
) -> list[nodes.Node]:
    """A figure (SVG drawn by ``dot``) or, without ``dot``, a captioned text tree."""
    caption = f"The autograd graph {label}" if not label[:1].isupper() else label
    fallback = _text_nodes(caption, report)
    if not has_graphviz():
        return fallback
    out_dir = Path(app.srcdir) / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    source, svg = out_dir / f"{slug}.dot", out_dir / f"{slug}.svg"
    source.write_text(report.to_dot(), encoding="utf-8")
    # The graph of an RNN window fans out (a StackBackward0 with one input per time step): with
    # curved edges and full rank optimisation dot takes seconds on it; straight edges and one
    # network-simplex pass draw it in a tenth of a second, and read as well.
    quick = ["-Gsplines=line", "-Gnslimit=1"] if len(report.nodes) > LARGE_GRAPH else []
    process = subprocess.Popen(
        [shutil.which("dot") or "dot", "-Tsvg", *quick, "-o", str(svg), str(source)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    figure = nodes.figure(classes=["case-graph"])
    # A leading "/" makes Sphinx resolve the image relative to the source folder, whatever the page.
    figure += nodes.image(uri=f"/{GENERATED}/{svg.name}", alt=f"autograd graph: {label}")
    figure += nodes.caption(caption, caption)
    _jobs(app).append(_DotJob(docname, process, svg, figure, fallback))
    return [figure]


def _text_nodes(caption: str, report: Any) -> list[nodes.Node]:
    block = nodes.literal_block("", report.to_text(), language="none")
    block["classes"].append("case-graph-text")
    container = nodes.container(classes=["case-graph"])
    container += nodes.paragraph(
        "", f"{caption} (as text: the Graphviz program dot is not available)"
    )
    container += block
    return [container]


def wait_for_pictures(app: Sphinx, doctree: nodes.document) -> None:
    """Wait for the ``dot`` processes of the page just read; a failure becomes the text tree."""
    docname = app.env.docname
    jobs = _jobs(app)
    for job in [j for j in jobs if j.docname == docname]:
        jobs.remove(job)
        _, err = job.process.communicate()
        if job.process.returncode == 0 and job.svg.exists():
            continue
        logger.error(
            "page %r: dot failed on %s (exit %s): %s",
            docname,
            job.svg.name,
            job.process.returncode,
            err.decode(errors="replace").strip(),
        )
        job.figure.replace_self(job.fallback)


def _reap(app: Sphinx, exception: BaseException | None) -> None:
    # Processes of a page whose reading was cut short: leave no dot running after the build.
    for job in _jobs(app):
        job.process.kill()
        job.process.communicate()
    _jobs(app).clear()


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", wait_for_pictures, priority=_BEFORE_IMAGE_COLLECTOR)
    app.connect("build-finished", _reap)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
