"""``list`` and ``show``: browse the cases; ``show`` runs one against the installed torch.

On a terminal ``show`` renders the case's Markdown (code, emphasis) in colour; piped or with
``NO_COLOR``, the same parts as plain text.
"""

from __future__ import annotations

import argparse
import textwrap

import torch

from ..spec import all_cases, check, get_case
from . import _console

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="one line per case: id and question",
        epilog="example: rnn-autograd list --family rnn-state",
    )
    p.add_argument("--family", "-f", help="only the cases of this family")
    p.set_defaults(func=_list)

    p = sub.add_parser(
        "show",
        help="a case's question, code, observed outcome, explanation and fix",
        epilog="example: rnn-autograd show rnn-state/retain-graph-then-step",
    )
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    cases = all_cases(args.family)
    width = max(len(c.id) for c in cases)
    for c in cases:
        print(f"{c.id:<{width}}  {c.question}")
    return 0


def _show(args: argparse.Namespace) -> int:
    c = get_case(args.id)
    v = check(c)
    outcome = [
        f"Observed on torch {torch.__version__}:\n  {v.observation.describe()}",
        f"Declared:\n  {v.declared.describe()}  -> {v.label}",
        *[f"  - {m}" for m in v.mismatches],
    ]
    fix = get_case(c.fix) if c.fix else None
    if _console.fancy():
        _show_rich(c, v, outcome, fix)
        return 0 if v.ok else 1
    wrap = lambda s: textwrap.fill(s, width=100)  # noqa: E731 - local one-liner
    print(f"{c.id}\n{'=' * len(c.id)}\n")
    print(wrap(c.question) + "\n")
    if c.expect:
        print("What you might expect:\n  " + wrap(c.expect) + "\n")
    print("Code:\n" + textwrap.indent(c.source, "    "))
    print("\n".join(outcome))
    print("\nWhy:\n" + textwrap.indent(c.explanation, "  "))
    if fix is not None:
        print(
            f"\nDo this instead: {fix.id} ({check(fix).label})\n"
            + textwrap.indent(fix.source, "    ")
        )
    if c.see_also:
        print("See also: " + ", ".join(c.see_also))
    return 0 if v.ok else 1


def _show_rich(c, v, outcome: list[str], fix) -> None:
    """The same parts as Markdown, rendered: headings, highlighted code, the verdict in colour."""
    out = _console.console()
    _console.heading(c.id, "bold cyan")
    _console.print_markdown(f"**{c.question}**")
    if c.expect:
        _console.print_markdown(f"### What you might expect\n\n{c.expect}")
    _console.print_markdown(f"### Code\n\n```python\n{c.source}```")
    out.print("\n".join(outcome), style="green" if v.ok else "bold red", markup=False)
    _console.print_markdown(f"### Why\n\n{c.explanation}")
    if fix is not None:
        _console.print_markdown(
            f"### Do this instead: `{fix.id}` ({check(fix).label})\n\n```python\n{fix.source}```"
        )
    if c.see_also:
        _console.print_markdown("See also: " + ", ".join(f"`{s}`" for s in c.see_also))
