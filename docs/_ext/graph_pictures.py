"""Pictures of the autograd graphs a case recorded with ``snapshot``, for the ``{case}`` directive.

Each snapshot becomes an SVG drawn by Graphviz ``dot`` at build time from the report's DOT
source (``GraphReport.to_dot``) and shown as an image with the snapshot's label as caption. A
large graph (an RNN window: nearly 200 nodes) is drawn folded, alike nodes once with "× N"
(``rnn_autograd.diagnose.graph_fold``), so its labels stay readable; a graph that holds an
earlier batch's nodes frames each batch's (``rnn_autograd.diagnose.graph_batches``) and says so
in the caption; every picture links to the
full graph drawn unfolded, and the inspector's text tree follows in a folded ``<details>`` block.
Where ``dot`` is not installed the same graph is shown as the inspector's text tree in a literal
block: a readable picture, never a broken image.

``dot`` needs a second or two for the graph of an RNN window, so each picture is drawn by a
``dot`` process started when the directive runs; the build goes on parsing meanwhile, and the
processes of a page are waited for when the page has been read (``doctree-read``, before
Sphinx's image collector looks for the files). A ``dot`` that fails is a build error, and its
figure is replaced by the text tree.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from site_words import say
from sphinx.application import Sphinx
from sphinx.util import logging

from rnn_autograd.diagnose.graph_picture import FOLD_ABOVE, report_to_dot

GENERATED = "_generated/graphs"
# Copied as they are into the site's root (conf.py: html_extra_path): files pages link to.
EXTRA = "_generated/site"
FULL = "graphs"  # the full-size pictures, under EXTRA and so under the site's root
FULL_LIMIT = 400  # nodes in a full-size picture and its text tree
COLUMN_PX = 720  # furo's content column at a laptop's 1280 px, less a margin
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
    figure: nodes.figure | None  # the figure showing this SVG; None for the linked full size
    fallback: list[nodes.Node]


def _jobs(app: Any) -> list[_DotJob]:
    return app.__dict__.setdefault("_rnn_dot_jobs", [])


def graph_nodes(
    app: Any, slug: str, label: str, report: Any, docname: str = ""
) -> list[nodes.Node]:
    """A figure (SVG drawn by ``dot``) or, without ``dot``, a captioned text tree.

    A graph of more than ``FOLD_ABOVE`` nodes is drawn folded (alike nodes once, "× N"); every
    picture links to the full graph, unfolded, and the text tree follows in a folded block.
    """
    caption = say("The autograd graph {label}", label=label) if not label[:1].isupper() else label
    if not has_graphviz():
        return _text_nodes(caption, report)
    out_dir = Path(app.srcdir) / GENERATED
    out_dir.mkdir(parents=True, exist_ok=True)
    full_dir = Path(app.srcdir) / EXTRA / FULL
    full_dir.mkdir(parents=True, exist_ok=True)
    source, svg = out_dir / f"{slug}.dot", out_dir / f"{slug}.svg"
    source.write_text(report.to_dot(), encoding="utf-8")
    folded = len(report.nodes) > FOLD_ABOVE
    full_source, full_svg = out_dir / f"{slug}-full.dot", full_dir / f"{slug}.svg"
    full_source.write_text(report_to_dot(report, max_nodes=FULL_LIMIT, fold=False), "utf-8")
    # The graph of an RNN window fans out (a StackBackward0 with one input per time step): with
    # curved edges and full rank optimisation dot takes seconds on it; straight edges and one
    # network-simplex pass draw it in a tenth of a second, and read as well.
    quick = ["-Gsplines=line", "-Gnslimit=1"]
    figure = nodes.figure(classes=["case-graph"])
    up = "../" * docname.count("/")
    link = nodes.reference("", "", refuri=f"{up}{FULL}/{full_svg.name}", classes=["graph-full"])
    # A leading "/" makes Sphinx resolve the image relative to the source folder, whatever the page.
    link += nodes.image(uri=f"/{GENERATED}/{svg.name}", alt=f"autograd graph: {label}")
    figure += link
    what = say("folded: a box marked × N stands for N alike nodes") if folded else ""
    if getattr(report, "carried", None):  # a graph that spans batches (graph_batches)
        frames = say("a frame per batch: blue, what an earlier batch made, carried in")
        what = f"{what}; {frames}" if what else frames
    figure += nodes.caption(caption, caption + (f" ({what})" if what else ""))
    more = nodes.paragraph(classes=["graph-links"])
    more += nodes.reference("", say("full-size picture"), refuri=f"{up}{FULL}/{full_svg.name}")
    count = len(report.nodes)
    more += nodes.Text(
        say(" ({count} nodes, every one drawn)", count=count) if folded else say(" (opens the SVG)")
    )
    figure += more
    jobs = _jobs(app)
    big = quick if folded else []
    for src, out, args in ((source, svg, []), (full_source, full_svg, big)):
        process = subprocess.Popen(
            [shutil.which("dot") or "dot", "-Tsvg", *args, "-o", str(out), str(src)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        image = figure if out == svg else None
        jobs.append(_DotJob(docname, process, out, image, _text_nodes(caption, report)))
    shown = [figure, *_text_tree(report)]
    if folded and not report.will_fail:
        # A large graph that backward can run is context, not the point: folded away, so the
        # picture of the graph that fails is the one the page shows.
        summary = say(
            "Picture: {caption} ({count} nodes, backward can run)", caption=caption, count=count
        )
        head = f'<details class="graph-context"><summary>{html.escape(summary)}</summary>'
        return [
            nodes.raw("", head, format="html"),
            *shown,
            nodes.raw("", "</details>", format="html"),
        ]
    return shown


def _text_tree(report: Any) -> list[nodes.Node]:
    """The inspector's text tree, every node, in a block the reader opens when wanted."""
    block = nodes.literal_block("", report.to_text(max_nodes=FULL_LIMIT), language="none")
    block["classes"].append("case-graph-text")
    summary = html.escape(say("The same graph as text ({summary})", summary=report.summary()))
    head = f'<details class="graph-text"><summary>{summary}'
    return [
        nodes.raw("", f"{head}</summary>", format="html"),
        block,
        nodes.raw("", "</details>", format="html"),
    ]


