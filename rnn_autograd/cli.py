"""The ``rnn-autograd`` command.

Each subcommand lives in a module of ``rnn_autograd.commands`` that defines ``register(sub)``:
it adds its parser to ``sub`` and sets ``func`` (taking the parsed args, returning an exit code).
Bad input is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import commands
from .errors import UsageError
from .spec import CaseLookupError

__all__ = ["build_parser", "main"]

PROG = "rnn-autograd"


def one_line(text: str) -> str:
    """``text`` with every character that would break or garble the line (newlines, control
    characters, line and record separators) written as an escape: the error stays one line."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2: argparse's default prints usage too
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


# The order of ``--help``: browse the spec, check it, explain an error, then the pipeline.
# A command module not named here comes after these, by name.
ORDER = ("spec", "check", "explain", "run", "graph", "train", "predict", "bench")


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
    _tolerant_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a full device fails here, inside the handlers, not at exit
        return code
    except (UsageError, CaseLookupError) as exc:
        message = str(exc.args[0] if exc.args else exc)
        print(f"{PROG} {args.command}: error: {one_line(message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnn-autograd list | head`
        _silence_stdout()
        return 0
    except OSError as exc:
        if not _is_stdout_failure(exc):
            raise
        _silence_stdout()
        reason = exc.strerror or type(exc).__name__
        print(
            f"{PROG} {args.command}: error: cannot write the output ({reason}); send standard "
            f"output to a file or device with room",
            file=sys.stderr,
        )
        return 2
    except MemoryError:
        print(
            f"{PROG} {args.command}: error: ran out of memory; try smaller sizes",
            file=sys.stderr,
        )
        return 1


def _tolerant_output() -> None:
    """Standard output and error that cannot encode a character (an ASCII-only terminal,
    ``PYTHONIOENCODING=ascii``) write it as an escape instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding.startswith("utf") or not hasattr(stream, "reconfigure"):
            continue
        # a closed or odd stream: leave it as it is
        with contextlib.suppress(ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")


def _is_stdout_failure(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EIO, errno.EPIPE, errno.EBADF, errno.EDQUOT)


def _silence_stdout() -> None:
    # the interpreter flushes stdout once more at exit: point it at /dev/null, so that flush
    # cannot fail a second time with a traceback
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout has no file descriptor (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
