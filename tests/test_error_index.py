"""The error index in the built site: one page per inventory entry, found first by its message.

Needs the built site (``make docs``; skips without it). The ranking is computed with
``tests/sphinx_search.py``, a port of Sphinx's search script with the site's own scorer rule;
``tests/test_docs_browser.py`` runs the real script on two messages.
"""

from __future__ import annotations

import sys
from html import escape as html_escape
from pathlib import Path

import pytest

from rnn_autograd.spec import load_inventory

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "docs" / "_build" / "html"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

INVENTORY = load_inventory("rnn_autograd.cases")


@pytest.fixture(scope="module")
def search():
    if not (BUILT / "searchindex.js").exists():
        pytest.skip(f"the built site is absent ({BUILT}); run `make docs` first")
    from sphinx_search import SiteSearch

    return SiteSearch(BUILT)


def _title(search, key: str) -> str:
    index = search.index
    return index["titles"][index["docnames"].index(f"errors/messages/{key}")]


def test_every_entry_has_its_page_and_the_index_links_them_all(search):
    html = (BUILT / "errors" / "index.html").read_text(encoding="utf-8")
    missing = [k for k in INVENTORY if f"messages/{k}.html" not in html]
    assert not missing
    for key in INVENTORY:
        assert (BUILT / "errors" / "messages" / f"{key}.html").exists(), key


def test_a_page_is_titled_by_the_message_as_observed_with_its_class(search):
    for key, entry in INVENTORY.items():
        title = _title(search, key)
        assert title.startswith(f"{entry.kind}: "), (key, title)
        if entry.cases:
            assert entry.matches(entry.kind, title.split(": ", 1)[1]), (key, title)


def test_pasting_the_message_finds_its_page_first(search):
    wrong = []
    for key, entry in INVENTORY.items():
        if not entry.cases:
            continue
        query = _title(search, key)
        results = search.search(query)
        if not results or results[0] != f"errors/messages/{key}":
            wrong.append(f"{key}: {query[:80]!r} -> {results[:3]}")
    assert not wrong, "\n".join(wrong)


def test_pasting_the_stable_fragment_finds_its_page_first(search):
    from error_index import plain_fragment

    plain = {key: plain_fragment(entry.fragment) for key, entry in INVENTORY.items()}
    wrong = []
    for key, fragment in plain.items():
        if len(fragment) < 25:
            continue  # too short to say which message it is
        # Two messages may start alike (up to a wildcard): then either page may come first.
        alike = {f"errors/messages/{k}" for k, other in plain.items() if fragment in other}
        results = search.search(fragment)
        if not results or results[0] not in alike:
            wrong.append(f"{key}: {fragment!r} -> {results[:3]}")
    assert not wrong, "\n".join(wrong)


def test_the_page_shows_each_cause_with_a_link_to_its_case_and_its_fix(search):
    from rnn_autograd.spec import get_case

    entry = INVENTORY["saved-tensor-modified-in-place"]
    html = (BUILT / "errors" / "messages" / f"{entry.id}.html").read_text(encoding="utf-8")
    for case_id, pattern in entry.cases.items():
        case = get_case(case_id)
        anchor = case_id.replace("/", "-")
        assert f"#{anchor}" in html, case_id
        assert html_escape(pattern, quote=False) in html, pattern
        assert case.fix is None or f"#{case.fix.replace('/', '-')}" in html, case.fix


def test_the_plain_fragment_is_the_literal_start_of_the_regex():
    from error_index import plain_fragment

    assert plain_fragment(r"got \d+ tensors and \d+ gradients") == "got"
    assert plain_fragment(r"Can't call numpy\(\) on Tensor") == "Can't call numpy() on Tensor"
    assert plain_fragment(r"hook '.*' has changed") == "hook '"
    assert plain_fragment(r"element \d+ of tensors") == "element"
