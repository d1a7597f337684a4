"""Add every registered case that no page renders yet to its family page (run by hand).

    .venv/bin/python docs/_ext/sync_case_pages.py

Each family has one page, ``docs/cases/<family>.md``; each case appears there once, as a
```` ```{case} <id> ```` directive. A missing page is created with a title and a one-line intro
to be rewritten by hand; a missing case is appended (a failing case followed by its fix).
Nothing is removed: a page naming a case that no longer exists fails the build and the
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


def main() -> int:
    rendered = rendered_case_ids()
    for family in families():
        page = DOCS / "cases" / f"{family}.md"
        missing = [c for c in reading_order(all_cases(family)) if c.id not in rendered]
        if not missing:
            continue
        if not page.exists():
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                f"# {family}\n\nThe cases of the `{family}` family.\n", encoding="utf-8"
            )
        text = page.read_text(encoding="utf-8").rstrip("\n") + "\n"
        for c in missing:
            text += "\n" + directive(c.id)
        page.write_text(text, encoding="utf-8")
        print(f"{page.relative_to(DOCS.parent)}: added {', '.join(c.id for c in missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
