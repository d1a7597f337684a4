"""The error index: one page per message of the inventory, its wording observed at build time.

``rnn_autograd/cases/inventory.json`` holds one entry per autograd error or warning message.
When the build starts, this extension writes one page per entry into ``docs/errors/messages/``
(a build output, not committed), each holding a single ``{error-entry} <id>`` directive; the
directive runs the entry's cases (through the same cached ``check`` as the case pages) and
renders, in a section whose title is the message as the current torch words it:

- what it means (one sentence), where PyTorch raises it, the fragment that identifies it;
- the full message as observed, and older wordings the cases declare with ``ByTorch``;
- each case that causes it, with the pattern it stands for and its fix, linked to their entries.

The title is the observed first line, so pasting an error message into the site's search finds
the page by its title (the search ranks title words highest); the stable fragment is also an
index entry. Entries without a case say why. ``{error-index}`` (on ``errors/index.md``) lists
every page. A case whose observation no longer matches its entry is a build error.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch
from case_directive import verdict_of
from docutils import nodes
from sphinx import addnodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnn_autograd.spec import ByTorch, Raises, get_case, load_inventory
from rnn_autograd.spec.inventory import Entry, observed_texts

logger = logging.getLogger(__name__)

PACKAGE = "rnn_autograd.cases"
PAGES = "errors/messages"


def inventory() -> dict[str, Entry]:
    return load_inventory(PACKAGE)


def plain_fragment(fragment: str) -> str:
    """The literal text a fragment regex starts with, up to its first wildcard, unescaped:
    ``r"got \\d+ tensors"`` -> ``"got"``, ``r"Can't call numpy\\(\\)"`` -> ``"Can't call numpy()"``."""
    out, i = [], 0
    while i < len(fragment):
        ch = fragment[i]
        if ch == "\\" and i + 1 < len(fragment):
            if fragment[i + 1].isalnum():  # \d, \w, \s: a character class
                break
            out.append(fragment[i + 1])
            i += 2
            continue
        if ch in ".*+?()[]{}|^$":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def observed_line(app: Sphinx, entry: Entry, case_id: str) -> str | None:
    """``Kind: first line`` of what ``case_id`` raised or warned that is ``entry``'s message."""
    verdict = verdict_of(app, get_case(case_id))
    for kind, message in observed_texts(verdict.observation):
        if entry.matches(kind, message):
            return f"{kind}: {message.strip()}"
    return None


def _inline_code(text: str) -> list[nodes.Node]:
    """``text`` with its `backticked` spans as literals (a summary is one MyST paragraph)."""
    text = re.sub(r"(?<![\w*])\*{1,2}([^*`]+)\*{1,2}(?![\w*])", r"\1", text)  # drop *emphasis*
    parts = text.split("`")
    return [nodes.literal(p, p) if i % 2 else nodes.Text(p) for i, p in enumerate(parts) if p]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def page_title(app: Sphinx, entry: Entry) -> str:
    for case_id in entry.cases:
        line = observed_line(app, entry, case_id)
        if line:
            return _first_line(line)
    return f"{entry.kind}: {plain_fragment(entry.fragment)}"


def _older_wordings(case_id: str) -> list[str]:
    outcome = get_case(case_id).outcome
    if not isinstance(outcome, ByTorch):
        return []
    current = outcome.resolve()
    older = []
    for spec, declared in outcome.ranges.items():
        if declared is not current and isinstance(declared, Raises):
            older.append(
                f"torch {spec}: {declared.exc_type.__name__} matching {declared.pattern!r}"
            )
    return older


