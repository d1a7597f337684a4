"""``list``, ``check`` and ``show``: browse the cases and check them against the installed torch."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap

import torch

from ..errors import UsageError
from ..spec import all_cases, check, get_case

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="one line per case: id and question")
    p.add_argument("--family", "-f", help="only the cases of this family")
    p.set_defaults(func=_list)

    p = sub.add_parser(
        "check", help="run cases against the installed torch and compare with their declarations"
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="case ids (default: all)")
    p.add_argument("--family", "-f", help="only the cases of this family")
    p.add_argument("--verbose", "-v", action="store_true", help="print every mismatch in full")
    p.add_argument(
        "--all",
        action="store_true",
        help="also the cases that start processes (the ddp family; seconds to start)",
    )
    p.set_defaults(func=_check)

    p = sub.add_parser(
        "show", help="a case's question, code, observed outcome, explanation and fix"
    )
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=_show)


def _selected(args: argparse.Namespace):
    if getattr(args, "ids", None):
        chosen = [get_case(i) for i in args.ids]
        if args.family:
            all_cases(args.family)  # an unknown family: the closest names
            chosen = [c for c in chosen if c.family == args.family]
            if not chosen:
                raise UsageError(
                    f"--family {args.family}: none of the ids given is of that family; drop "
                    f"--family, or give ids that start with '{args.family}/'"
                )
        return chosen
    return all_cases(args.family)


def _list(args: argparse.Namespace) -> int:
    cases = all_cases(args.family)
    width = max(len(c.id) for c in cases)
    for c in cases:
        print(f"{c.id:<{width}}  {c.question}")
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _check(args: argparse.Namespace) -> int:
    cases = _selected(args)
    # cases on several processes cost seconds to start: run when named, by family or with --all
    on_request = not (args.ids or args.family or args.all)
    skipped = [c for c in cases if c.ranks] if on_request else []
    cases = [c for c in cases if c not in skipped]
    columns = shutil.get_terminal_size((160, 24)).columns
    id_w = max(len(c.id) for c in cases)
    text_w = max(24, (columns - id_w - 14) // 2)
    print(f"{'id':<{id_w}}  {'declared':<{text_w}}  {'observed':<{text_w}}  verdict")
    bad = []
    for c in cases:
        v = check(c)
        print(
            f"{c.id:<{id_w}}  {_cut(v.declared.describe(), text_w):<{text_w}}  "
            f"{_cut(v.observation.describe(), text_w):<{text_w}}  {v.label}",
            flush=True,
        )
        if not v.ok:
            bad.append(v)
    for v in bad:
        print(f"\n{v.case.id}: MISMATCH", file=sys.stderr)
        for m in v.mismatches:
            print(f"  - {m}", file=sys.stderr)
    ok = len(cases) - len(bad)
    print(
        f"\n{ok} of {len(cases)} cases match their declarations on torch {torch.__version__}"
        + (f"; {len(bad)} mismatch" if bad else "")
    )
    if skipped:
        families = sorted({c.family for c in skipped})
        print(
            f"{len(skipped)} cases that start {skipped[0].ranks} processes each were not run "
            f"(family {', '.join(families)}): run them with "
            + " or ".join(f"'rnn-autograd check --family {f}'" for f in families)
            + ", or 'rnn-autograd check --all'"
        )
    return 1 if bad else 0


def _show(args: argparse.Namespace) -> int:
    c = get_case(args.id)
    v = check(c)
    wrap = lambda s: textwrap.fill(s, width=100)  # noqa: E731 - local one-liner
    print(f"{c.id}\n{'=' * len(c.id)}\n")
    print(wrap(c.question) + "\n")
    if c.expect:
        print("What you might expect:\n  " + wrap(c.expect) + "\n")
    print("Code:\n" + textwrap.indent(c.source, "    "))
    print(f"Observed on torch {torch.__version__}:\n  {v.observation.describe()}")
    print(f"Declared:\n  {v.declared.describe()}  -> {v.label}")
    for m in v.mismatches:
        print(f"  - {m}")
    print("\nWhy:\n" + textwrap.indent(c.explanation, "  "))
    if c.fix:
        fix = get_case(c.fix)
        print(
            f"\nDo this instead: {fix.id} ({check(fix).label})\n"
            + textwrap.indent(fix.source, "    ")
        )
    if c.see_also:
        print("See also: " + ", ".join(c.see_also))
    return 0 if v.ok else 1
