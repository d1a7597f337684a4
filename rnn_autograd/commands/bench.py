"""``bench``: benchmark the hidden-state strategies; write results.json, report.md and charts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UsageError
from ..pipeline.outputs import check_output_dir
from ..pipeline.state import STRATEGY_FORMS
from ._validate import seed, whole

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
    p.add_argument("--repeats", type=whole(1), help="interleaved repeats of the cost measurements")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="small sizes: under a minute on two cores"
    )
    size.add_argument(
        "--preset",
        choices=("tiny", "docs", "quick", "full"),
        default=None,
        # no numbers here: importing the presets would load torch to print the help
        help="sizes (default: full; docs: tiny's sizes over several seeds and repeats, as the "
        "docs page)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument(
        "--seeds",
        type=whole(1, 100),
        help="run the learning and batching sections once per seed (default: the preset's); mean, spread "
        "and paired t-tests between strategies over them",
    )
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
    from ..bench.cost import validate

    name = "quick" if args.quick else (args.preset or "full")
    out = check_output_dir(args.out)  # before the benchmark, not after it
    for file in ("results.json", "report.md"):
        if (out / file).is_dir():
            raise UsageError(f"--out {str(out)!r}: {out / file} is a folder; choose another --out")
    overrides: dict = {"seed": args.seed, "device": args.device, "quiet": args.quiet}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if args.repeats is not None:
        overrides["repeats"] = args.repeats
    if args.strategies is not None:
        overrides["strategies"] = _strategies(args.strategies)
    if args.data != "seed":
        if not Path(args.data).is_file():
            raise UsageError(f"--data: no such file {args.data!r}; give 'seed' or a text file")
        overrides["data"] = str(Path(args.data).resolve())
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise UsageError(f"--device must be cpu or cuda; got {args.device!r}")
    try:
        config = preset(name, **overrides)
    except UsageError as exc:  # the library names its settings; say the option instead
        raise UsageError(_as_option(str(exc))) from None
    validate(config)  # strategies against num_steps, carry: before the benchmark starts
    t0 = time.perf_counter()
    results = run_bench(config)
    paths = [write_results(results, out), *write_report(results, out).values()]
    if not args.quiet:
        print(f"[bench] finished in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for path in paths:
        print(path)
    return 0


def _as_option(message: str) -> str:
    for setting, option in (
        ("repeats", "--repeats"),
        ("seeds", "--seeds"),
        ("seed", "--seed"),
        ("strategies", "--strategies"),
    ):
        if message.startswith(f"{setting} "):
            return option + message[len(setting) :]
    return message
