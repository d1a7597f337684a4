"""The compatibility matrix: the records of ``docs/compat/`` against the current declarations.

Each record ``docs/compat/torch-RELEASE.json`` is what ``tools/compat.sh RELEASE`` observed
(``rnn-autograd check --json`` plus how it was made). Read here, never written:

- ``cell(case, record)``: ``match``, ``declared differently`` (a ``ByTorch`` range gives this
  release another declaration than the newest recorded release, and it matched), ``mismatch``
  (the record's verdict), or ``stale`` / ``not recorded`` (the record no longer speaks for the
  current declaration: re-record);
- ``stale_reasons(record)``: why a record no longer speaks for the current declarations (used by
  ``tests/test_compat.py``, whose failure names the command that re-records it);
- the ``{compat-matrix}`` directive renders the table; the ``{case}`` directive adds to each case
  the releases it was checked on (``checked_on``).
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from packaging.version import Version
from site_words import say
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnn_autograd.spec import ByTorch, Case, all_cases, families, get_case
from rnn_autograd.spec.report import declared_range

logger = logging.getLogger(__name__)
COMPAT = Path(__file__).resolve().parents[1] / "compat"
MATCH, DIFFERENT, MISMATCH, STALE, MISSING = (
    "match",
    "declared differently",
    "mismatch",
    "stale",
    "not recorded",
)


def load_records(folder: Path = COMPAT) -> list[dict[str, Any]]:
    """Every record, oldest release first; each gains ``_path`` and ``_by_id``."""
    records = []
    for path in folder.glob("torch-*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["_path"] = path
        doc["_by_id"] = {c["id"]: c for c in doc["cases"]}
        records.append(doc)
    return sorted(records, key=lambda d: Version(d["torch_release"]))


@cache
def _records() -> tuple[dict[str, Any], ...]:
    return tuple(load_records())


def declared_for(case: Case, release: str) -> str:
    """The current declaration of ``case`` for ``release``, as ``check`` describes it."""
    try:
        return case.outcome.resolve(Version(release)).describe()
    except LookupError as exc:
        return f"no declared range covers torch {release}: {exc}"


def rerecord_command(record: dict[str, Any]) -> str:
    """The command that made ``record`` (run it again from the checkout's root)."""
    return record.get("recorded", {}).get("command") or f"tools/compat.sh {record['torch_release']}"


def stale_reasons(record: dict[str, Any], cases: list[Case] | None = None) -> list[str]:
    """Why ``record`` does not speak for the current declarations; empty when it does."""
    cases = cases if cases is not None else all_cases()
    by_id, release = record["_by_id"], record["torch_release"]
    known = {c.id for c in cases}
    reasons = []
    missing = [c.id for c in cases if c.id not in by_id]
    if missing:
        reasons.append(f"{len(missing)} case(s) not in the record: {', '.join(missing)}")
    gone = sorted(set(by_id) - known)
    if gone:
        reasons.append(f"{len(gone)} recorded case(s) no longer exist: {', '.join(gone)}")
    for c in cases:
        if c.id in by_id and by_id[c.id]["declared"] != (now := declared_for(c, release)):
            reasons.append(f"{c.id}: recorded declaration {by_id[c.id]['declared']!r}, now {now!r}")
    return reasons


def cell(case: Case, record: dict[str, Any], newest: dict[str, Any] | None = None) -> str:
    """What the matrix says for ``case`` on ``record``'s release."""
    entry = record["_by_id"].get(case.id)
    if entry is None:
        return MISSING
    if entry["declared"] != declared_for(case, record["torch_release"]):
        return STALE
    if entry["verdict"] != "match":
        return MISMATCH
    if newest is not None and declared_for(case, record["torch_release"]) != declared_for(
        case, newest["torch_release"]
    ):
        return DIFFERENT
    return MATCH


def checked_on(case_id: str) -> list[tuple[str, str, str | None]]:
    """(release, cell, the ``ByTorch`` range that applied or None) per record."""
    records = _records()
    if not records:
        return []
    case = get_case(case_id)
    rows = []
    for r in records:
        rows.append(
            (
                r["torch_release"],
                cell(case, r, records[-1]),
                declared_range(case, r["torch_release"]),
            )
        )
    return rows


def checked_on_paragraph(case_id: str, link: bool = True) -> nodes.paragraph | None:
    """ "Checked on torch 2.2.2 (declared differently: <2.7), 2.7.1, ...", linked to the matrix."""
    rows = checked_on(case_id)
    if not rows:
        return None
    para = nodes.paragraph(classes=["case-checked-on"])
    para += nodes.Text(say("Checked on torch "))
    parts = []
    for release, status, spec in rows:
        text = release
        if status == DIFFERENT:
            text += say(" (declared differently: {spec})", spec=spec)
        elif status != MATCH:
            text += f" ({status})"
        parts.append(text)
    if not link:  # a project without the compatibility page (a partial build)
        para += nodes.Text(", ".join(parts) + say(" (recorded by tools/compat.sh)."))
        return para
    para += nodes.Text(", ".join(parts) + say(" (recorded by tools/compat.sh; see "))
    para += pending_xref(
        "",
        nodes.inline("", say("the compatibility matrix")),
        refdomain="std",
        reftype="doc",
        reftarget="/compat",
        refexplicit=True,
        refwarn=True,
    )
    para += nodes.Text(say(")."))
    return para


def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds (a regex may)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"`{text}`"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def matrix_markdown() -> str:
    """The page's generated part, as MyST: where each record was made, the matrix, differences."""
    records = list(_records())
    if not records:
        return "No record in `docs/compat/` yet: run `tools/compat.sh RELEASE`."
    newest = records[-1]
    lines = ["### Where and when each release was recorded", ""]
    lines += [
        "| torch | Python | platform | recorded | venv | tree | cases | `pytest --pyargs` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        rec = r.get("recorded", {})
        s = r["summary"]
        lines.append(
            "| "
            + " | ".join(
                _md_cell(x)
                for x in (
                    r["torch"],
                    r["python"],
                    r["platform"],
                    rec.get("date", "?"),
                    rec.get("venv", "?"),
                    rec.get("tree", "?"),
                    f"{s['match']} of {s['cases']} match",
                    rec.get("pytest --pyargs rnn_autograd", "?"),
                )
            )
            + " |"
        )
    lines += ["", "Each made by the command:", ""]
    lines += [f"- torch {r['torch_release']}: `{rerecord_command(r)}`" for r in records]
    lines += ["", "### The matrix", ""]
    lines += [
        "One table per family, folded behind a line that counts its cells; a family with a cell "
        "that is not a match or a declared difference is shown open.",
        "",
    ]
    head = ["| case | " + " | ".join(r["torch_release"] for r in records) + " |"]
    head += ["|---|" + "---|" * len(records)]
    different: list[Case] = []
    for family in families():
        rows, statuses = [], []
        for c in all_cases(family):
            cells = []
            for r in records:
                status = cell(c, r, newest)
                statuses.append(status)
                if status == DIFFERENT:
                    cells.append(f"declared differently ({declared_range(c, r['torch_release'])})")
                    if c not in different:
                        different.append(c)
                else:
                    cells.append(status.upper() if status != MATCH else status)
            rows.append(f"| `{c.id}` | " + " | ".join(cells) + " |")
        wrong = sum(s not in (MATCH, DIFFERENT) for s in statuses)
        summary = (
            f"{family}: {len(rows)} cases, {statuses.count(MATCH)} of {len(statuses)} cells match"
        )
        if statuses.count(DIFFERENT):
            summary += f", {statuses.count(DIFFERENT)} declared differently"
        if wrong:
            summary += f", {wrong} NOT MATCHING OR NOT RECORDED"
        # A raw <details> block, then the table after a blank line (parsed as Markdown).
        lines += [
            f'<details class="compat-family"{" open" if wrong else ""}>'
            f"<summary>{html.escape(summary)}</summary>",
            "",
            *head,
            *rows,
            "",
            "</details>",
            "",
        ]
    lines += ["", "### Each difference", ""]
    if not different:
        lines.append("Every case has one declaration on every recorded release.")
    for c in different:
        lines += [f"#### `{c.id}`", "", "Declared by release:", ""]
        for spec, declaration in c.outcome.ranges.items():
            lines.append(f"- torch `{spec}`: {_code(declaration.describe())}")
        lines += ["", "What changed, from the case's explanation:", ""]
        lines += [
            f"> {line}" if line else ">" for line in "\n\n".join(what_changed(c)).splitlines()
        ]
        lines.append("")
    return "\n".join(lines)


def what_changed(case: Case) -> list[str]:
    """The paragraphs of ``case``'s explanation that name a boundary of its ``ByTorch`` ranges
    (``<2.7`` -> "2.7"): a case declared differently by release must say there what changed."""
    boundaries = {re.sub(r"^[<>=!~]+", "", spec.strip()) for spec in case.outcome.ranges}
    boundaries |= {".".join(b.split(".")[:2]) for b in boundaries}
    paragraphs = case.explanation.strip().split("\n\n")
    return [p for p in paragraphs if any(re.search(rf"\b{re.escape(b)}\b", p) for b in boundaries)]


class CompatMatrixDirective(SphinxDirective):
    """``{compat-matrix}``: the generated part of the compatibility page."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from myst_parser.mocking import MockState

        box = nodes.container(classes=["compat-matrix"])
        if not isinstance(self.state, MockState):
            raise self.severe("compat-matrix renders MyST; use it on a .md page")
        for path in sorted(COMPAT.glob("torch-*.json")):
            self.env.note_dependency(str(path))
        for case in all_cases():
            if isinstance(case.outcome, ByTorch) and not what_changed(case):
                logger.error(
                    "case %r declares ByTorch %s but no paragraph of its explanation names "
                    "the release where it changed",
                    case.id,
                    list(case.outcome.ranges),
                    location=self.get_location(),
                )
        text = matrix_markdown()
        self.state.nested_parse(StringList(text.splitlines(), source="docs/compat"), 0, box)
        return [box]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("compat-matrix", CompatMatrixDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
