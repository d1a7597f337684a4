"""A family split into sub-pages keeps its page as an overview of all its questions.

``docs/cases/<family>.md`` of a family whose cases are on sub-pages ``docs/cases/<family>/*.md``
holds no ``{case}`` of its own: its intro, then a toctree of the sub-pages. ``family_pages``
puts a placeholder and the whole family's download links after the intro; once every page is
read, the placeholder becomes one table of the family's questions, grouped by sub-page in the
toctree's order, each question linking to its case's anchor on the page that renders it (the
env's ``rnn_page_cases``, which ``family_pages`` records per page). Nothing is typed twice: a
case moved to another sub-page moves in the table too.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

from rnn_autograd.spec import get_case


class family_questions(nodes.General, nodes.Element):  # noqa: N801 - docutils names nodes so
    """Where the family's questions table goes, filled in at ``doctree-resolved``."""


def placeholder() -> family_questions:
    return family_questions()


def subpages(docname: str, doctree: nodes.document) -> list[str]:
    """The pages under ``<docname>/`` that the page's toctrees list, in their order."""
    found: list[str] = []
    for toctree in doctree.findall(addnodes.toctree):
        for _title, ref in toctree["entries"]:
            if ref.startswith(docname + "/") and ref not in found:
                found.append(ref)
    return found


def _fill(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    import family_pages  # here: it imports this module

    env = app.env
    pages: dict[str, list[str]] = env.__dict__.get("rnn_page_cases", {})
    subs: list[str] = env.__dict__.get("rnn_family_subpages", {}).get(docname, [])
    titles: dict[str, str] = env.__dict__.get("rnn_case_titles", {})
    words = family_pages.words_for(app)
    for spot in list(doctree.findall(family_questions)):
        table, body = family_pages.questions_table(words, cls="family-questions")
        for sub in subs:
            title = env.titles[sub].astext() if sub in env.titles else sub
            uri = app.builder.get_relative_uri(docname, sub)
            head = nodes.row(classes=["family-questions-page"])
            entry = nodes.entry(morecols=1)
            entry += nodes.paragraph(
                "", "", nodes.reference("", "", nodes.strong(title, title), refuri=uri)
            )
            head += entry
            body += head
            for case_id in pages.get(sub, []):
                question = titles.get(case_id) or get_case(case_id).question
                link = nodes.reference("", question, refuri=f"{uri}#{nodes.make_id(case_id)}")
                row = family_pages.table_row(
                    [link, nodes.Text(family_pages.what_happens(words, case_id))]
                )
                row["classes"].append("family-question")
                body += row
        spot.replace_self(table)


def _skip(self: Any, node: nodes.Node) -> None:
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(
        family_questions,
        html=(_skip, None),
        latex=(_skip, None),
        text=(_skip, None),
        man=(_skip, None),
        texinfo=(_skip, None),
    )
    app.connect("doctree-resolved", _fill)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