class ErrorEntryDirective(SphinxDirective):
    """One inventory entry: its live message, meaning, causes and fixes."""

    required_arguments = 1

    def _link(self, case_id: str, text: str) -> nodes.Node:
        return pending_xref(
            "",
            nodes.inline(text, text),
            refdomain="std",
            reftype="ref",
            reftarget=case_id,
            refexplicit=True,
            refwarn=True,
            refdoc=self.env.docname,
        )

    def run(self) -> list[nodes.Node]:
        app = self.env.app
        key = self.arguments[0].strip()
        entry = inventory().get(key)
        if entry is None:
            raise self.error(f"no inventory entry {key!r}")
        title = page_title(app, entry)
        section = nodes.section(ids=[nodes.make_id(f"error-{key}")], names=[f"error-{key}"])
        # A literal: the message as code, and spared by smartquotes, so that a pasted message
        # (straight quotes) still matches the title in the site's search.
        section += nodes.title("", "", nodes.literal(title, title))
        stable = plain_fragment(entry.fragment)
        if len(stable) >= 15:  # a fragment that says something on its own: an index entry
            section += addnodes.index(entries=[("single", stable, section["ids"][0], "main", None)])
        section += nodes.paragraph(entry.meaning, entry.meaning, classes=["error-meaning"])

        facts = nodes.bullet_list()
        for label, value in (
            ("Class", entry.kind),
            ("Raised in", entry.where),
            ("Identified by the fragment", entry.fragment),
        ):
            item = nodes.paragraph()
            item += nodes.strong(label, label)
            item += nodes.Text(": ")
            item += nodes.literal(value, value)
            facts += nodes.list_item("", item)
        section += facts

        observed = [(c, observed_line(app, entry, c)) for c in entry.cases]
        for case_id, line in observed:
            if line is None:
                logger.error(
                    "inventory entry %r: case %s did not raise or warn %s matching %r on torch %s",
                    key,
                    case_id,
                    entry.kind,
                    entry.fragment,
                    torch.__version__,
                    location=self.get_location(),
                )
        if observed and observed[0][1]:
            section += nodes.paragraph(
                "", f"As torch {torch.__version__} words it (observed while this page was built):"
            )
            section += nodes.literal_block(
                "", observed[0][1], language="none", classes=["error-observed"]
            )
        older = [w for c in entry.cases for w in _older_wordings(c)]
        if older:
            section += nodes.paragraph("", "Older wordings, as the cases declare them:")
            lst = nodes.bullet_list()
            for w in older:
                lst += nodes.list_item("", nodes.paragraph(w, w))
            section += lst

        if entry.cases:
            section += self._causes(entry, dict(observed), title)
        else:
            why = entry.none_because
            section += nodes.paragraph(
                "",
                "",
                nodes.strong("No case reproduces it here: ", "No case reproduces it here: "),
                nodes.Text(why),
            )
        return [section]

    def _causes(self, entry: Entry, observed: dict[str, str | None], title: str) -> nodes.Element:
        sub = nodes.section(ids=[nodes.make_id(f"causes-{entry.id}")], names=[f"causes-{entry.id}"])
        sub += nodes.title("Causes and fixes", "Causes and fixes")
        lst = nodes.bullet_list(classes=["error-causes"])
        for case_id, pattern in entry.cases.items():
            case = get_case(case_id)
            para = nodes.paragraph()
            para += nodes.strong(pattern, pattern)
            para += nodes.Text(": ")
            para += self._link(case_id, case.question)
            item = nodes.list_item("", para)
            line = observed.get(case_id)
            if line and _first_line(line) != title:
                item += nodes.literal_block(
                    "", _first_line(line), language="none", classes=["error-observed"]
                )
            fix_id = case.fix
            if fix_id:
                fix = get_case(fix_id)
                fp = nodes.paragraph()
                fp += nodes.Text("Fix: ")
                fp += self._link(fix_id, fix.question)
                fp += nodes.Text(" — ")
                fp += _inline_code(fix.summary)
                item += fp
            lst += item
        sub += lst
        return sub


class ErrorIndexDirective(SphinxDirective):
    """Every entry of the inventory: a link to its page, grouped by whether a case shows it."""

    def run(self) -> list[nodes.Node]:
        app = self.env.app
        entries = list(inventory().values())
        groups = (
            ("Reproduced by a case, with its fix", [e for e in entries if e.cases]),
            ("From PyTorch's sources, no case yet", [e for e in entries if not e.cases and e.cpu]),
            ("Not reachable from plain Python on the CPU", [e for e in entries if not e.cpu]),
        )
        out: list[nodes.Node] = []
        for heading, group in groups:
            if not group:
                continue
            sec = nodes.section(ids=[nodes.make_id(heading)], names=[heading])
            sec += nodes.title(heading, f"{heading} ({len(group)})")
            lst = nodes.bullet_list()
            for entry in sorted(group, key=lambda e: page_title(app, e).lower()):
                text = page_title(app, entry)
                ref = pending_xref(
                    "",
                    nodes.inline(text, text),
                    refdomain="std",
                    reftype="doc",
                    reftarget=f"/{PAGES}/{entry.id}",
                    refexplicit=True,
                    refdoc=self.env.docname,
                )
                para = nodes.paragraph("", "", ref, nodes.Text(f" — {entry.meaning}"))
                lst += nodes.list_item("", para)
            sec += lst
            out.append(sec)
        return out


def write_pages(app: Sphinx) -> None:
    """One page per entry, written afresh at every build (stale pages would be documents)."""
    folder = Path(app.srcdir) / PAGES
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for key in inventory():
        # Orphans: linked from errors/index, searchable, but in no toctree, so that the sidebar
        # of every page does not list ~200 messages (that made the build several times slower).
        text = f"---\norphan: true\n---\n\n```{{error-entry}} {key}\n```\n"
        (folder / f"{key}.md").write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("case_directive")
    app.add_directive("error-entry", ErrorEntryDirective)
    app.add_directive("error-index", ErrorIndexDirective)
    app.connect("builder-inited", write_pages)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
