"""The site links to the repository it was built from and ships it as a git bundle."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "docs" / "_build" / "html"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import repository_page  # noqa: E402 - docs/_ext is not a package

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _built(name: str) -> Path:
    page = BUILT / name
    if not page.exists():
        pytest.skip(f"the built site is absent ({page}); run `make docs` first")
    return page


@needs_git
def test_the_bundle_on_the_site_clones_to_the_commit_its_page_names(tmp_path):
    html = _built("repository.html").read_text(encoding="utf-8")
    if "No repository is bundled" in html:
        pytest.skip("the site was built from a tree that is not a git checkout")
    shown = re.search(r"built from commit <code[^>]*><span class=\"pre\">([0-9a-f]{12})", html)
    assert shown, "the repository page names no commit"
    bundle = _built("downloads/" + repository_page.BUNDLE)
    assert 'href="downloads/rnn-autograd.bundle"' in html
    subprocess.run(["git", "bundle", "verify", str(bundle)], check=True, capture_output=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True, capture_output=True)
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout
    assert head.startswith(shown.group(1))
    assert (clone / "rnn_autograd" / "__init__.py").is_file() and (clone / "README.md").is_file()


def test_every_page_of_both_editions_links_to_the_repository_page():
    _built("index.html")
    pages = [p for p in BUILT.rglob("*.html") if "_modules" not in p.parts]
    assert any("zh_CN" in p.parts for p in pages), "the zh_CN edition is absent"
    missing = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if 'class="sidebar-drawer"' not in html:
            continue  # not a page of the theme (the search index's helpers)
        link = re.search(r'class="repository-link" href="([^"]+)"', html)
        target = page if link and link.group(1) == "#" else None  # the repository page itself
        if link and target is None:
            target = page.parent / link.group(1)
        if target is None or not target.resolve().is_file() or target.name != "repository.html":
            missing.append(str(page.relative_to(BUILT)))
    assert not missing, "pages without a working repository link: " + ", ".join(missing[:10])


def test_a_tree_that_is_not_a_git_checkout_builds_a_page_that_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(repository_page, "_ROOT", tmp_path)
    facts = repository_page.repository_facts()
    assert facts == {"error": "the site was built from a tree that is not a git checkout"}
    monkeypatch.setattr(repository_page.shutil, "which", lambda name: None)
    assert "git is not installed" in repository_page.repository_facts()["error"]


@needs_git
def test_the_facts_of_this_checkout_are_its_head(monkeypatch):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    facts = repository_page.repository_facts()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert facts["commit"] == head and facts["commits"] >= 1 and facts["date"][:4].isdigit()


def test_the_link_is_worded_in_each_editions_language():
    english = _built("index.html").read_text(encoding="utf-8")
    chinese = _built("zh_CN/index.html").read_text(encoding="utf-8")
    assert re.search(r'class="repository-link"[^>]*>Source code repository<', english)
    assert re.search(r'class="repository-link"[^>]*>源代码仓库<', chinese)
