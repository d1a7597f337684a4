"""``explain``: from an error message or a whole traceback to the cases that explain it.

``rnn-autograd explain "RuntimeError: Trying to backward through the graph a second time"``
or ``python train.py 2>&1 | rnn-autograd explain -``. Exit 0 when a case declares the error,
1 when none does (weak hints may still be printed), 2 for empty input.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from ..diagnose.explain import Match, match_text
from ..errors import UsageError
from ..spec import get_case
from . import _console

__all__ = ["format_match", "register"]

_TIER_TEXT = {
    "declared": "declares this exception and message",
    "pattern": "declares this message (exception type {type})",
    "hint": "may be related (no declared pattern matches)",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="name the cases that explain an error message or traceback, with their fixes",
        epilog="example: python train.py 2>&1 | rnn-autograd explain -",
    )
    p.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="the error message; '-' or nothing reads a traceback from standard input",
    )
    p.add_argument("--limit", "-n", type=int, default=5, help="show at most N cases (default 5)")
    p.set_defaults(func=_explain)


def _read(args: argparse.Namespace) -> str:
    if args.text and args.text != ["-"]:
        return " ".join(args.text)
    if not args.text and sys.stdin.isatty():
        raise UsageError("no error given; pass the message as TEXT, or '-' to read a traceback")
    return sys.stdin.read()


def format_match(rank: int, m: Match) -> str:
    """A numbered block: id, why it matched, question, summary, fix, where to read more."""
    c = m.case
    why = _TIER_TEXT[m.tier].format(type=m.declared.exc_type.__name__)
    if m.other_torch:
        why += f", declared for torch {m.other_torch}"
    lines = [f"{rank}. {c.id}  ({why})", f"   {c.question}"]
    lines += textwrap.wrap(c.summary, width=96, initial_indent="   ", subsequent_indent="   ")
    if c.fix:
        lines.append(f"   Fix: {c.fix}: {get_case(c.fix).question}")
    more = [f"rnn-autograd show {c.id}"] + [s for s in c.see_also if s != c.fix]
    lines.append("   Read more: " + "; ".join(more))
    return "\n".join(lines)


def match_markdown(rank: int, m: Match) -> str:
    """The same block as Markdown, for a terminal: the summary's code and emphasis rendered."""
    c = m.case
    why = _TIER_TEXT[m.tier].format(type=m.declared.exc_type.__name__)
    if m.other_torch:
        why += f", declared for torch {m.other_torch}"
    lines = [f"**{rank}. `{c.id}`** ({why})", "", f"*{c.question}*", "", c.summary, ""]
    if c.fix:
        lines += [f"Fix: `{c.fix}`: {get_case(c.fix).question}", ""]
    more = [f"`rnn-autograd show {c.id}`"] + [f"`{s}`" for s in c.see_also if s != c.fix]
    return "\n".join([*lines, "Read more: " + "; ".join(more)])


def _print_match(rank: int, m: Match) -> None:
    if _console.fancy():
        print()
        _console.print_markdown(match_markdown(rank, m))
    else:
        print("\n" + format_match(rank, m))


def _explain(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    text = _read(args)
    if not text.strip():
        raise UsageError("the error text is empty; pass a message, or pipe a traceback into '-'")
    matches = match_text(text)
    firm = [m for m in matches if m.tier != "hint"]
    hints = [m for m in matches if m.tier == "hint"]
    if firm:
        print(
            f"{len(firm)} case(s) declare this error"
            + (":" if len(firm) <= args.limit else f"; the first {args.limit}:")
        )
        for i, m in enumerate(firm[: args.limit], 1):
            _print_match(i, m)
        return 0
    print("No case declares this error.")
    if hints:
        print("These may be related:")
        for i, m in enumerate(hints[: args.limit], 1):
            _print_match(i, m)
    print("\nSee every case with 'rnn-autograd list'.")
    return 1
