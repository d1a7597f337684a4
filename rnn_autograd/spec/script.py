"""A case as a script a reader can copy and run: its imports, the helpers it calls, the call.

``case_script(case)`` gathers, from the source of the case's module, what the case's function
needs that the function does not define: the import lines it uses (``import torch``, ``from
torch import nn``), the module-level helpers and constants it calls (``notebook()``, ``BATCH``,
``_versions_in``), followed into the modules they come from (``from ._notebook import ...``)
and through what *they* use, in the order they are defined. The machinery's ``snapshot`` (which
records a graph picture while the docs are built) becomes a one-line no-op, so the script needs
torch and nothing of rnn-autograd. Lint markers (``# noqa``) are dropped: they are for this
repository's linter, not for the reader.

The script seeds ``torch`` and ``random`` as the case runner does, so its numbers are the page's.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import inspect
import re
from dataclasses import dataclass, field

from .case import Case
from .outcome import Raises
from .run import SEED

__all__ = ["SEEDING", "CaseScript", "case_script", "strip_lint_markers"]

_NOQA = re.compile(r"[ \t]*# noqa\b[^\n]*")
_MACHINERY = "rnn_autograd.spec"
_SNAPSHOT_STUB = (
    "def snapshot(label, *tensors):\n"
    '    """On the docs site this records the graph for a picture; here it does nothing."""\n'
)


# A case declared with ``ranks=2`` is what each process of a DDP script runs: its script carries
# this launcher, which does what ``rnn_autograd.spec.ranks`` does for the spec (two processes, a
# gloo group on the loopback interface, seeded alike, bounded waits), in plain code a reader can
# copy. Forked, so that a function defined in a notebook runs too.
_RANKS_LAUNCHER = '''def _rank_main(func, rank, world_size, port, results):
    """One process: join the gloo group, run func(rank, world_size), send back what it did."""
    import datetime
    import os

    import torch.distributed as dist

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # gloo's own sockets on the loopback interface
    torch.manual_seed(0)  # both ranks build the same model, as DDP expects
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        results.put((rank, "ok", func(rank, world_size)))
    except Exception as error:  # the error is what the case shows: sent back to be raised again
        results.put((rank, "raised", (type(error), str(error))))
    finally:
        dist.destroy_process_group()


def on_two_ranks(func, timeout=60.0):
    """Run func(rank, world_size) on two processes, as torchrun would: rank 0's result or error."""
    import multiprocessing
    import socket

    with socket.socket() as free:  # a free port for the rendezvous, on 127.0.0.1 only
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    procs = [
        context.Process(target=_rank_main, args=(func, rank, 2, port, results)) for rank in (0, 1)
    ]
    for proc in procs:
        proc.start()
    try:
        done = {rank: (status, value) for rank, status, value in
                (results.get(timeout=timeout) for _ in procs)}
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    status, value = done[0]
    if status == "raised":
        error_type, message = value
        raise error_type(message)
    return value
