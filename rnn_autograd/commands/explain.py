"""``explain``: from an error message or a whole traceback to the cases that explain it.

``rnn-autograd explain "RuntimeError: Trying to backward through the graph a second time"``
or ``python train.py 2>&1 | rnn-autograd explain -``. Exit 0 when a case declares the error,
1 when none does (weak hints may still be printed), 2 for empty input.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap

from ..diagnose.code_signals import fix_lines
from ..diagnose.error_features import ObservedMessages
from ..diagnose.error_text import parse_error_text
from ..diagnose.explain import Match, match_text
from ..errors import UsageError
from ..spec import Warned, get_case
from . import _console
from ._validate import whole

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
    p.add_argument(
        "--limit", "-n", type=whole(1), default=5, help="show at most N cases (default 5)"
    )
    p.set_defaults(func=_explain)


def _read(args: argparse.Namespace) -> str:
    if args.text and args.text != ["-"]:
        return " ".join(args.text)
    if sys.stdin is None:  # started with standard input closed
        raise UsageError("standard input is closed; pass the message as TEXT")
    if not args.text and sys.stdin.isatty():
        raise UsageError("no error given; pass the message as TEXT, or '-' to read a traceback")
    return _stdin_text()


def _stdin_text() -> str:
    """Standard input as text, whatever its encoding: bytes that are not UTF-8 are replaced
    (a traceback in another encoding still names its exception); NUL bytes mean it is binary."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream with no bytes underneath (tests, IDEs)
        try:
            data = sys.stdin.read()
        except UnicodeDecodeError:
            raise UsageError(_NOT_TEXT) from None
    else:
        data = stream.read().decode("utf-8", errors="replace")
    if "\x00" in data:
        raise UsageError(_NOT_TEXT)
    return data


_NOT_TEXT = "standard input is binary data, not text; pipe an error message or a traceback into '-'"


def _user_line(before: str, context: tuple[str, ...]) -> str | None:
    """The user's own code line most like the case's line that the fix changes."""
    if not before or not context:
        return None
    close = difflib.get_close_matches(before, [c.strip() for c in context], n=1, cutoff=0.8)
    return close[0] if close else None


def format_match(rank: int, m: Match, context: tuple[str, ...] = ()) -> str:
    """A numbered block: id, question, why it matched, summary, the fix and its line to change."""
    c = m.case
    why = _TIER_TEXT[m.tier].format(type=m.type_name)
    if isinstance(m.declared, Warned):
        why = why.replace("exception", "warning")
    if m.other_torch:
        why += f", declared for torch {m.other_torch}"
    lines = [f"{rank}. {c.id}  ({why})", f"   {c.question}"]
    for reason in m.reasons[:2]:
        lines += textwrap.wrap(
            reason, width=96, initial_indent="   Matched: ", subsequent_indent="      "
        )
    lines += textwrap.wrap(c.summary, width=96, initial_indent="   ", subsequent_indent="   ")
    if c.fix:
        fix = get_case(c.fix)
        lines.append(f"   Fix: {c.fix}: {fix.question}")
        for change in fix_lines(c, fix):
            mine = _user_line(change.before, context)
            if change.before:
                lines.append(
                    f"     change: {mine or change.before}" + ("  (your line)" if mine else "")
                )
                lines.append(f"         to: {change.after}")
            else:
                lines.append(f"        add: {change.after}")
    more = [f"rnn-autograd show {c.id}"] + [s for s in c.see_also if s != c.fix]
    lines.append("   Read more: " + "; ".join(more))
    return "\n".join(lines)


def match_markdown(rank: int, m: Match, context: tuple[str, ...] = ()) -> str:
    """The same block as Markdown, for a terminal: id, question and summary rendered; why it
    matched and the fix's lines to change as in the plain block."""
    c = m.case
    plain = format_match(rank, m, context).splitlines()
    why = plain[0].split("  (", 1)[1].rstrip(")") if "  (" in plain[0] else ""
    lines = [f"**{rank}. `{c.id}`** ({why})", "", f"*{c.question}*", "", c.summary, ""]
    details = [
        line.strip()
        for line in plain[2:]
        if line.strip().startswith(("Matched:", "Fix:", "change:", "to:", "add:"))
    ]
    lines += [f"- {d}" if d.startswith(("Matched:", "Fix:")) else f"  - `{d}`" for d in details]
    more = [f"`rnn-autograd show {c.id}`"] + [f"`{s}`" for s in c.see_also if s != c.fix]
    return "\n".join([*lines, "", "Read more: " + "; ".join(more)])


def _print_match(rank: int, m: Match, context: tuple[str, ...] = ()) -> None:
    if _console.fancy():
        print()
        _console.print_markdown(match_markdown(rank, m, context))
    else:
        print("\n" + format_match(rank, m, context))


def _explain(args: argparse.Namespace) -> int:
    text = _read(args)
    if not text.strip():
        raise UsageError("the error text is empty; pass a message, or pipe a traceback into '-'")
    # Each case's own message is run once and kept on disk: the next explain reads it back.
    observed = ObservedMessages(ObservedMessages.default_path())
    matches = match_text(text, observed=observed)
    observed.save()
    context = tuple(line for err in parse_error_text(text) for line in err.context)
    firm = [m for m in matches if m.tier != "hint"]
    hints = [m for m in matches if m.tier == "hint"]
    if firm:
        print(
            f"{len(firm)} case(s) declare this error"
            + (":" if len(firm) <= args.limit else f"; the first {args.limit}:")
        )
        for i, m in enumerate(firm[: args.limit], 1):
            _print_match(i, m, context)
        return 0
    print("No case declares this error.")
    if hints:
        print("These may be related:")
        for i, m in enumerate(hints[: args.limit], 1):
            _print_match(i, m)
    print("\nSee every case with 'rnn-autograd list'.")
    return 1
