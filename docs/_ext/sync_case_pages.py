"""Add every registered case that no page renders yet to its family's pages (run by hand).

    .venv/bin/python docs/_ext/sync_case_pages.py

Each family has a page, ``docs/cases/<family>.md``, and a long family is split into topic
sub-pages ``docs/cases/<family>/<topic>.md`` listed in its page's toctree (the page is then the
family's overview and renders no case itself). Each case appears once, as a
```` ```{case} <id> ```` directive, on the family page or on one of its sub-pages.

A missing case goes to the sub-page of a case it is tied to (its fix, a case it fixes, or one it
names in ``see_also``), else to the family's first sub-page, else to the family page; the
script says which page it chose, and moving the directive to a sub-page of a better topic is
a matter of cutting two lines. A missing page is created with a title and a one-line intro to be
rewritten by hand; missing cases are appended in reading order (a failing case followed by its
fix). Nothing is removed: a page naming a case that no longer exists fails the build and the
consistency test, which is the point.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DOCS.parent))

from rnn_autograd.spec import Case, all_cases, families  # noqa: E402 - after the path set-up

CASE_DIRECTIVE = re.compile(r"^```\{case\}\s+(\S+)\s*$", re.M)
TOCTREE = re.compile(r"^```\{toctree\}\s*$(.*?)^```\s*$", re.M | re.S)


def rendered_case_ids(docs: Path = DOCS) -> dict[str, list[str]]:
    """Case id -> the pages (relative paths) whose ``{case}`` directive renders it."""
    found: dict[str, list[str]] = {}
    for page in sorted(docs.rglob("*.md")):
        if "_build" in page.parts or "_generated" in page.parts:
            continue
        for case_id in CASE_DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            found.setdefault(case_id, []).append(str(page.relative_to(docs)))
    return found


def reading_order(cases: list[Case]) -> list[Case]:
    """Id order, except that a failing case is followed at once by its fix."""
    by_id = {c.id: c for c in cases}
    fixes = {c.fix for c in cases if c.fix}
    order: list[Case] = []
    for c in cases:
        if c in order or (c.id in fixes and any(o.fix == c.id for o in cases if o not in order)):
            continue
        order.append(c)
        if c.fix in by_id and by_id[c.fix] not in order:
            order.append(by_id[c.fix])
    order += [c for c in cases if c not in order]
    return order


def directive(case_id: str) -> str:
    return f"```{{case}} {case_id}\n```\n"


def subpages(family: str, docs: Path = DOCS) -> list[Path]:
    """The sub-pages ``cases/<family>/*.md`` that the family page's toctree lists, in order."""
    page = docs / "cases" / f"{family}.md"
    if not page.exists():
        return []
    found = []
    for body in TOCTREE.findall(page.read_text(encoding="utf-8")):
        for line in body.splitlines():
            entry = line.strip()
            if entry.startswith(f"{family}/") and not entry.startswith(":"):
                found.append(docs / "cases" / f"{entry}.md")
    return [p for p in found if p.exists()]


def page_for(case: Case, rendered: dict[str, list[str]], docs: Path = DOCS) -> Path:
    """Where a case no page renders goes (see the module's docstring)."""
    subs = subpages(case.family, docs)
    if not subs:
        return docs / "cases" / f"{case.family}.md"
    allowed = {str(p.relative_to(docs)) for p in subs}
    tied = [case.fix] + [c.id for c in all_cases(case.family) if c.fix == case.id]
    tied += list(case.see_also)
    for other in tied:
        for where in rendered.get(other or "", []):
            if where in allowed:
                return docs / where
    return subs[0]


def main() -> int:
    rendered = rendered_case_ids()
    for family in families():
        missing = [c for c in reading_order(all_cases(family)) if c.id not in rendered]
        for c in missing:
            page = page_for(c, rendered)
            if not page.exists():
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(
                    f"# {family}\n\nThe cases of the `{family}` family.\n", encoding="utf-8"
                )
            text = page.read_text(encoding="utf-8").rstrip("\n") + "\n"
            page.write_text(text + "\n" + directive(c.id), encoding="utf-8")
            where = str(page.relative_to(DOCS))
            rendered.setdefault(c.id, []).append(where)  # its fix may follow it there
            print(f"{page.relative_to(DOCS.parent)}: added {c.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
