"""Families split into topic sub-pages, and the links of the built site.

A family page with sub-pages (``docs/cases/<family>/*.md``, listed in its toctree) renders no
case itself; ``sync_case_pages`` puts a new case on the sub-page of its fix. In the built site
(``make docs``; these checks skip when it is absent) every internal ``href="...#anchor"``, of
both editions, leads to a page with that id, and a split family's page links every question
of the family to its case's anchor on the sub-page that renders it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from rnn_autograd.spec import all_cases, get_case

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXT = DOCS / "_ext"
BUILT = DOCS / "_build" / "html"
sys.path.insert(0, str(EXT))

import sync_case_pages  # noqa: E402 - after the path set-up

CASE = sync_case_pages.CASE_DIRECTIVE


def _pages() -> dict[str, str]:
    return {
        str(p.relative_to(DOCS)): p.read_text(encoding="utf-8")
        for p in sorted(DOCS.rglob("*.md"))
        if "_build" not in p.parts and "_generated" not in p.parts
    }


def _family_pages(family: str) -> set[str]:
    subs = sync_case_pages.subpages(family, DOCS)
    return {f"cases/{family}.md"} | {str(p.relative_to(DOCS)) for p in subs}


def _built_page(name: str) -> str:
    page = BUILT / name
    if not page.exists():
        pytest.skip(f"the built site is absent ({page}); run `make docs` first")
    return page.read_text(encoding="utf-8")


def test_a_split_family_page_renders_no_case_itself_and_every_sub_page_is_listed():
    problems = []
    pages = _pages()
    for page in pages:
        parts = page.split("/")
        if len(parts) != 3 or parts[0] != "cases":
            continue
        family = parts[1]
        if page not in _family_pages(family):
            problems.append(f"{page} is not in the toctree of cases/{family}.md")
        if CASE.findall(pages.get(f"cases/{family}.md", "")):
            problems.append(f"cases/{family}.md has sub-pages and renders cases itself")
    assert not problems, "\n".join(problems)


def test_a_new_case_goes_next_to_its_fix_on_a_split_familys_sub_page(tmp_path):
    (tmp_path / "cases" / "custom-function").mkdir(parents=True)
    (tmp_path / "cases" / "custom-function.md").write_text(
        "# F\n\nIntro.\n\n```{toctree}\n:maxdepth: 1\n\ncustom-function/a\ncustom-function/b\n```\n"
    )
    for name in "ab":
        (tmp_path / "cases" / "custom-function" / f"{name}.md").write_text(f"# {name}\n")
    rendered = {"custom-function/mark-dirty-and-return": ["cases/custom-function/b.md"]}
    place = sync_case_pages.page_for
    leaf = get_case("custom-function/mark-dirty-on-leaf")  # its fix is on b
    assert place(leaf, rendered, tmp_path) == tmp_path / "cases/custom-function/b.md"
    assert place(leaf, {}, tmp_path) == tmp_path / "cases/custom-function/a.md"
    unsplit = get_case("graph/backward-through-freed-graph")
    assert place(unsplit, rendered, tmp_path) == tmp_path / "cases/graph.md"


_HREF = re.compile(r'href="([^"#:]*\.html)?#([^"]+)"')
_ID = re.compile(r'\bid="([^"]+)"')


def test_every_internal_link_to_an_anchor_leads_to_a_page_with_that_id():
    """Every ``href="page.html#id"`` (or ``#id``) of the built site, both editions."""
    _built_page("index.html")
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = set(_ID.findall(page.read_text(encoding="utf-8")))
        return ids[page]

    broken = []
    for page in sorted(BUILT.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        for target, anchor in set(_HREF.findall(page.read_text(encoding="utf-8"))):
            to = (page.parent / target).resolve() if target else page
            if not to.exists() or anchor not in ids_of(to):
                broken.append(f"{page.relative_to(BUILT)}: {target}#{anchor}")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(sorted(broken)[:40])


def test_a_split_familys_overview_links_every_question_of_the_family_to_its_sub_page():
    problems = []
    rendered = sync_case_pages.rendered_case_ids(DOCS)
    for family in sorted({c.family for c in all_cases()}):
        subs = _family_pages(family) - {f"cases/{family}.md"}
        if not subs:
            continue
        html = _built_page(f"cases/{family}.html")
        for c in all_cases(family):
            where = rendered[c.id][0].removeprefix("cases/").removesuffix(".md") + ".html"
            if f'href="{where}#{c.id.replace("/", "-")}"' not in html:
                problems.append(f"cases/{family}.html does not link {where}#{c.id}")
    assert not problems, "\n".join(problems)
