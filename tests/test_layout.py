"""The package's layout says what the project is: six parts, no import circles, one direction."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnn_autograd"
CYCLES_TOOL = PACKAGE.parents[1] / "shared" / "tools" / "import_cycles.py"
PARTS = ("spec", "cases", "diagnose", "pipeline", "bench", "commands")
TOP_FILES = {"__init__.py", "__main__.py", "cli.py", "errors.py"}

# Which parts each part may import (besides itself and ``errors``): the docstring of each
# part's ``__init__.py`` says the same in words.
ALLOWED = {
    "spec": set(),
    "cases": {"spec"},
    "diagnose": {"spec"},
    "pipeline": set(),
    "bench": {"pipeline", "diagnose"},
    "commands": {"spec", "cases", "diagnose", "pipeline", "bench"},
}


def _imports(path: Path) -> set[str]:
    """Absolute ``rnn_autograd...`` names that ``path`` imports (relative imports resolved)."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                head = ".".join(base + ([node.module] if node.module else []))
            else:
                head = node.module or ""
            found.add(head)
            found |= {f"{head}.{a.name}" for a in node.names}
    return {name for name in found if name.split(".")[0] == "rnn_autograd"}


def _part(name: str) -> str | None:
    bits = name.split(".")
    return bits[1] if len(bits) > 1 and bits[1] in PARTS else None


def test_the_top_of_the_package_holds_only_the_entry_points_and_the_six_parts():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries == TOP_FILES | set(PARTS)


@pytest.mark.parametrize("part", PARTS)
def test_each_part_imports_only_what_its_docstring_allows(part):
    wrong = []
    for path in sorted((PACKAGE / part).rglob("*.py")):
        for name in _imports(path):
            target = _part(name)
            if target and target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
            if name.split(".")[1:2] == ["cli"]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("part", PARTS)
def test_each_part_says_what_it_is_for_and_what_it_may_import(part):
    doc = ast.get_docstring(ast.parse((PACKAGE / part / "__init__.py").read_text()))
    assert doc and "import" in doc and len(doc) > 120, f"{part}/__init__.py needs its docstring"


def test_no_module_grows_past_the_size_a_reader_can_hold():
    long = [
        f"{p.relative_to(PACKAGE)}: {n} lines"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long


@pytest.mark.skipif(not CYCLES_TOOL.exists(), reason="../shared/tools/import_cycles.py is absent")
def test_the_shared_tool_finds_no_import_cycle():
    out = subprocess.run(
        [sys.executable, str(CYCLES_TOOL), str(PACKAGE)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().endswith(
        "0 import cycles among " + out.stdout.split()[-2] + " modules"
    )
    assert "cycle:" not in out.stdout


def test_no_import_cycle_among_the_packages_modules():
    """The same check as the shared tool, written here so that it runs without ../shared."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = {
        m: {r for n in _imports(p) if (r := resolve(n)) and r != m} for m, p in modules.items()
    }
    # Depth-first search for a back edge; report the first cycle found.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        state[m] = 2
        path.pop()
        return None

    for m in sorted(modules):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_spec_machinery_never_reaches_up_into_the_case_library():
    # Whoever runs the cases (cli, pytest, docs, rnn_autograd's __init__) imports the library.
    for path in (PACKAGE / "spec").rglob("*.py"):
        assert not [n for n in _imports(path) if _part(n) not in (None, "spec")], path
