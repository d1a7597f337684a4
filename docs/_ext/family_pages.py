"""A page of cases opens with its questions and offers them as a notebook and as a script.

On every page that renders ``{case}`` entries, after the page's first paragraph:

- a table of the page's questions, each linking to its entry, with what happens in a word
  ("raises RuntimeError" / "runs");
- links to download the page's cases as a Jupyter notebook (``.ipynb``) and as a ``.py`` script.

A family split into topic sub-pages keeps its page as an overview: the same place gets the
whole family's table, grouped by sub-page (``family_overview``), and the links to a notebook and
a script of all the family's cases, made from the sub-pages' executed cells.

The notebook is *executed while the docs build*: each cell's code runs in-process, in one
namespace as a kernel would run it, and what it printed becomes the cell's output. A cell whose
run disagrees with its case's declaration (another exception, a value the check rejects) is a
build error, so the downloaded notebook shows what the page shows. The notebook is written as
nbformat 4.5 JSON directly (no Jupyter dependency); ``tests/test_docs_browser.py`` and
``tests/test_case_scripts.py`` check its structure.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import traceback
import warnings
from pathlib import Path
from typing import Any

import family_overview
import torch
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from rnn_autograd.spec import Case, Observation, Raises, get_case, isolated
from rnn_autograd.spec.script import case_script

logger = logging.getLogger(__name__)

DOWNLOADS = "downloads"  # under the site's root (html_extra_path)
_WORDS = {
    "en": {
        "question": "Question",
        "happens": "What happens",
        "runs": "runs",
        "raises": "raises {}",
        "download": "Run these cases yourself: ",
        "notebook": "Jupyter notebook (.ipynb, with outputs)",
        "script": "Python script (.py)",
        "or": " or ",
    },
    "zh_CN": {
        "question": "问题",
        "happens": "结果",
        "runs": "正常运行",
        "raises": "抛出 {}",
        "download": "自己运行这些案例：",
        "notebook": "Jupyter 笔记本（.ipynb，含输出）",
        "script": "Python 脚本（.py）",
        "or": " 或 ",
    },
}


def words_for(app: Sphinx) -> dict[str, str]:
    return _WORDS.get(app.config.language or "en", _WORDS["en"])


def _case_sections(doctree: nodes.document) -> list[nodes.section]:
    return [s for s in doctree.findall(nodes.section) if "case" in s.get("classes", ())]


def _slug(docname: str) -> str:
    return docname.replace("/", "-")


def add_questions_and_downloads(app: Sphinx, doctree: nodes.document) -> None:
    """After the first paragraph of a page of cases: its questions table and download links.

    A family's overview page (``cases/<family>.md`` with a toctree of sub-pages and no cases of
    its own) gets the whole family's table instead, filled in once every page is read
    (``family_overview``)."""
    sections = _case_sections(doctree)
    docname = app.env.docname
    if not sections:
        subpages = family_overview.subpages(docname, doctree)
        if subpages:
            app.env.__dict__.setdefault("rnn_family_subpages", {})[docname] = subpages
            where = _after_first_paragraph(doctree)
            where.parent.insert(
                where.parent.index(where) + 1,
                [family_overview.placeholder(), downloads_paragraph(app, docname)],
            )
        return
    ids = [s["names"][0] for s in sections]
    app.env.__dict__.setdefault("rnn_page_cases", {})[docname] = ids
    # The questions as this edition titles them (translated where the page has a catalogue).
    titles = app.env.__dict__.setdefault("rnn_case_titles", {})
    titles.update({case_id: s[0].astext() for s, case_id in zip(sections, ids, strict=True)})
    words = words_for(app)
    table, body = questions_table(words)
    for section, case_id in zip(sections, ids, strict=True):
        link = nodes.reference("", section[0].astext(), refid=section["ids"][0])
        body += table_row([link, nodes.Text(what_happens(words, case_id))])
    where = _after_first_paragraph(doctree)
    where.parent.insert(where.parent.index(where) + 1, [table, downloads_paragraph(app, docname)])


def questions_table(words: dict[str, str], cls: str = "case-questions") -> tuple:
    """(an empty two-column table of questions with its head, its body to add rows to)."""
    table = nodes.table(classes=[cls])
    group = nodes.tgroup(cols=2)
    table += group
    group += nodes.colspec(colwidth=80)
    group += nodes.colspec(colwidth=20)
    head = nodes.thead()
    head += table_row([nodes.Text(words["question"]), nodes.Text(words["happens"])])
    group += head
    body = nodes.tbody()
    group += body
    return table, body


def what_happens(words: dict[str, str], case_id: str) -> str:
    declared = get_case(case_id).outcome.resolve()
    if isinstance(declared, Raises):
        return words["raises"].format(declared.exc_type.__name__)
    return words["runs"]


def downloads_paragraph(app: Sphinx, docname: str) -> nodes.paragraph:
    words = words_for(app)
    up = "../" * docname.count("/")
    downloads = nodes.paragraph(classes=["case-downloads"])
    downloads += nodes.Text(words["download"])
    # Another edition (zh_CN) links to the English site's files: code and outputs are the same.
    edition = "../" if (app.config.language or "en") != "en" else ""
    base = f"{up}{edition}{DOWNLOADS}/{_slug(docname)}"
    downloads += nodes.reference("", words["notebook"], refuri=f"{base}.ipynb")
    downloads += nodes.Text(words["or"])
    downloads += nodes.reference("", words["script"], refuri=f"{base}.py")
    return downloads


def table_row(cells: list[nodes.Node]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", cell)
        row += entry
    return row


def _after_first_paragraph(doctree: nodes.document) -> nodes.Node:
    top = next(iter(doctree.findall(nodes.section)))
    for child in top.children:
        if isinstance(child, nodes.paragraph):
            return child
        if isinstance(child, nodes.section):
            break
    return top[0]  # the title


def _notebook_parts(case_ids: list[str]) -> tuple[str, list[tuple[Case, str]]]:
    """(setup code shared by all, [(case, its cell's code)]) for the cases of one page."""
    imports: list[str] = []
    helpers: dict[str, None] = {}
    cells = []
    for case_id in case_ids:
        case = get_case(case_id)
        script = case_script(case)
        for line in script.imports:
            if line not in imports and line:
                imports.append(line)
        for helper in script.helpers:
            helpers.setdefault(helper.rstrip(), None)
        cells.append((case, script.code))
    future = [i for i in imports if i.startswith("from __future__")]
    rest = sorted((i for i in imports if i not in future), key=lambda i: (i[:4] != "impo", i))
    setup = "\n".join(future + [""] + rest) + "\n\n\n" + "\n\n\n".join(helpers) + "\n"
    return setup, cells


def _run_cell(code: str, namespace: dict[str, Any]) -> tuple[str, list, BaseException | None]:
    """Run one cell's code: (what it printed, the objects it printed, its error or None)."""
    out = io.StringIO()
    printed: list[Any] = []

    def recording_print(*args: Any, **kwargs: Any) -> None:
        # The cell's own print, also keeping what it printed: the value the case returned is
        # then compared with its declaration without running the case a third time.
        printed.extend(args)
        print(*args, **kwargs)

    namespace["print"] = recording_print
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True), isolated():
        warnings.simplefilter("always")
        try:
            exec(compile(code, "<cell>", "exec"), namespace)
        except Exception as exc:  # reported as the cell's error and as a build error
            return out.getvalue(), printed, exc
        finally:
            del namespace["print"]
    return out.getvalue(), printed, None


def _agrees(case: Case, text: str, printed: list[Any]) -> list[str]:
    """Mismatches between the cell's run and its case's declaration (empty: it agrees)."""
    declared = case.outcome.resolve()
    if isinstance(declared, Raises):
        first, _, rest = text.partition(": ")
        if first.strip() != declared.exc_type.__name__ or not re.search(declared.pattern, rest):
            return [f"the cell printed {text[:200]!r}, expected {declared.describe()}"]
        return []
    values = printed[-1] if printed and isinstance(printed[-1], dict) else None
    if values is None and printed:
        return [f"the cell printed {text[:200]!r}, not the dict of observations"]
    observation = Observation(case_id=case.id, values=dict(values or {}))
    # Warnings are the case runner's to check; here: the values.
    return [m for m in declared.mismatches(observation) if "warn" not in m]


def write_downloads(app: Sphinx, env: Any) -> None:
    """Execute and write ``<page>.ipynb`` and ``<page>.py`` for every page of cases.

    A family overview's notebook is its sub-pages' executed cells in the overview's order, after
    a setup cell of all their imports and helpers: no case runs a second time for it."""
    if (app.config.language or "en") != "en":
        return  # the English build writes them; the other editions link there
    pages: dict[str, list[str]] = env.__dict__.get("rnn_page_cases", {})
    out_dir = Path(app.srcdir) / "_generated" / "site" / DOWNLOADS
    out_dir.mkdir(parents=True, exist_ok=True)
    ran: dict[str, tuple[dict[str, Any], str]] = {}  # case id -> (its executed cell, its code)
    for docname, case_ids in sorted(pages.items()):
        setup, cells = _notebook_parts(case_ids)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        setup_cell = _code_cell(setup, namespace, 1, docname)[0]
        for case, code in cells:
            cell, printed = _code_cell(code, namespace, 0, docname)
            text = "".join(o.get("text", "") for o in cell["outputs"])
            problems = _agrees(case, text, printed)
            if problems:
                logger.error(
                    "page %r: the notebook cell of %r does not show what the case declares: %s",
                    docname,
                    case.id,
                    "; ".join(problems),
                )
            ran[case.id] = (cell, code)
        _write_notebook(env, out_dir, docname, setup, setup_cell, case_ids, ran)
    overviews: dict[str, list[str]] = env.__dict__.get("rnn_family_subpages", {})
    for docname, subpages in sorted(overviews.items()):
        case_ids = [c for sub in subpages for c in pages.get(sub, [])]
        setup, _ = _notebook_parts(case_ids)
        setup_cell = _code_cell(setup, {"__name__": "__main__"}, 1, docname)[0]
        _write_notebook(env, out_dir, docname, setup, setup_cell, case_ids, ran)


def _write_notebook(
    env: Any,
    out_dir: Path,
    docname: str,
    setup: str,
    setup_cell: dict[str, Any],
    case_ids: list[str],
    ran: dict[str, tuple[dict[str, Any], str]],
) -> None:
    title = env.titles[docname].astext() if docname in env.titles else docname
    nb_cells = [_markdown(_intro(title, docname)), setup_cell]
    script = [f'"""{title}: the cases of the rnn-autograd docs page {docname}."""', setup]
    for n, case_id in enumerate(case_ids, start=2):
        case = get_case(case_id)
        cell, code = ran[case_id]
        nb_cells.append(_markdown(f"## {case.question}\n\n`{case.id}`: {case.summary}"))
        nb_cells.append(dict(cell, execution_count=n))
        script.append(f"# %% {case.id}: {case.question}\n{code}")
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "rnn_autograd": {"page": docname, "torch": torch.__version__},
        },
        "cells": [dict(c, id=f"cell-{i}") for i, c in enumerate(nb_cells)],
    }
    slug = _slug(docname)
    (out_dir / f"{slug}.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", "utf-8")
    (out_dir / f"{slug}.py").write_text("\n\n".join(script).rstrip() + "\n", "utf-8")


def _intro(title: str, docname: str) -> str:
    return (
        f"# {title}\n\nThe cases of the rnn-autograd docs page `{docname}`, each with the "
        f"output it printed when the docs were built (torch {torch.__version__}). Run the first "
        "cell (imports and helpers), then any case."
    )


def _markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(keepends=True)}


def _code_cell(
    code: str, namespace: dict[str, Any], count: int, docname: str
) -> tuple[dict[str, Any], list[Any]]:
    text, printed, error = _run_cell(code, namespace)
    outputs: list[dict[str, Any]] = []
    if text:
        outputs.append({"output_type": "stream", "name": "stdout", "text": text})
    if error is not None:
        logger.error("page %r: a notebook cell raised %r", docname, error)
        tb = traceback.format_exception(type(error), error, error.__traceback__)
        outputs.append(
            {
                "output_type": "error",
                "ename": type(error).__name__,
                "evalue": str(error),
                "traceback": [line.rstrip("\n") for line in tb],
            }
        )
    cell = {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "outputs": outputs,
        "source": code.splitlines(keepends=True),
    }
    return cell, printed


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("family_overview")
    app.connect("doctree-read", add_questions_and_downloads)
    app.connect("env-updated", lambda app, env: write_downloads(app, env) or [])
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
