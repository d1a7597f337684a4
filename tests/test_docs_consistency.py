"""The docs and the case registry stay in step, and a wrong declaration fails the docs build.

Both ways: every registered case is rendered by exactly one ``{case}`` directive, on its
family's page or on one of the sub-pages its toctree lists, and every case a page names exists.
The built site (``make docs``; checks skip when it is absent) has an anchor for every case on
the page that renders it (split families: tests/test_docs_split_pages.py). A throwaway Sphinx project with the project's
extension shows that a case whose declared outcome is wrong, a real case with its declaration
tampered with included, fails the build with a message naming the page and the case.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rnn_autograd.diagnose.inspector import inspect_graph
from rnn_autograd.spec import Raises, all_cases, check, get_case

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXT = DOCS / "_ext"
BUILT = DOCS / "_build" / "html"

CASE = re.compile(r"^```\{case\}\s+(\S+)\s*$", re.M)
CASE_OUTCOME = re.compile(r"^```\{case-outcome\}\s+(\S+)\s*$", re.M)
CASE_REF = re.compile(r"\{case-ref\}`(?:[^`<]*<)?([^`<>]+)>?`")


def _pages() -> dict[str, str]:
    return {
        str(p.relative_to(DOCS)): p.read_text(encoding="utf-8")
        for p in sorted(DOCS.rglob("*.md"))
        if "_build" not in p.parts and "_generated" not in p.parts
    }


def _rendered() -> dict[str, list[str]]:
    """Case id -> the pages whose ``{case}`` directive renders it."""
    found: dict[str, list[str]] = {}
    for page, text in _pages().items():
        for case_id in CASE.findall(text):
            found.setdefault(case_id, []).append(page)
    return found


def test_every_registered_case_is_rendered_on_exactly_one_page():
    rendered = _rendered()
    problems = []
    for c in all_cases():
        pages = rendered.get(c.id, [])
        if len(pages) != 1:
            problems.append(
                f"{c.id}: rendered on {pages or 'no page'}; "
                f"add ```{{case}} {c.id}``` once, to docs/cases/{c.family}.md or one of its "
                f"sub-pages docs/cases/{c.family}/*.md (docs/_ext/sync_case_pages.py does it)"
            )
    assert not problems, "\n".join(problems)


def _family_pages(family: str) -> set[str]:
    """The family page and the sub-pages its toctree lists (docs-relative .md paths)."""
    sys.path.insert(0, str(EXT))
    import sync_case_pages

    subs = sync_case_pages.subpages(family, DOCS)
    return {f"cases/{family}.md"} | {str(p.relative_to(DOCS)) for p in subs}


def test_each_case_is_rendered_on_its_familys_page_or_one_of_its_sub_pages():
    misplaced = []
    for case_id, pages in _rendered().items():
        family = case_id.split("/")[0]
        if pages[0] not in _family_pages(family):
            misplaced.append(
                f"{case_id} is on {pages[0]}, expected cases/{family}.md or a sub-page "
                f"cases/{family}/*.md listed in its toctree"
            )
    assert not misplaced, "\n".join(misplaced)


def test_every_case_a_page_names_exists():
    known = {c.id for c in all_cases()}
    unknown = []
    for page, text in _pages().items():
        named = CASE.findall(text) + CASE_OUTCOME.findall(text) + CASE_REF.findall(text)
        unknown += [f"{page}: {case_id}" for case_id in named if case_id.strip() not in known]
    assert not unknown, "pages name cases that do not exist:\n" + "\n".join(unknown)


def test_the_pattern_for_case_references_reads_both_forms():
    text = "see {case-ref}`graph/a` and {case-ref}`the fix <graph/b>`"
    assert CASE_REF.findall(text) == ["graph/a", "graph/b"]


def test_every_case_that_fails_on_purpose_names_a_fix_that_exists_and_passes():
    problems = []
    for c in all_cases():
        if not isinstance(c.outcome.resolve(), Raises):
            continue
        if not c.fix:
            problems.append(f"{c.id} fails on purpose and names no fix")
            continue
        fix = get_case(c.fix)
        verdict = check(fix)
        if not verdict.ok or isinstance(verdict.declared, Raises):
            problems.append(f"{c.id}: its fix {fix.id} does not pass ({verdict.label})")
    assert not problems, "\n".join(problems)


def test_every_case_that_fails_on_purpose_says_what_you_might_expect():
    silent = [c.id for c in all_cases() if c.fails_on_purpose and not c.expect.strip()]
    assert not silent, "cases with no 'what you might expect': " + ", ".join(silent)


def _built_page(name: str) -> str:
    page = BUILT / name
    if not page.exists():
        pytest.skip(f"the built site is absent ({page}); run `make docs` first")
    return page.read_text(encoding="utf-8")


def test_every_case_has_its_anchor_on_the_built_page_that_renders_it():
    missing = []
    for case_id, pages in _rendered().items():
        name = pages[0].removesuffix(".md") + ".html"
        anchor = case_id.replace("/", "-")
        if f'id="{anchor}"' not in _built_page(name):
            missing.append(f"{name}#{anchor}")
    assert not missing, "anchors missing from the built site:\n" + "\n".join(missing)


def test_the_built_site_shows_no_mismatch_and_no_error_block():
    for page in sorted(BUILT.rglob("*.html")) if BUILT.exists() else []:
        html = page.read_text(encoding="utf-8")
        assert "MISMATCH" not in html, page
        assert 'class="system-message"' not in html, page
    _built_page("index.html")


def _graph_report():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    return inspect_graph((x**2).sum())


def test_a_graph_snapshot_is_an_svg_image_when_dot_is_installed(tmp_path, monkeypatch):
    sys.path.insert(0, str(EXT))
    import graph_pictures

    if not graph_pictures.has_graphviz():
        pytest.skip("Graphviz `dot` is not installed")
    app = SimpleNamespace(srcdir=str(tmp_path))
    figure, *text_tree = graph_pictures.graph_nodes(
        app, "case-0", "before backward", _graph_report(), "cases/graph"
    )
    shown, full = app._rnn_dot_jobs  # dot runs in the background while the page is parsed
    for job in (shown, full):
        job.process.communicate(timeout=60)
        assert job.process.returncode == 0
    (image,) = list(figure.findall(lambda n: n.tagname == "image"))
    svg = tmp_path / image["uri"].lstrip("/")
    assert svg.suffix == ".svg"
    assert "PowBackward0" in svg.read_text()
    # The picture links to the full-size SVG, which the site serves from its root.
    links = {n["refuri"] for n in figure.findall(lambda n: n.tagname == "reference")}
    assert links == {"../graphs/case-0.svg"} and full.svg.name == "case-0.svg"
    assert "PowBackward0" in full.svg.read_text()
    # The text tree follows, folded in a <details> block.
    assert "<details" in text_tree[0].astext() and "PowBackward0" in text_tree[1].astext()


def test_a_graph_snapshot_is_a_text_tree_when_dot_is_missing(tmp_path, monkeypatch):
    sys.path.insert(0, str(EXT))
    import graph_pictures

    monkeypatch.setattr(graph_pictures, "has_graphviz", lambda: False)
    app = SimpleNamespace(srcdir=str(tmp_path))
    (box,) = graph_pictures.graph_nodes(app, "case-0", "before backward", _graph_report())
    assert not list(box.findall(lambda n: n.tagname == "image"))
    (text,) = [n for n in box.children if n.tagname == "literal_block"]
    assert "PowBackward0" in text.astext()


TINY_CONF = """
import dataclasses, os, sys
sys.path.insert(0, {ext!r})
sys.path.insert(0, os.path.dirname(__file__))
import torch
from rnn_autograd.spec import Returns, get_case, load_cases

