"""``bench``: benchmark the hidden-state strategies; write results.json, report.md and charts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UsageError
from ..pipeline.state import STRATEGY_FORMS

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark hidden-state strategies: time, saved bytes, what each learns",
        description=(
            "Measure every strategy side by side (interleaved repeats): time per batch and "
            "tokens/s as ratios to 'fresh', bytes saved for backward, cost against the window, "
            "held-out perplexity beside the exact limit, a delayed-recall task, and overlapping "
            "windows against sequential batching. Writes DIR/results.json, DIR/report.md and "
            "PNG charts."
        ),
        epilog="example: rnn-autograd bench --quick --out bench-out",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="where the outputs go")
    p.add_argument(
        "--strategies",
        help=(
            "comma-separated, for the cost and learning sections (default: the preset's); "
            f"each one of: {STRATEGY_FORMS} (not carry: it fails by design)"
        ),
    )
    p.add_argument("--data", default="seed", help="'seed' (the notebook's data) or a text file")
    p.add_argument("--repeats", type=int, help="interleaved repeats of the cost measurements")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="small sizes: under a minute on two cores"
    )
    size.add_argument(
        "--preset", choices=("tiny", "quick", "full"), default=None, help="sizes (default: full)"
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_bench)


def _strategies(text: str) -> tuple[str, ...]:
    from ..pipeline.state import parse_strategy

    names = tuple(s.strip() for s in text.split(",") if s.strip())
    # "tbptt:10,20" contains a comma: glue a bare number back onto the tbptt before it
    glued: list[str] = []
    for n in names:
        if glued and glued[-1].startswith("tbptt:") and "," not in glued[-1] and n.isdigit():
            glued[-1] += f",{n}"
        else:
            glued.append(n)
    if not glued:
        raise UsageError("--strategies is empty; give e.g. --strategies fresh,detach,window:4")
    for n in glued:
        parse_strategy(n)  # an unknown form is a UsageError naming the accepted ones
    return tuple(glued)


def _bench(args: argparse.Namespace) -> int:
    from ..bench import preset, run_bench, write_report, write_results

    name = "quick" if args.quick else (args.preset or "full")
    overrides: dict = {"seed": args.seed, "device": args.device, "quiet": args.quiet}
    if args.repeats is not None:
        if args.repeats < 1:
            raise UsageError(f"--repeats must be >= 1; got {args.repeats}")
        overrides["repeats"] = args.repeats
    if args.strategies:
        overrides["strategies"] = _strategies(args.strategies)
    if args.data != "seed":
        if not Path(args.data).is_file():
            raise UsageError(f"--data: no such file {args.data!r}; give 'seed' or a text file")
        overrides["data"] = str(Path(args.data).resolve())
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise UsageError(f"--device must be cpu or cuda; got {args.device!r}")
    config = preset(name, **overrides)
    t0 = time.perf_counter()
    results = run_bench(config)
    out = Path(args.out)
    paths = [write_results(results, out), *write_report(results, out).values()]
    if not args.quiet:
        print(f"[bench] finished in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for path in paths:
        print(path)
    return 0
