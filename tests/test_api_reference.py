"""The API reference (docs/api/): one page per part, every public name documented once, every
parameter of the public functions described.

The plan of the pages comes from ``docs/_ext/reference_pages.py`` (what each ``{api-reference}``
page documents); the built pages are read where the site is built (``make docs``; those tests
skip without it).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import rnn_autograd

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
BUILT = ROOT / "docs" / "_build" / "html" / "api"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

from reference_pages import api_page_names, api_plan  # noqa: E402 - docs/_ext is not a package

EXPORTED = [n for n in rnn_autograd.__all__ if not n.startswith("_")]


def _documented() -> dict[int, list[str]]:
    """id of each object the pages document (members, and modules) -> where."""
    where: dict[int, list[str]] = {}
    for page in api_page_names():
        for _heading, module, members in api_plan(page):
            mod = importlib.import_module(module)
            where.setdefault(id(mod), []).append(f"{page}: module {module}")
            if members is None:  # ":members:": what the module defines
                members = [
                    n
                    for n, o in vars(mod).items()
                    if not n.startswith("_") and getattr(o, "__module__", None) == module
                ]
            for name in members:
                where.setdefault(id(getattr(mod, name)), []).append(f"{page}: {module}.{name}")
    return where


def test_the_index_lists_each_api_page_and_each_page_documents_its_part():
    index = (API / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, re.S)
    assert toctree, "docs/api/index.md has no toctree"
    entries = [line for line in toctree[1].splitlines() if line and not line.startswith(":")]
    assert entries == api_page_names()
    for name in entries:
        text = (API / f"{name}.md").read_text(encoding="utf-8")
        assert f"```{{api-reference}} {name}\n" in text, f"docs/api/{name}.md"


def test_every_public_name_is_documented_on_exactly_one_api_page():
    where = _documented()
    counts = {n: where.get(id(getattr(rnn_autograd, n)), []) for n in EXPORTED}
    wrong = {n: w for n, w in counts.items() if len(w) != 1}
    assert not wrong, wrong


def test_an_unknown_api_page_is_an_error_naming_the_pages():
    with pytest.raises(ValueError, match="public, diagnose"):
        api_plan("diagnosis")


def _public_callables():
    for name in EXPORTED:
        obj = getattr(rnn_autograd, name)
        if inspect.ismodule(obj):  # the callable package diagnose: its function
            obj = getattr(obj, name)
        if inspect.isclass(obj) and (
            (dataclasses.is_dataclass(obj) and obj.__module__ != "rnn_autograd.spec.outcome")
            or ("__init__" not in vars(obj) and not dataclasses.is_dataclass(obj))
            or issubclass(obj, Exception)
        ):
            # results that users read, not build (the declarations of spec.outcome they do
            # build), no parameters of its own, or an exception's message
            continue
        yield name, obj


def _described(doc: str) -> set[str]:
    """The parameter names of the docstring's ``Args:`` section (Google style)."""
    section = re.search(r"^Args:\n((?:[ ]{4}.*\n|\n)+)", doc + "\n", re.M)
    if not section:
        return set()
    return {m[1] for m in re.finditer(r"^[ ]{4}\**(\w+):", section[1], re.M)}


@pytest.mark.parametrize("name,obj", list(_public_callables()), ids=lambda v: str(v)[:30])
def test_every_parameter_of_a_public_function_is_described(name, obj):
    params = [
        p for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")
    ]
    missing = {p.name for p in params} - _described(inspect.getdoc(obj) or "")
    assert not missing, f"{name}: no description of {sorted(missing)} in its Args: section"


def _built(name: str) -> str:
    page = BUILT / name
    if not page.exists():
        pytest.skip(f"the built site is absent ({page}); run `make docs` first")
    return page.read_text(encoding="utf-8")


def test_the_built_api_index_links_to_each_part_page():
    index = _built("index.html")
    for name in api_page_names():
        assert f'href="{name}.html"' in index, name


def test_every_public_name_has_its_entry_on_a_built_api_page():
    ids = set()
    for name in api_page_names():
        ids |= set(re.findall(r'id="(?:module-)?(rnn_autograd[\w.]*)"', _built(f"{name}.html")))
    entries = {}
    for i in ids:
        module, _, attr = i.rpartition(".")
        try:
            obj = importlib.import_module(i) if not attr or not module else None
        except ImportError:
            obj = None
        if obj is None:
            try:
                obj = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                try:
                    obj = importlib.import_module(i)
                except ImportError:
                    continue
        entries[id(obj)] = i
    missing = [n for n in EXPORTED if id(getattr(rnn_autograd, n)) not in entries]
    assert not missing, f"no entry on the built API pages for {missing}"
