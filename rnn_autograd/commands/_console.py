"""Terminal output shared by the subcommands: Markdown and colour on a terminal, plain otherwise.

Rich output (``rich``) only when standard output is a terminal, ``NO_COLOR`` is unset (any value,
https://no-color.org) and ``TERM`` is not ``dumb``; piped or redirected, every command prints
plain text that scripts and tests can read. Not a subcommand: ``cli`` skips modules named ``_*``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

__all__ = ["console", "fancy", "heading", "print_markdown", "progress", "table"]


def fancy(stream: IO[str] | None = None) -> bool:
    """Rich output for ``stream`` (standard output by default)?"""
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(stream: IO[str] | None = None) -> Any:
    """A ``rich`` console writing to ``stream``, for a terminal only (see ``fancy``)."""
    from rich.console import Console

    return Console(file=stream if stream is not None else sys.stdout, highlight=False)


def print_markdown(text: str, *, indent: int = 0) -> None:
    """Markdown rendered on a terminal (code, emphasis, lists); the text itself when plain."""
    if not fancy():
        pad = " " * indent
        print("\n".join(pad + line if line else line for line in text.splitlines()))
        return
    from rich.markdown import Markdown
    from rich.padding import Padding

    console().print(Padding(Markdown(text, code_theme="ansi_dark"), (0, 0, 0, indent)))


def heading(text: str, style: str = "bold") -> None:
    """A heading line: styled on a terminal, the text when plain."""
    if fancy():
        console().print(text, style=style, markup=False)
    else:
        print(text)


def table(columns: Sequence[str], rows: Iterable[tuple[Sequence[str], str | None]]) -> None:
    """A rich table that fits the terminal: long cells wrap, nothing is cut. Rows: (cells, style)."""
    from rich.table import Table

    t = Table(*columns, header_style="bold", expand=False)
    for i, col in enumerate(t.columns):
        # First and last (an id, a verdict) whole on one line; the others wrap, and a long token
        # (a regex, a path) folds across lines: never "…".
        col.no_wrap = i in (0, len(t.columns) - 1)
        col.overflow = "fold"
    for cells, style in rows:
        t.add_row(*cells, style=style)
    console().print(t)


def progress(items: Sequence[Any], description: str) -> Iterator[Any]:
    """``items``, with a progress bar on standard error when that is a terminal (else nothing)."""
    if not fancy(sys.stderr) or len(items) < 2:
        yield from items
        return
    from rich.progress import Progress

    with Progress(console=console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)
