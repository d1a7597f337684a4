"""``{run-output} examples/broken/SCRIPT.py``: the script, then what ``rnn-autograd run`` printed.

The script is shown with its line numbers (the diagnosis names them), then it is run now,
in-process (``rnn_autograd.cli.main(["run", PATH])``) from the checkout's root, and its output
is shown under the command line. Two things are folded for reading, and the page says so: the
traceback's consecutive frames inside torch become one line, and paths below the checkout are
shown relative to it. The exit status must be ``:returncode:`` (default 1: these scripts fail on
purpose), or the build fails naming the page.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnn_autograd.spec import isolated

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
_FRAME = re.compile(r'^  File "([^"]+)", line \d+, in ')


def fold_torch_frames(text: str) -> str:
    """Each run of traceback frames inside torch (a ``File`` line and its code lines) -> one line."""
    out: list[str] = []
    folded = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        frame = _FRAME.match(lines[i])
        if frame and "/torch/" in frame.group(1):
            folded += 1
            i += 1
            while i < len(lines) and lines[i].startswith("    "):  # its code and ^^^ lines
                i += 1
            continue
        if folded:
            out.append(f"  [{folded} frame{'s' if folded > 1 else ''} inside torch]")
            folded = 0
        out.append(lines[i])
        i += 1
    return "\n".join(out)


class RunOutput(SphinxDirective):
    """A broken script, and ``rnn-autograd run`` on it, run now."""

    required_arguments = 1
    option_spec = {"returncode": int}

    def run(self) -> list[nodes.Node]:
        from rnn_autograd.cli import main

        script = self.arguments[0]
        source = (ROOT / script).read_text()
        self.env.note_dependency(str(ROOT / script))
        out = io.StringIO()
        here = os.getcwd()
        os.chdir(ROOT)  # the paths it prints are relative to the current directory
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), isolated():
                code = main(["run", script])
        finally:
            os.chdir(here)
        expected = self.options.get("returncode", 1)
        if code != expected:
            logger.error(
                "page %r: `rnn-autograd run %s` exited %s, expected %s:\n%s",
                self.env.docname,
                script,
                code,
                expected,
                out.getvalue(),
                location=self.get_location(),
            )
        text = fold_torch_frames(out.getvalue().rstrip().replace(f"{ROOT}{os.sep}", ""))
        shown_source = nodes.literal_block(source, source, language="python")
        shown_source["linenos"] = True
        shown_source["source"] = script
        caption = nodes.paragraph("", "")
        caption += nodes.literal(script, script)
        shown = f"$ rnn-autograd run {script}\n{text}"
        result = nodes.literal_block(shown, shown, language="none")
        result["classes"].append("live-output")
        return [caption, shown_source, result]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("run-output", RunOutput)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
