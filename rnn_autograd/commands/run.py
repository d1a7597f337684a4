"""``run``: run a Python script as ``python SCRIPT ARGS...`` would, and name the line that broke backward.

``rnn-autograd run train.py --epochs 3``: the script runs as ``__main__`` with its own
``sys.argv`` and ``sys.path[0]`` (its folder), in the current directory, under
``rnn_autograd.record()``. When it dies of an autograd error, the usual traceback is printed
(without this command's own frames) and, after it, the diagnosis: the stale saved tensor and each
in-place change that moved it (an optimizer's ``step()`` included), or the variable that carried
a freed graph into this backward and where to detach it; then the matching cases and their fixes.
An autograd warning the script printed gets its matching cases after the run.

Its exit status is the script's: 0 when it ends, 1 when it raises, ``SystemExit``'s code when it
exits. A script that cannot be read is one line and status 2 (as ``python`` does); a syntax error
is Python's own report and status 1. Nothing else is added but at most one line.
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
import traceback
import types
import warnings

from ..diagnose import recording, transparent_call
from ..diagnose.explain import match_text
from ..diagnose.leaf_culprit import nonleaf_grad_lines
from ..diagnose.locations import is_user_file
from ..diagnose.recording import record
from ..errors import UsageError
from ..spec import Case, all_cases, get_case

__all__ = ["register", "run_script"]

# Frames of the recording itself, never the user's: left out of the printed traceback.
_OWN_FILES = frozenset(
    os.path.splitext(os.path.abspath(m.__file__))[0]
    for m in (sys.modules[__name__], recording, transparent_call)
)
_MAX_WARNINGS = 3
_NON_LEAF = "attribute of a Tensor that is not a leaf Tensor is being accessed"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a Python script; on an autograd error, name the line of your code that broke it",
        epilog="example: rnn-autograd run train.py --epochs 2",
    )
    p.add_argument("script", metavar="SCRIPT", help="the Python script, as for `python SCRIPT`")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's arguments")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return run_script(args.script, args.args)


def run_script(script: str, argv: list[str] | None = None) -> int:
    """Run ``script`` as ``__main__`` under ``record()``; print the diagnosis; its exit status."""
    path = os.path.abspath(script)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        # python's own words: "can't open file '...': [Errno 2] No such file or directory"
        raise UsageError(
            f"can't open file {script!r}: [Errno {exc.errno}] {exc.strerror}; "
            "give the path of a Python script"
        ) from None
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # python's report of it, status 1, no traceback
        print("".join(traceback.format_exception_only(type(exc), exc)), end="", file=sys.stderr)
        return 1
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *(argv or [])]
    sys.path[:1] = [os.path.dirname(path)]  # as python does: the script's folder comes first
    seen: list[tuple] = []
    try:
        with _warnings_seen(seen), _as_main(path) as namespace, record(home=path):
            exec(code, namespace)
    except SystemExit as exc:
        return _exit_status(exc)
    except KeyboardInterrupt as exc:
        _print_exception(exc, path)
        return 130
    except BaseException as exc:  # the script's error: printed as python would, then diagnosed
        _print_exception(exc, path)
        if not _print_warning_raised(exc):
            _print_notes_or_line(exc)
        return 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        _warning_cases(seen)
    return 0


class _as_main:
    """A fresh ``__main__`` module for the script, as python makes one (runpy.run_path would
    also set ``sys.argv[0]`` to the absolute path, where python keeps it as given)."""

    def __init__(self, path: str) -> None:
        self.module = types.ModuleType("__main__")
        self.module.__file__ = path
        self.module.__builtins__ = builtins
        self.module.__spec__ = None  # as for `python SCRIPT`

    def __enter__(self) -> dict:
        self.previous = sys.modules.get("__main__")
        sys.modules["__main__"] = self.module
        return self.module.__dict__

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            sys.modules["__main__"] = self.previous


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # python prints a non-integer code and exits 1
    return 1


class _warnings_seen:
    """Remember each warning shown (its category and text); it is shown exactly as before."""

    def __init__(self, seen: list[tuple]) -> None:
        self.seen = seen

    def __enter__(self) -> None:
        self.original = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            why = nonleaf_grad_lines(filename, lineno) if _NON_LEAF in str(message) else []
            self.seen.append((f"{filename}:{lineno}", category, str(message), why))
            return self.original(message, category, filename, lineno, file, line)

        warnings.showwarning = show

    def __exit__(self, *exc: object) -> None:
        warnings.showwarning = self.original


def _warning_cases(seen: list[tuple]) -> None:
    """After the run: each autograd warning shown, with the cases that declare it."""
    shown: set[str] = set()
    for where, category, message, why in seen:
        if message in shown or len(shown) >= _MAX_WARNINGS:
            continue
        cases = _cases_declaring(category, message)
        if not cases:
            continue
        shown.add(message)
        first = f"{category.__name__}: {message}".splitlines()[0]
        print(
            f"rnn-autograd: the warning at {_relative(where)} ({first[:80]}...):", file=sys.stderr
        )
        for line in why:  # what the recording saw of the tensor the line reads
            print(line, file=sys.stderr)
        for c in cases[:3]:
            fix = f" (fix: {c.fix}: {get_case(c.fix).question})" if c.fix else ""
            print(f"  {c.id}: {c.question}{fix}", file=sys.stderr)


def _cases_declaring(category: type[Warning], message: str) -> list[Case]:
    """Cases whose declared outcome warns this (``Warned``), then those explain matches."""
    found: dict[str, Case] = {}
    for c in all_cases():
        try:
            declared = c.outcome.resolve()
        except LookupError:
            continue
        if any(w.matches_warning(category, message) for w in getattr(declared, "warns", ())):
            found.setdefault(c.id, c)
    for m in match_text(f"{category.__name__}: {message}"):
        if m.tier != "hint":
            found.setdefault(m.case.id, m.case)
    return list(found.values())


def _relative(where: str) -> str:
    cwd = os.getcwd().rstrip(os.sep) + os.sep
    return where[len(cwd) :] if where.startswith(cwd) else where


def _print_warning_raised(exc: BaseException) -> bool:
    """A warning raised as an error (``-W error``): what the recording saw, and its cases."""
    if not isinstance(exc, Warning) or _NON_LEAF not in str(exc):
        return False
    tb, user = exc.__traceback__, None
    while tb is not None:  # the innermost line of the user's own code
        if is_user_file(tb.tb_frame.f_code.co_filename):
            user = tb
        tb = tb.tb_next
    if user is None:
        return False
    tb = user
    code = tb.tb_frame.f_code
    seen = [(f"{code.co_filename}:{tb.tb_lineno}", type(exc), str(exc))]
    why = nonleaf_grad_lines(code.co_filename, tb.tb_lineno, frame=tb.tb_frame)
    _warning_cases([(*seen[0], why)])
    return True


def _print_notes_or_line(exc: BaseException) -> None:
    notes = getattr(exc, "__notes__", None)
    if notes and sys.version_info < (3, 11):  # Python 3.10 does not print notes itself
        for note in notes:
            print(note, file=sys.stderr)
    elif not notes:
        print(
            f"rnn-autograd run: {type(exc).__name__} is not an autograd error this tool knows;"
            " nothing to add",
            file=sys.stderr,
        )


def _print_exception(exc: BaseException, script: str) -> None:
    """The traceback python would print: from the script's frames on, without ours."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    for part in _chain(te):
        part.stack = traceback.StackSummary.from_list(_user_view(part.stack, script))
    print("".join(te.format()), end="", file=sys.stderr)


def _chain(te: traceback.TracebackException):
    seen, todo = set(), [te]
    while todo:
        part = todo.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        yield part
        todo += [p for p in (part.__cause__, part.__context__) if p is not None]


def _user_view(stack: traceback.StackSummary, script: str) -> list[traceback.FrameSummary]:
    frames = list(stack)
    starts = [i for i, f in enumerate(frames) if os.path.abspath(f.filename) == script]
    if starts:
        frames = frames[starts[0] :]  # runpy's and this command's frames come before the script's
    frames = [
        f for f in frames if os.path.splitext(os.path.abspath(f.filename))[0] not in _OWN_FILES
    ]
    # The recording's mode is reached through torch's handle_torch_function: that frame and the
    # line that called it would not be there without recording.
    kept: list[traceback.FrameSummary] = []
    for f in frames:
        if f.name == "handle_torch_function" and f.filename.endswith("overrides.py"):
            if kept and kept[-1].line and "handle_torch_function" in kept[-1].line:
                kept.pop()
            continue
        kept.append(f)
    return kept