WRONG = os.environ["TINY_MODE"] == "wrong"
import tiny_cases  # registers test/doubling, declared wrongly when WRONG

if WRONG:
    # A real case with its declared outcome changed to a wrong one.
    real = get_case("graph/retain-graph-shared-subgraph")
    load_cases()[real.id] = dataclasses.replace(
        real, outcome=Returns({{"x1.grad": torch.tensor([2.0]), "x2.grad": torch.tensor([10.0])}})
    )

extensions = ["myst_parser", "case_directive"]
exclude_patterns = ["_build", "_generated"]
"""

TINY_CASES = '''
import os
import torch
from rnn_autograd.spec import Returns, case, snapshot

DECLARED = 3.0 if os.environ["TINY_MODE"] == "wrong" else 2.0


@case(
    "test/doubling",
    question="What is the gradient of 2 * x?",
    expect="Two, whatever x is.",
    outcome=Returns({"x.grad": torch.tensor([DECLARED])}),
)
def doubling():
    """The gradient of `2 * x` is 2 everywhere.

    `MulBackward0` multiplies the incoming gradient by the constant 2.
    """
    x = torch.tensor([1.0], requires_grad=True)
    y = 2 * x
    snapshot("before backward", y)
    y.backward()
    return {"x.grad": x.grad}
'''

TINY_INDEX = """# Tiny