'''


def strip_lint_markers(text: str) -> str:
    """``l = loss(...)  # noqa: E741 (...)`` -> ``l = loss(...)``."""
    return _NOQA.sub("", text)


@dataclass
class CaseScript:
    """The parts of a case's script; ``text`` joins them."""

    imports: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)  # source of each helper, in order
    helper_names: list[str] = field(default_factory=list)  # every helper, called or used by one
    uses: list[str] = field(default_factory=list)  # the helpers the case's own code names
    body: str = ""  # the case's function
    call: str = ""  # seeding, then the call: prints what it returns or the error it raises

    @property
    def setup(self) -> str:
        """Imports and helpers: what must run before the case's function."""
        parts = ["\n".join(self.imports), *self.helpers]
        return "\n\n\n".join(p.rstrip() for p in parts if p.strip()) + "\n"

    @property
    def code(self) -> str:
        """The case's function, then the seeding and the call."""
        return f"{self.body.rstrip()}\n\n\n{self.call}\n"

    @property
    def text(self) -> str:
        return f"{self.setup}\n\n{self.code}"


SEEDING = (
    f"torch.manual_seed({SEED})  # seeded as on the page, so the numbers match\nrandom.seed({SEED})"
)


def case_script(case: Case) -> CaseScript:
    """The runnable script of ``case``: see the module's doc."""
    module = importlib.import_module(case.module)
    body = strip_lint_markers(case.source)
    gatherer = _Gatherer()
    free = _free_names(body)
    gatherer.need(module, free)
    gatherer.imports.update({"import random", "import torch"})  # the seeding uses both
    name = case.func.__name__
    declared = case.outcome.resolve()
    invoke = f"on_two_ranks({name})" if case.ranks else f"{name}()"
    if isinstance(declared, Raises):
        error = declared.exc_type.__name__
        module_of_error = declared.exc_type.__module__
        if module_of_error != "builtins":  # e.g. torch.utils.checkpoint's CheckpointError
            gatherer.imports.add(f"from {module_of_error} import {error}")
        call = (
            f"try:\n    {invoke}\nexcept {error} as error:  # what this case shows: it raises\n"
            '    print(f"{type(error).__name__}: {error}")'
        )
    else:
        call = f"print({invoke})"
    call = f"{SEEDING}\n{call}"
    imports = ["from __future__ import annotations", "", *sorted(gatherer.imports, key=_import_key)]
    helpers = list(gatherer.helpers.values())
    if case.ranks:
        helpers.append(_RANKS_LAUNCHER)
    return CaseScript(
        imports=imports,
        helpers=helpers,
        helper_names=gatherer.helper_names + (["on_two_ranks", "_rank_main"] if case.ranks else []),
        uses=[n for n in free if n in gatherer.helper_names],
        body=body,
        call=call,
    )


def _import_key(line: str) -> tuple[int, str]:
    return (0 if line.startswith("import ") else 1, line)


def _free_names(source: str) -> list[str]:
    """Names a piece of code reads but does not bind itself (nor are builtins), in order."""
    tree = ast.parse(source)
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    free: list[str] = []
    # In reading order (ast.walk goes breadth first).
    names = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Name)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in names:
        read = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        if read and node.id not in bound and not hasattr(builtins, node.id) and node.id not in free:
            free.append(node.id)
    return free


class _Gatherer:
    def __init__(self) -> None:
        self.imports: set[str] = set()
        # (module, first line) -> source: each statement once, after what it uses (insertion
        # order is post-order: a helper is added once its own needs have been).
        self.helpers: dict[tuple[str, int], str] = {}
        self.helper_names: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def need(self, module, names: list[str]) -> None:
        for name in names:
            if (module.__name__, name) in self._seen:
                continue
            self._seen.add((module.__name__, name))
            self._need_one(module, name)

    def _need_one(self, module, name: str) -> None:
        tree, source = _module_ast(module)
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    if bound == name:
                        self._from_import(module, stmt, alias)
                        return
            elif name in _binds(stmt):
                self._helper(module, stmt, source, name)
                return
        raise LookupError(f"{module.__name__}: cannot find where {name!r} is defined")

    def _from_import(self, module, stmt: ast.stmt, alias: ast.alias) -> None:
        if isinstance(stmt, ast.Import):
            text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
            self.imports.add(text)
            return
        target = stmt.module or ""
        if stmt.level:
            target = importlib.util.resolve_name("." * stmt.level + target, module.__package__)
        if target == _MACHINERY or target.startswith(_MACHINERY + "."):
            if alias.name != "snapshot":
                raise LookupError(f"a case body uses {alias.name!r} of the case machinery")
            self._add(("snapshot-stub", 0), _SNAPSHOT_STUB, "snapshot")
            return
        if target.split(".")[0] != module.__name__.split(".")[0]:
            rename = f" as {alias.asname}" if alias.asname else ""
            self.imports.add(f"from {target} import {alias.name}{rename}")
            return
        if alias.asname:
            raise LookupError(f"{module.__name__}: a renamed helper import ({alias.name!r})")
        # A helper of the case library: follow it into its own module.
        self.need(importlib.import_module(target), [alias.name])

    def _helper(self, module, stmt: ast.stmt, source: str, name: str) -> None:
        text = strip_lint_markers(ast.get_source_segment(source, stmt, padded=False) or "")
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.decorator_list:
            start = stmt.decorator_list[0].lineno
            text = "\n".join(source.splitlines()[start - 1 : stmt.end_lineno])
        # What the helper itself reads comes first: it is gathered before the helper is added.
        self.need(module, _free_names(text))
        self._add((module.__name__, stmt.lineno), text, name)

    def _add(self, key: tuple[str, int], text: str, name: str) -> None:
        if key not in self.helpers:
            self.helpers[key] = text
        if name not in self.helper_names:
            self.helper_names.append(name)


def _binds(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                names.add(node.id)
    return names


_AST_CACHE: dict[str, tuple[ast.Module, str]] = {}


def _module_ast(module) -> tuple[ast.Module, str]:
    if module.__name__ not in _AST_CACHE:
        source = inspect.getsource(module)
        _AST_CACHE[module.__name__] = (ast.parse(source), source)
    return _AST_CACHE[module.__name__]
