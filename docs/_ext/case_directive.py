"""The ``{case}`` directive: a case run at build time, rendered with its live outcome and its why.

```` ```{case} graph/backward-through-freed-graph ```` runs the case through
``rnn_autograd.spec.check`` (the comparison pytest and the CLI use) and renders, always in this
order, in a section whose anchor is the case id: a one-sentence summary, what you might expect,
what happens (the code as a script one can run, what it did in plain words with the declaration
and verdict folded, and the graph pictures), why (the rest of the case's own docstring, parsed
as MyST), do this instead (the fix case, run live, as a diff against the case's code) and see
also. The parts showing code and outcomes are in ``case_parts``. A mismatch between declaration and observation is logged as an error naming the page and
the case, so ``sphinx-build -W`` fails.

Lighter references that do not render a case a second time:

- the role ``{case-ref}`graph/backward-through-freed-graph``` (or ``{case-ref}`text <id>```)
  links to the case's entry;
- the directive ``{case-outcome} <id>`` shows the question as a link plus the live outcome line.

With ``rnn_cases_require_all = True`` in ``conf.py`` every registered case must be rendered by
exactly one ``{case}`` directive; a case rendered twice is an error wherever it happens.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch
from case_parts import code_nodes, diff_nodes, outcome_nodes, plain_outcome
from compat_matrix import checked_on_paragraph
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from graph_pictures import graph_nodes
from site_words import say, set_language
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnn_autograd.diagnose import graph_at
from rnn_autograd.spec import Case, CaseLookupError, Raises, Verdict, all_cases, check, get_case

logger = logging.getLogger(__name__)

_URL = re.compile(r"^https?://")


def case_anchor(case_id: str) -> str:
    """The HTML id of a case's section: ``graph/backward-twice`` -> ``graph-backward-twice``."""
    return nodes.make_id(case_id)


def verdict_of(app: Sphinx, case: Case) -> Verdict:
    """``check(case)``, once per build: a case and its fix are rendered in several places."""
    cache: dict[str, Verdict] = app.__dict__.setdefault("_rnn_case_verdicts", {})
    if case.id not in cache:
        # With graph_at, each snapshot() in the case records its graph for the page's pictures.
        cache[case.id] = check(case, inspect=graph_at)
    return cache[case.id]


class _CaseDirectiveBase(SphinxDirective):
    required_arguments = 1
    has_content = False

    def lookup(self) -> Case | None:
        try:
            return get_case(self.arguments[0].strip())
        except CaseLookupError as exc:
            logger.error(
                "page %r names a case that does not exist: %s",
                self.env.docname,
                exc,
                location=self.get_location(),
            )
            return None

    def verdict(self, case: Case, role: str = "") -> Verdict:
        verdict = verdict_of(self.env.app, case)
        if not verdict.ok:
            what = f"{role} {case.id!r}" if role else f"case {case.id!r}"
            logger.error(
                "MISMATCH on page %r, %s: declared %s, observed %s:\n%s",
                self.env.docname,
                what,
                verdict.declared.describe(),
                verdict.observation.describe(),
                "\n".join(f"  - {m}" for m in verdict.mismatches),
                location=self.get_location(),
            )
        return verdict

    def parse_myst(self, text: str, parent: nodes.Element) -> None:
        """Parse ``text`` (a case's own MyST markdown) into ``parent``.

        On a MyST page ``self.state`` is myst-parser's ``MockState``, whose ``nested_parse``
        renders MyST, so the explanation is parsed by the same parser and config as the page.
        """
        from myst_parser.mocking import MockState

        if not isinstance(self.state, MockState):
            raise self.severe(
                f"{self.name} renders MyST markdown; use it on a MyST (.md) page, not in "
                f"{self.env.doc2path(self.env.docname)}"
            )
        self.state.nested_parse(
            StringList(text.splitlines(), source=self.get_source_info()[0]), 0, parent
        )

    def link(self, case_id: str, content: nodes.Node, warn: bool = False) -> nodes.Node:
        """A link to ``case_id``'s entry. Links made from a case's relations do not warn when
        the project does not render the target (a partial project); the site itself renders
        every case (``rnn_cases_require_all``), so there they always resolve."""
        return pending_xref(
            "",
            content,
            refdomain="std",
            reftype="ref",
            reftarget=case_id,
            refexplicit=True,
            refwarn=warn,
            refdoc=self.env.docname,
        )


