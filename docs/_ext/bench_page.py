"""``{bench-report}``: the strategy benchmark run at build time, its report put on the page.

The directive runs ``rnn_autograd.bench.run_bench`` with a preset (``docs`` by default: the
``tiny`` sizes, the learning sections over several seeds and the cost over several repeats, so
that the report can test its differences), writes the report and charts with
``rnn_autograd.bench.report.write_report`` and ``results.json`` with ``write_results`` into
``_generated/bench/``, and parses the report (MyST markdown) into the page, its headings
becoming sections, its charts images. The report states the machine and the torch version it
ran on; every figure on the page is the run's own.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

GENERATED = "_generated/bench"
logger = logging.getLogger(__name__)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)/]+\.png)\)")


def report_markdown(report: str, image_dir: str) -> str:
    """The report with its title dropped (the page has one) and chart links made relative to
    the docs' source folder."""
    lines = report.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines)
    return _IMAGE.sub(lambda m: f"![{m.group(1)}](/{image_dir}/{m.group(2)})", text)


class BenchReport(SphinxDirective):
    """Run the benchmark with a preset and render its report."""

    option_spec = {"preset": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from rnn_autograd.bench import preset, run_bench, write_results
        from rnn_autograd.bench.report import write_report

        config = preset(self.options.get("preset", "docs"), quiet=True)
        out_dir = Path(self.env.app.srcdir) / GENERATED
        try:
            results = run_bench(config)
            write_results(results, out_dir)
            paths = write_report(results, out_dir)
        except Exception:
            logger.error(
                "page %r: the benchmark (preset %r) failed:\n%s",
                self.env.docname,
                config.preset,
                traceback.format_exc(),
                location=self.get_location(),
            )
            return []
        report = paths["report.md"].read_text(encoding="utf-8")
        container = nodes.section()
        self.state.nested_parse(
            StringList(report_markdown(report, GENERATED).splitlines(), source="bench report"),
            0,
            container,
            match_titles=True,
        )
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("bench-report", BenchReport)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
