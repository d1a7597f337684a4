"""What ``python SCRIPT`` prints for a failing user script: its warnings, then its traceback.

Shared by the explain tests over real and unseen scripts. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import runpy
import traceback
import warnings
from pathlib import Path

from rnn_autograd.spec import isolated

_OUTPUT: dict[Path, str] = {}


def output_of(path: Path) -> str:
    """The script's warning lines, then its traceback; run once (isolated), then cached."""
    if path not in _OUTPUT:
        text = ""
        with isolated(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                runpy.run_path(str(path), run_name="__main__")
            except Exception as exc:  # the user's error is what we read
                text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        shown = "".join(
            warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught
        )
        _OUTPUT[path] = shown + text
    return _OUTPUT[path]
