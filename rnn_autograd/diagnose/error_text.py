"""Reading errors and warnings out of text: a message, a traceback, or a whole log.

``parse_error_text`` returns one ``ErrorText`` per exception (the raised one first, then what
it was chained from) and then one per warning line (``train.py:12: UserWarning: ...``), each
with the user's code lines that go with it: the traceback's own lines outside torch, the line a
warning printed under it, and code pasted into the same text (a question that shows the
script, then the traceback), also pasted as a Markdown quote or an indented code block. Lines of
installed packages (Lightning, ...) and the standard library are left out as torch's are.
Python, IPython/Jupyter (old ``<ipython-input-3-...> in
<module>()`` and new ``Cell In[3], line 7`` / ``File ~/.../x.py:12, in f()`` frames, numbered
source lines, ANSI colours) and pytest output are read alike, Windows paths too.

``current_wording`` rewrites a message printed by an older torch release into today's words
(``Can't call numpy() on Variable`` -> ``on Tensor``), so a case declaring today's message
matches it too.
"""

from __future__ import annotations

import builtins
import re
import textwrap
from dataclasses import dataclass

__all__ = ["ErrorText", "current_wording", "parse_error_text"]

_EXC_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*): ?(.*)$")
# "path/train.py:12: UserWarning: message" as printed by warnings.showwarning.
_WARNING_LINE = re.compile(r"^(.+?):(\d+): ((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*Warning): (.*)$")
_FRAME = re.compile(
    r'^\s*File "([^"]*)", line \d+'  # Python
    r"|^\s*File (\S+?):\d+(?:, in |$)"  # IPython 8: File ~/lib/torch/_tensor.py:487, in f(...)
    r"|^(Cell In\[\d*\]), line \d+"  # IPython 8: a notebook cell
    r"|^(<ipython-input-[^>]*>|\S+\.py) in \S+?\("  # IPython < 8: /lib/torch/tensor.py in f(...)
)
# ANSI colour codes (IPython's, a coloured log's) and the numbers IPython shows before a line.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NUMBERED = re.compile(r"^\s*\d+(?: |$)")
_CHAIN = re.compile(r"^(During handling of the above exception|The above exception was the direct)")
_PYTEST_E = re.compile(r"^E {2,}")
_ARROW = re.compile(r"^-*> ?(?:\d+ )?")
# A pasted line of Python: an assignment, a call, a loop or a definition (not prose).
_CODE = re.compile(
    r"^\s*(?:(?:for|while|with|def|class|if|elif|return|import|from)\b|@\w|[\w.\[\], ()]+\s*"
    r"(?:[-+*/]?=(?!=)|\())"
)


@dataclass(frozen=True)
class ErrorText:
    """One exception or warning read from text: type name (None: a bare message), message."""

    type_name: str | None
    message: str
    context: tuple[str, ...] = ()  # the user's code lines that go with it, outside torch
    warning: bool = False


