"""``check``: run cases against the installed torch; a table, one JSON document, or JUnit XML.

On a terminal: a progress bar while the cases run, then a table that fits the window (cells wrap,
nothing is cut), verdicts in colour. Piped: per case its id and verdict, the declared outcome on
that line and the observed one under it, in full. ``--json`` prints one document (the format of
``rnn_autograd.spec.report``, the records of ``docs/compat/``); ``--junit-xml FILE`` writes one
test per case for a CI's test report. Exit status 1 when a case does not match its declaration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .. import __version__
from ..errors import UsageError
from ..spec import all_cases, check, get_case
from ..spec.report import describe_declared, junit_xml, report
from . import _console

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="run cases against the installed torch and compare with their declarations",
        description="Run cases against the installed torch; exit 1 if one does not match.",
        epilog="example: rnn-autograd check --family rnn-state --junit-xml spec.xml",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="case ids (default: all)")
    p.add_argument("--family", "-f", help="only the cases of this family")
    p.add_argument(
        "--json", action="store_true", help="print one JSON document instead of the table"
    )
    p.add_argument("--junit-xml", metavar="FILE", help="also write JUnit XML, one test per case")
    p.add_argument(
        "--all",
        action="store_true",
        help="also the cases that start processes (the ddp family; seconds to start)",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="kept for old scripts: mismatches print in full",
    )
    p.set_defaults(func=_check)


def selected(args: argparse.Namespace) -> list:
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


def _check(args: argparse.Namespace) -> int:
    cases = selected(args)
    # cases on several processes cost seconds to start: run when named, by family or with --all
    on_request = not (args.ids or args.family or args.all)
    skipped = [c for c in cases if c.ranks] if on_request else []
    cases = [c for c in cases if c not in skipped]
    if not cases:
        raise UsageError("no case selected; see 'rnn-autograd list' for the ids and families")
    if args.junit_xml and Path(args.junit_xml).is_dir():
        raise UsageError(f"--junit-xml {args.junit_xml!r} is a directory; give a file name")
    if args.json or _console.fancy():
        verdicts = [check(c) for c in _console.progress(cases, "checking cases")]
    else:
        verdicts = _stream_plain(cases)
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(verdicts), encoding="utf-8")
    bad = [v for v in verdicts if not v.ok]
    if args.json:
        doc = report(verdicts, rnn_autograd=__version__)
        print(json.dumps(doc, indent=1, ensure_ascii=False))
        return 1 if bad else 0
    if _console.fancy():
        _console.table(
            ["id", "declared", "observed", "verdict"],
            [
                (
                    [v.case.id, describe_declared(v), v.observation.describe(), v.label],
                    None if v.ok else "red",
                )
                for v in verdicts
            ],
        )
    for v in bad:
        print(f"\n{v.case.id}: MISMATCH", file=sys.stderr)
        for m in v.mismatches:
            print(f"  - {m}", file=sys.stderr)
    ok = len(cases) - len(bad)
    summary = f"{ok} of {len(cases)} cases match their declarations on torch {torch.__version__}"
    summary += f"; {len(bad)} mismatch" if bad else ""
    if _console.fancy():
        _console.console().print(
            "\n" + summary, style="bold red" if bad else "bold green", markup=False
        )
    else:
        print("\n" + summary)
    if skipped:
        families = sorted({c.family for c in skipped})
        print(
            f"{len(skipped)} cases that start {skipped[0].ranks} processes each were not run "
            f"(family {', '.join(families)}): run them with "
            + " or ".join(f"'rnn-autograd check --family {f}'" for f in families)
            + ", or 'rnn-autograd check --all'"
        )
    return 1 if bad else 0


def _stream_plain(cases: list) -> list:
    """One case at a time as it runs: id and verdict, declared, observed under it, uncut."""
    id_w = max(len(c.id) for c in cases)
    pad = " " * (id_w + 12)
    print(f"{'id':<{id_w}}  {'verdict':<8}  declared, then observed on the next line")
    verdicts = []
    for c in cases:
        v = check(c)
        verdicts.append(v)
        print(f"{c.id:<{id_w}}  {v.label:<8}  declared: {describe_declared(v)}")
        print(f"{pad}observed: {v.observation.describe()}", flush=True)
    return verdicts