```{toctree}
two
```

```{case} test/doubling
```
"""

TINY_TWO = """# Two

```{case} graph/retain-graph-shared-subgraph
```
"""


def _build_tiny(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(TINY_CONF.format(ext=str(EXT)))
    (src / "tiny_cases.py").write_text(textwrap.dedent(TINY_CASES))
    (src / "index.md").write_text(TINY_INDEX)
    (src / "two.md").write_text(TINY_TWO)
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html"]
    env = {**os.environ, "TINY_MODE": mode}
    done = subprocess.run(
        [*cmd, str(src), str(out)], capture_output=True, text=True, env=env, timeout=300
    )
    return done, out


def test_a_wrong_declared_outcome_fails_the_docs_build_naming_page_and_case(tmp_path):
    done, _ = _build_tiny(tmp_path, "wrong")
    log = done.stdout + done.stderr
    assert done.returncode != 0, log
    assert re.search(r"MISMATCH on page 'index', case 'test/doubling'", log), log
    assert re.search(r"MISMATCH on page 'two', case 'graph/retain-graph-shared-subgraph'", log), log
    assert "x1.grad: declared tensor([2.]), observed tensor([4.])" in log, log


def test_the_same_project_with_right_declarations_builds_with_anchors_and_pictures(tmp_path):
    done, out = _build_tiny(tmp_path, "right")
    assert done.returncode == 0, done.stdout + done.stderr
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="test-doubling"' in index
    for part in ("What you might expect", "What happens", "Why", "Verdict: match", "It returns"):
        assert part in index
    assert index.index("What you might expect") < index.index("What happens") < index.index("Why")
    assert "MulBackward0" in index or ".svg" in index
    two = (out / "two.html").read_text(encoding="utf-8")
    assert 'id="graph-retain-graph-shared-subgraph"' in two


COMMAND_LINE = re.compile(r"^\$ (?:\.venv/bin/)?rnn-autograd (.+?)(?:\s+#.*)?$", re.M)


def test_every_rnn_autograd_command_line_in_the_docs_parses_with_the_real_parser():
    from rnn_autograd.cli import build_parser

    shown = [(page, line) for page, text in _pages().items() for line in COMMAND_LINE.findall(text)]
    assert shown, "the docs show no rnn-autograd command line: the pattern is out of date"
    for page, line in shown:
        try:
            build_parser().parse_args(shlex.split(line))
        except SystemExit:
            pytest.fail(f"{page}: `rnn-autograd {line}` does not parse (see the error above)")
