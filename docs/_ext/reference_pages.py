"""Directives that generate reference pages from the code, so they never drift from it.

- ``{cli-reference}``: the ``--help`` of ``rnn-autograd`` and of each subcommand, taken from
  ``rnn_autograd.cli.build_parser()`` at build time.
- ``{api-reference} PAGE``: autodoc of one page of the API reference (``docs/api/``): ``public``,
  the public surface (``rnn_autograd.__all__``, and ``rnn_autograd.errors``), or one part of the
  package (``diagnose``, ``pipeline``, ``bench``, ``spec``): its docstring first, then each of its
  modules without the names already documented on the public surface (documenting an object twice
  is a Sphinx warning).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# The parts of the package, in reading order (what users call first, the machinery last), each
# with its modules; the part's own docstring opens its section. Modules absent are left out.
API_PARTS = (
    (
        "rnn_autograd.diagnose",
        "Tools for your own errors",
        (
            ("rnn_autograd.diagnose.context", "Diagnosing a training loop"),
            ("rnn_autograd.diagnose.recording", "Recording where backward broke"),
            ("rnn_autograd.diagnose.locations", "Lines of your code"),
            ("rnn_autograd.diagnose.explain", "Explaining an autograd error"),
            ("rnn_autograd.diagnose.error_text", "Reading errors and warnings out of text"),
            ("rnn_autograd.diagnose.error_features", "What tells errors with one message apart"),
            ("rnn_autograd.diagnose.code_signals", "What the code around an error does"),
            ("rnn_autograd.diagnose.match_scores", "How well a case fits an error"),
            ("rnn_autograd.diagnose.inspector", "Inspecting a graph before backward"),
            ("rnn_autograd.diagnose.saved_tensors", "Reading saved tensors and their versions"),
            ("rnn_autograd.diagnose.graph_picture", "Pictures of a graph"),
            ("rnn_autograd.diagnose.graph_batches", "The batch boundary in a graph"),
            ("rnn_autograd.diagnose.memory", "Autograd memory"),
        ),
    ),
    (
        "rnn_autograd.pipeline",
        "The RNN pipeline",
        (
            ("rnn_autograd.pipeline.data", "Data"),
            ("rnn_autograd.pipeline.corpus", "Character corpora"),
            ("rnn_autograd.pipeline.model", "Model"),
            ("rnn_autograd.pipeline.fused_rnn", "The fused tanh RNN"),
            ("rnn_autograd.pipeline.state", "Hidden-state strategies"),
            ("rnn_autograd.pipeline.training", "Training"),
            ("rnn_autograd.pipeline.metrics", "Metrics"),
            ("rnn_autograd.pipeline.prediction", "Prediction"),
            ("rnn_autograd.pipeline.checkpoint", "Checkpoints"),
            ("rnn_autograd.pipeline.device", "Devices"),
        ),
    ),
    (
        "rnn_autograd.bench",
        "The strategy benchmark",
        (
            ("rnn_autograd.bench.config", "Configuration and presets"),
            ("rnn_autograd.bench.run", "Running it"),
            ("rnn_autograd.bench.tasks", "Synthetic tasks"),
            ("rnn_autograd.bench.limits", "What the synthetic data allows"),
            ("rnn_autograd.bench.report", "The benchmark's report"),
        ),
    ),
    (
        "rnn_autograd.spec",
        "The case machinery",
        (
            ("rnn_autograd.spec.outcome", "Declared outcomes"),
            ("rnn_autograd.spec.case", "Cases and the registry"),
            ("rnn_autograd.spec.run", "Running and checking"),
            ("rnn_autograd.spec.probe", "Graph snapshots"),
            ("rnn_autograd.spec.report", "Verdicts as JSON and JUnit XML"),
            ("rnn_autograd.spec.torch_private", "Private torch APIs, guarded"),
        ),
    ),
    ("rnn_autograd.errors", "Errors", ()),
)


def existing_api_modules() -> list[tuple[str, str]]:
    """Every part and module of ``API_PARTS`` present in this checkout, in reading order."""
    out = []
    for part, title, modules in API_PARTS:
        out += [(m, t) for m, t in [(part, title), *modules] if importlib.util.find_spec(m)]
    return out


HELP_COLUMNS = "88"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    # argparse wraps to the terminal's width: fix it so the page is the same on every machine.
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class CliReference(SphinxDirective):
    """One section per subcommand with its ``--help``, from the live parser."""

    def run(self) -> list[nodes.Node]:
        from rnn_autograd.cli import build_parser

        parser = build_parser()
        out: list[nodes.Node] = [nodes.literal_block("", _help(parser), language="none")]
        for name, sub in _subparsers(parser).items():  # the order of --help
            section = nodes.section(ids=[nodes.make_id(f"cli-{name}")], names=[f"cli-{name}"])
            title = f"rnn-autograd {name}"
            section += nodes.title(title, "", nodes.literal(title, title))
            self.state.document.note_explicit_target(section, section)
            if sub.description:
                section += nodes.paragraph(sub.description, sub.description)
            section += nodes.literal_block("", _help(sub), language="none")
            out.append(section)
        return out


# The API reference, one page per part under docs/api/: the public surface first (what users
# call, with ``rnn_autograd.errors``), then each part of ``API_PARTS`` ("diagnose", "pipeline",
# ...). Each page is ``{api-reference} NAME``.
API_PUBLIC = "public"


def api_page_names() -> list[str]:
    """The API pages in reading order: ``public``, then each part present in this checkout."""
    parts = [p for p, _, mods in API_PARTS if mods and importlib.util.find_spec(p)]
    return [API_PUBLIC, *(p.rsplit(".", 1)[1] for p in parts)]


def api_plan(page: str) -> list[tuple[str | None, str, list[str] | None]]:
    """What the API page ``page`` documents: ``(heading, module, members)`` per ``automodule``,
    the heading ``None`` for the page's own module (its docstring opens the page). Each object is
    documented on one page only: the names of the public surface are left out of the modules
    that define them (documenting an object twice is a Sphinx warning)."""
    import rnn_autograd

    public = [n for n in _exported() if n not in _shadowing()]
    documented = {id(getattr(rnn_autograd, n)) for n in public}
    if page == API_PUBLIC:
        plan: list[tuple[str | None, str, list[str] | None]] = [(None, "rnn_autograd", public)]
        for part, title, modules in API_PARTS:
            if not modules and importlib.util.find_spec(part):  # errors: a module, no part
                plan.append((title, part, _own(part, documented)))
        return plan
    for part, _title, modules in API_PARTS:
        if modules and part.rsplit(".", 1)[1] == page:
            # The part's docstring: what it is for and what it may import. Its re-exports are
            # documented with the module that defines them.
            plan = [(None, part, [])]
            plan += [
                (heading, module, _own(module, documented))
                for module, heading in modules
                if importlib.util.find_spec(module)
            ]
            return plan
    raise ValueError(f"no API page {page!r}; expected one of {', '.join(api_page_names())}")


def _exported() -> list[str]:
    import rnn_autograd

    return [n for n in rnn_autograd.__all__ if not n.startswith("_")]


def _shadowing() -> list[str]:
    """Public names that are also a module's name (``rnn_autograd.diagnose`` the callable and the
    package): documented with the module that defines them, not on the public surface."""
    return [n for n in _exported() if importlib.util.find_spec(f"rnn_autograd.{n}")]


class ApiReference(SphinxDirective):
    """Autodoc of one API page: the public surface, or one part of the package and its modules."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        page = self.arguments[0]
        try:
            plan = api_plan(page)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        lines: list[str] = []
        if page == API_PUBLIC and _shadowing():
            names = ", ".join(f"{{py:obj}}`rnn_autograd.{n}`" for n in _shadowing())
            lines += [f"Also exported, and documented with its part: {names}.", ""]
        for heading, module, members in plan:
            if heading is not None:
                lines += [f"## {heading}: `{module}`", ""]
            lines += _automodule(module, members)
        container = nodes.section()
        self.state.nested_parse(
            StringList(lines, source=f"api-reference {page}"), 0, container, match_titles=True
        )
        return list(container.children)


def _own(module: str, documented: set[int]) -> list[str] | None:
    """The names ``module`` defines that the public surface did not document already."""
    mod = importlib.import_module(module)
    if not hasattr(mod, "__all__"):
        return None
    return [n for n in mod.__all__ if id(getattr(mod, n, None)) not in documented]


def _automodule(module: str, members: list[str] | None) -> list[str]:
    """An ``automodule`` in an ``eval-rst`` block: autodoc writes reStructuredText, which the
    MyST parser of these pages would otherwise show as plain text. ``members=None``: all."""
    lines = ["```{eval-rst}", f".. automodule:: {module}"]
    if members is None:
        lines.append("   :members:")
    elif members:
        lines.append("   :members: " + ", ".join(members))
    # An empty list documents the module's docstring only: an empty ":members:" would mean all.
    return [*lines, "```", ""]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli-reference", CliReference)
    app.add_directive("api-reference", ApiReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
