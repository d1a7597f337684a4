"""``graph``: the autograd graphs a case recorded with ``snapshot``, as text, DOT or a picture.

``rnn-autograd graph graph/backward-through-freed-graph`` prints each snapshot as a tree with
every saved tensor's versions; ``--dot`` prints Graphviz source; ``-o g.svg`` (or ``.png``) draws
them with Graphviz ``dot`` (the text tree is written instead where ``dot`` is not installed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..diagnose.graph_picture import render, report_to_dot
from ..diagnose.inspector import graph_at
from ..errors import UsageError
from ..pipeline.outputs import check_output_file
from ..spec import get_case, run_case
from ._validate import whole

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "graph",
        help="a case's autograd graph snapshots: nodes, leaves, saved tensor versions",
        epilog="example: rnn-autograd graph graph/backward-through-freed-graph -o g.svg",
    )
    p.add_argument("id", metavar="ID")
    p.add_argument("--dot", action="store_true", help="print Graphviz DOT source instead")
    p.add_argument(
        "--output", "-o", metavar="FILE", help="draw to FILE (.svg, .png or .dot); one per snapshot"
    )
    p.add_argument(
        "--max-nodes", type=whole(1), default=80, help="draw at most N nodes (default 80)"
    )
    p.set_defaults(func=_graph)


def _graph(args: argparse.Namespace) -> int:
    case = get_case(args.id)
    if args.output is not None:
        if args.dot:
            raise UsageError(
                "--dot prints DOT source and -o FILE writes a file: give one of them "
                "(DOT source into a file: -o FILE.dot)"
            )
        check_output_file(args.output, "-o", suffixes=(".svg", ".png", ".dot"))
    graphs = run_case(case, inspect=graph_at).graphs
    if not graphs:
        raise UsageError(f"case {case.id} records no graph snapshot; try one listed by 'show'")
    for i, (label, report) in enumerate(graphs, 1):
        if args.output is not None:
            path = Path(args.output)
            if len(graphs) > 1:
                path = path.with_name(f"{path.stem}-{i}{path.suffix}")
            try:
                written = render(report, path, max_nodes=args.max_nodes, title=label)
            except (ValueError, OSError, RuntimeError) as exc:  # a name, a write, dot itself
                raise UsageError(f"-o {str(path)!r}: {_one_line(exc)}") from None
            print(f"{label}: {written}")
        elif args.dot:
            print(report_to_dot(report, max_nodes=args.max_nodes, title=label))
        else:
            print(f"== {label}\n{report.to_text(max_nodes=args.max_nodes)}\n")
    return 0


def _one_line(exc: Exception) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split())[:300]