def _looks_like_exception(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last.endswith(("Error", "Exception", "Warning", "Interrupt", "Exit", "Iteration")):
        return True
    return isinstance(getattr(builtins, last, None), type) and issubclass(
        getattr(builtins, last), BaseException
    )


# Library code: torch, and every installed package (Lightning, transformers, ...) or the
# standard library: their lines are the same whatever the user's error.
_LIBRARY = re.compile(r"/torch/|/(?:site|dist)-packages/|/lib/python\d[\d.]*/(?!site-packages)")


def _is_torch(path: str) -> bool:
    return _LIBRARY.search(path.replace("\\", "/")) is not None


def _pasted_code(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or not _CODE.match(line):
        return None
    if len(stripped.split()) > 12 and "=" not in stripped and "(" not in stripped:
        return None  # a sentence that happens to start like code
    return stripped


def _unquoted(text: str) -> str:
    """A traceback pasted as a Markdown quote (``> ``) or code block (indented): as printed."""
    lines = text.splitlines()
    filled = [line for line in lines if line.strip()]
    if filled and all(line.lstrip().startswith(">") for line in filled):
        lines = [re.sub(r"^\s*> ?", "", line) for line in lines]
    return textwrap.dedent("\n".join(lines))


def parse_error_text(text: str) -> list[ErrorText]:
    """The exceptions in ``text``, last (the one raised) first, then its warnings.

    A traceback gives one per chained exception; each message runs from its ``Type: message``
    line to the next traceback or chain line (multi-line messages and PEP 678 notes included).
    Text with no such line is a bare message of unknown type.
    """
    # pytest prints the exception as "E   RuntimeError: ..." lines: read them without the "E".
    text = _unquoted(_ANSI.sub("", text))
    lines = [_PYTEST_E.sub("", line) for line in text.strip("\n").splitlines()]
    numbered = False  # an IPython traceback: its code lines start with their numbers
    found: list[ErrorText] = []
    warned: list[ErrorText] = []
    pasted: list[str] = []  # code outside any traceback: the script the user showed
    context: list[str] = []
    current: tuple[str, list[str]] | None = None
    in_traceback = skip_code = False
    warning_at: int | None = None  # index in ``warned`` of a warning waiting for its code line

    def close() -> None:
        nonlocal current
        if current is not None:
            found.append(ErrorText(current[0], "\n".join(current[1]).strip(), tuple(context)))
            current = None

    for line in lines:
        warning = _WARNING_LINE.match(line)
        if warning and not line[:1].isspace():
            close()
            in_traceback = False
            warned.append(ErrorText(warning.group(3), warning.group(4).strip(), (), True))
            warning_at = None if _is_torch(warning.group(1)) else len(warned) - 1
            continue
        if warning_at is not None:
            # The line after a warning is the code that triggered it, indented by two spaces.
            w = warned[warning_at]
            if line[:1].isspace() and line.strip():
                warned[warning_at] = ErrorText(w.type_name, w.message, (line.strip(),), True)
            warning_at = None
            if line[:1].isspace():
                continue
        frame = _FRAME.match(line)
        # Python starts a traceback with this line; IPython ends its header line with it.
        starts = "Traceback (most recent call last)" in line
        if starts or _CHAIN.match(line):
            close()
            in_traceback = True
            numbered = numbered or (starts and not line.startswith("Traceback"))
            context = [] if starts else context
            continue
        if frame:
            close()
            in_traceback = True
            path = next(g for g in frame.groups() if g is not None)
            numbered = numbered or not line.lstrip().startswith('File "')
            # torch's own frames are the same for every error: only user code tells cases apart.
            skip_code = _is_torch(path)
            continue
        arrow = _ARROW.match(line)  # IPython "----> 7 code", pytest ">       code"
        if current is None and in_traceback and (line[:1].isspace() or arrow):
            code = line[arrow.end() :].strip() if arrow else line.strip()
            code = _NUMBERED.sub("", code).strip() if numbered else code
            if code and not skip_code and set(code) - set("^~ "):
                context.append(code)
            continue
        header = _EXC_LINE.match(line) if not line[:1].isspace() else None
        if current is None and header and _looks_like_exception(header.group(1)):
            current = (header.group(1), [header.group(2)])
        elif current is not None:
            current[1].append(line)
        elif arrow and line.strip(">- "):
            context.append(line[arrow.end() :].strip())  # a pytest or IPython arrowed line
        else:
            code = _pasted_code(line)
            if code:
                pasted.append(code)
    close()
    if not found and not warned and text.strip():
        return [ErrorText(None, text.strip(), tuple(pasted))]
    extra = tuple(pasted)
    errors = [ErrorText(e.type_name, e.message, e.context + extra) for e in reversed(found)]
    return errors + [ErrorText(w.type_name, w.message, w.context + extra, True) for w in warned]


# An older release's words for a message -> today's (each seen in torch's own history).
_OLD_WORDING = (
    # torch < 1.6: the check in VariableHooks / the numpy() binding said "Variable", "var"
    (
        r"Can't call numpy\(\) on Variable that requires grad\. Use var\.detach\(\)\.numpy\(\)",
        "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()",
    ),
    (
        r"element (\d+) of variables does not require grad",
        r"element \1 of tensors does not require grad",
    ),
    # torch < 1.8: the in-place check on a leaf said "has been used" (mark_dirty still does)
    (
        r"a leaf Variable that requires grad has been used in an in-place operation",
        "a leaf Variable that requires grad is being used in an in-place operation",
    ),
)


def current_wording(message: str) -> str:
    """``message`` in today's words where an older torch worded it otherwise (else as is)."""
    for old, new in _OLD_WORDING:
        message = re.sub(old, new, message)
    return message
