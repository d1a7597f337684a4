"""Directives that run code at build time and show what it printed, so no output is typed by hand.

- ``{command-output} explain --limit 2 "Trying to backward ..."`` runs ``rnn-autograd`` with those
  arguments in-process (``rnn_autograd.cli.main``) and shows the command and its output. The exit
  status must be ``:returncode:`` (default 0), or the build fails naming the page.
- ``{python-output}`` runs its content (Python) in a fresh namespace and shows the code, then what
  it printed. An exception escaping it fails the build naming the page.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import traceback
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnn_autograd.spec import isolated

logger = logging.getLogger(__name__)


class CommandOutput(SphinxDirective):
    """``rnn-autograd ARGS`` run now; its output shown under the command line."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"returncode": int, "lines": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        from rnn_autograd.cli import main

        args = shlex.split(self.arguments[0])
        # explain keeps the cases' observed messages in a cache file; a docs build writes none.
        os.environ.setdefault("RNN_AUTOGRAD_CACHE", "off")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), isolated():
            try:
                code = main(args)
            except SystemExit as exc:  # argparse's own exits (bad arguments, --help)
                code = exc.code if isinstance(exc.code, int) else 1
        expected = self.options.get("returncode", 0)
        if code != expected:
            logger.error(
                "page %r: `rnn-autograd %s` exited %s, expected %s:\n%s",
                self.env.docname,
                self.arguments[0],
                code,
                expected,
                out.getvalue(),
                location=self.get_location(),
            )
        text = out.getvalue().rstrip()
        limit = self.options.get("lines")
        if limit and text.count("\n") >= limit:
            text = "\n".join(text.splitlines()[:limit] + ["..."])
        shown = f"$ rnn-autograd {self.arguments[0]}\n{text}"
        return [nodes.literal_block(shown, shown, language="console")]


class PythonOutput(SphinxDirective):
    """Python code run now, shown with what it printed."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        out = io.StringIO()
        namespace: dict[str, Any] = {"__name__": f"docs_{self.env.docname.replace('/', '_')}"}
        with contextlib.redirect_stdout(out), isolated():
            try:
                exec(compile(code, f"<{self.env.docname}:{self.lineno}>", "exec"), namespace)
            except Exception:
                logger.error(
                    "page %r: the example raised:\n%s",
                    self.env.docname,
                    traceback.format_exc(),
                    location=self.get_location(),
                )
        shown = nodes.literal_block(code, code, language="python")
        printed = out.getvalue().rstrip() or "(printed nothing)"
        result = nodes.literal_block(printed, printed, language="none")
        result["classes"].append("live-output")
        return [shown, nodes.paragraph("", "Output, when this page was built:"), result]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("command-output", CommandOutput)
    app.add_directive("python-output", PythonOutput)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