class CaseDirective(_CaseDirectiveBase):
    """Render one case in full, under a section anchored by its id."""

    option_spec = {"class": directives.class_option}

    def run(self) -> list[nodes.Node]:
        case = self.lookup()
        if case is None:
            return []
        self._note_place(case)
        verdict = self.verdict(case)

        section = nodes.section(ids=[case_anchor(case.id)], names=[case.id], classes=["case"])
        section += nodes.title(case.question, case.question)
        self.state.document.note_explicit_target(section, section)

        id_line = nodes.paragraph(classes=["case-id"])
        id_line += nodes.literal(case.id, case.id)
        id_line += nodes.Text(
            say(
                "  ·  {label} on torch {version}  ·  run it: ",
                label=verdict.label,
                version=torch.__version__,
            )
        )
        command = f"rnn-autograd show {case.id}"
        id_line += nodes.literal(command, command)
        section += id_line
        # The releases of docs/compat/, linked to the matrix where this project has that page.
        checked = checked_on_paragraph(case.id, link="compat" in self.env.found_docs)
        if checked is not None:
            section += checked

        summary = nodes.container(classes=["case-summary"])
        self.parse_myst(case.summary, summary)
        section += summary

        if case.expect:
            # A fix case may have no surprise to state; the part is shown where there is one.
            section += self._part("What you might expect", "expect")
            self.parse_myst(case.expect, section[-1])

        happens = self._part("What happens", "happens")
        happens += code_nodes(case)
        happens += outcome_nodes(verdict)
        for i, (label, report) in enumerate(verdict.observation.graphs):
            slug = f"{case_anchor(case.id)}-{i}"
            happens += graph_nodes(self.env.app, slug, label, report, self.env.docname)
        section += happens

        why = self._part("Why", "why")
        self.parse_myst(_explanation_body(case), why)
        section += why

        if case.fix:
            section += self._fix_part(case)
        elif isinstance(verdict.declared, Raises):
            logger.error(
                "page %r, case %r fails on purpose but names no fix case",
                self.env.docname,
                case.id,
                location=self.get_location(),
            )

        links = self._see_also(case)
        if links is not None:
            section += links
        return [section]

    def _note_place(self, case: Case) -> None:
        places: dict[str, str] = self.env.__dict__.setdefault("rnn_case_places", {})
        if case.id in places and places[case.id] != self.env.docname:
            logger.error(
                "case %r is rendered on page %r and again on page %r; render it once and "
                "link to it with {case-ref} or {case-outcome}",
                case.id,
                places[case.id],
                self.env.docname,
                location=self.get_location(),
            )
        places[case.id] = self.env.docname

    def _part(self, title: str, cls: str) -> nodes.container:
        part = nodes.container(classes=["case-part", f"case-{cls}"])
        part += nodes.rubric(title, title)
        return part

    def _fix_part(self, case: Case) -> nodes.Element:
        part = self._part("Do this instead", "fix")
        try:
            fix = get_case(case.fix)
        except CaseLookupError as exc:
            logger.error(
                "page %r, case %r names a fix that does not exist: %s",
                self.env.docname,
                case.id,
                exc,
                location=self.get_location(),
            )
            return part
        fix_verdict = self.verdict(fix, role=f"fix of {case.id!r},")
        intro = nodes.paragraph()
        intro += self.link(fix.id, nodes.literal(fix.id, fix.id))
        intro += nodes.Text(f": {fix.question}" + say(" The change to the code above:"))
        part += intro
        part += diff_nodes(case, fix, fix_verdict)
        return part

    def _see_also(self, case: Case) -> nodes.Element | None:
        fixed_by_this = [c.id for c in all_cases() if c.fix == case.id]
        if not case.see_also and not fixed_by_this:
            return None
        part = self._part("See also", "see-also")
        items = nodes.bullet_list()
        for target in case.see_also:
            para = nodes.paragraph()
            if _URL.match(target):
                para += nodes.reference(target, target, refuri=target)
            else:
                try:
                    other = get_case(target)
                except CaseLookupError as exc:
                    logger.error(
                        "page %r, case %r: see_also names %s",
                        self.env.docname,
                        case.id,
                        exc,
                        location=self.get_location(),
                    )
                    continue
                para += self.link(other.id, nodes.literal(other.id, other.id))
                para += nodes.Text(f": {other.question}")
            items += nodes.list_item("", para)
        for other_id in fixed_by_this:
            para = nodes.paragraph()
            para += nodes.Text("This is the fix for ")
            para += self.link(other_id, nodes.literal(other_id, other_id))
            items += nodes.list_item("", para)
        part += items
        return part


