"""The ``rnn-autograd`` command.

Each subcommand lives in a module of ``rnn_autograd.commands`` that defines ``register(sub)``:
it adds its parser to ``sub`` and sets ``func`` (taking the parsed args, returning an exit code).
Bad input is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import commands
from .errors import UsageError
from .spec import CaseLookupError

__all__ = ["build_parser", "main"]

PROG = "rnn-autograd"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2: argparse's default prints usage too
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# The order of ``--help``: browse the spec, check it, explain an error, then the pipeline.
# A command module not named here comes after these, by name.
ORDER = ("spec", "check", "explain", "graph", "train", "predict", "bench")


def _command_modules() -> list[str]:
    # Modules named ``_*`` (shared helpers such as ``_console``) are not subcommands.
    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="PyTorch autograd for recurrent networks, as an executable spec.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, title="commands"
    )
    sub.required = True
    for name in _command_modules():
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(sub)
    # One example per subcommand (each parser's epilog), in the order above.
    examples = [f"  {p.epilog.removeprefix('example: ')}" for p in sub.choices.values() if p.epilog]
    parser.epilog = "examples:\n" + "\n".join(examples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, CaseLookupError) as exc:
        print(f"{PROG} {args.command}: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnn-autograd list | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