def _text_nodes(caption: str, report: Any) -> list[nodes.Node]:
    block = nodes.literal_block("", report.to_text(max_nodes=FULL_LIMIT), language="none")
    block["classes"].append("case-graph-text")
    container = nodes.container(classes=["case-graph"])
    container += nodes.paragraph(
        "", f"{caption} (as text: the Graphviz program dot is not available)"
    )
    container += block
    return [container]


_SVG_WIDTH = re.compile(rb'<svg[^>]*\swidth="([0-9.]+)pt"')


def _shown_width(svg: Path) -> str | None:
    """The width to show a picture at: natural size times 3/4, or less to fit the column.

    Shrunk to the column, a wide graph's labels become a few pixels high: a picture is never
    shown below 3/5 of its natural width; a wider one scrolls sideways in its figure
    (``cases.css``) and links to its full size. (An SVG's natural width in CSS pixels is its
    width in points times 4/3.)
    """
    match = _SVG_WIDTH.search(svg.read_bytes()[:2000])
    if not match:
        return None
    natural = float(match.group(1)) * 4 / 3
    return f"{min(0.75 * natural, max(0.6 * natural, COLUMN_PX)):.0f}px"


def wait_for_pictures(app: Sphinx, doctree: nodes.document) -> None:
    """Wait for the ``dot`` processes of the page just read; a failure becomes the text tree."""
    docname = app.env.docname
    jobs = _jobs(app)
    for job in [j for j in jobs if j.docname == docname]:
        jobs.remove(job)
        _, err = job.process.communicate()
        if job.process.returncode == 0 and job.svg.exists():
            if job.figure is not None:
                width = _shown_width(job.svg)
                for image in job.figure.findall(nodes.image):
                    if width:
                        image["width"] = width
            continue
        logger.error(
            "page %r: dot failed on %s (exit %s): %s",
            docname,
            job.svg.name,
            job.process.returncode,
            err.decode(errors="replace").strip(),
        )
        if job.figure is not None:
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