def _explanation_body(case: Case) -> str:
    """The explanation after its first paragraph (which is rendered as the summary)."""
    parts = case.explanation.strip().split("\n\n", 1)
    return parts[1] if len(parts) > 1 else parts[0]


class CaseOutcomeDirective(_CaseDirectiveBase):
    """A linked question and the live outcome of a case rendered in full elsewhere."""

    def run(self) -> list[nodes.Node]:
        case = self.lookup()
        if case is None:
            return []
        verdict = self.verdict(case)
        box = nodes.container(classes=["case-outcome-ref"])
        head = nodes.paragraph()
        head += self.link(case.id, nodes.strong(case.question, case.question), warn=True)
        head += nodes.Text(" (")
        head += nodes.literal(case.id, case.id)
        head += nodes.Text(")")
        box += head
        # What happened in plain words, as on the case's own entry (a mismatch fails the build).
        lead, text = plain_outcome(verdict)
        box += nodes.paragraph("", lead, classes=["case-plain-outcome"])
        if text:
            box += nodes.literal_block("", text, language="none", classes=["case-outcome"])
        return [box]


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    places: dict[str, str] = env.__dict__.setdefault("rnn_case_places", {})
    for case_id in [c for c, d in places.items() if d == docname]:
        del places[case_id]


def _require_all(app: Sphinx, env: BuildEnvironment) -> None:
    if not app.config.rnn_cases_require_all:
        return
    places: dict[str, str] = env.__dict__.get("rnn_case_places", {})
    for case in all_cases():
        if case.id not in places:
            logger.error(
                "case %r is registered but no page renders it: add ```{case} %s``` to "
                "docs/cases/%s.md or, where that family is split, to one of its sub-pages "
                "docs/cases/%s/*.md (python docs/_ext/sync_case_pages.py adds every missing "
                "one and says where)",
                case.id,
                case.id,
                case.family,
                case.family,
            )


def _fresh_generated(app: Sphinx) -> None:
    # Generated pictures are build outputs: start from an empty folder so none is stale.
    generated = Path(app.srcdir) / "_generated"
    shutil.rmtree(generated, ignore_errors=True)
    generated.mkdir(parents=True)
    (generated / "site").mkdir()  # html_extra_path: copied into the site's root
    app.__dict__["_rnn_case_verdicts"] = {}
    set_language(app.config.language)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("graph_pictures")
    app.setup_extension("case_links")
    app.add_config_value("rnn_cases_require_all", False, "env", bool)
    app.add_directive("case", CaseDirective)
    app.add_directive("case-outcome", CaseOutcomeDirective)
    app.connect("builder-inited", _fresh_generated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-check-consistency", _require_all)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
