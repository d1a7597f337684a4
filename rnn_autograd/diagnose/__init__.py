"""Tools that look at a user's own graph or error (part of rnn-autograd).

- ``inspector`` and ``saved_tensors``: the ``grad_fn`` graph behind tensors, every saved tensor
  with the version it was saved at and the version it has now (``inspect_graph``);
- ``graph_picture``: that graph as text, DOT source, SVG or PNG;
- ``explain``: error text or an exception -> the cases that reproduce it, best first;
- ``context``: ``diagnose()``, which adds that answer to an exception as a note;
- ``recording``, ``culprits`` and ``locations``: ``record()``, which records where the graph was
  built, changed in place and freed, and names the user's line that broke backward
  (``rnn-autograd run``);
- ``memory``: ``SavedTensorMeter``, the bytes autograd keeps saved for backward.

May import: ``rnn_autograd.spec`` and ``rnn_autograd.errors``. Never imports ``pipeline``,
``bench``, ``cases`` or ``commands``: explain ranks whatever cases are registered, and
``rnn_autograd``'s ``__init__`` registers the library.

This package is also callable: ``rnn_autograd.diagnose(watch=loss)`` is
``rnn_autograd.diagnose.context.diagnose(watch=loss)``. The public name ``diagnose`` and the
package share one name; a callable package keeps ``import rnn_autograd.diagnose`` a module
(nothing shadowed) while ``from rnn_autograd import diagnose`` still works as a context manager.
"""

from __future__ import annotations

import sys
import types

from .context import add_note, diagnose
from .explain import ErrorText, Match, match_error, match_exception, match_text, parse_error_text
from .graph_picture import has_graphviz, render, report_to_dot, report_to_text
from .inspector import GraphReport, NodeInfo, graph_at, inspect_graph, names_in_frame
from .memory import SavedTensorMeter
from .recording import record
from .saved_tensors import SavedTensorInfo

__all__ = [
    "ErrorText",
    "GraphReport",
    "Match",
    "NodeInfo",
    "SavedTensorInfo",
    "SavedTensorMeter",
    "add_note",
    "diagnose",
    "graph_at",
    "has_graphviz",
    "inspect_graph",
    "match_error",
    "match_exception",
    "match_text",
    "names_in_frame",
    "parse_error_text",
    "record",
    "render",
    "report_to_dot",
    "report_to_text",
]


class _CallablePackage(types.ModuleType):
    """The package module, callable as ``diagnose(...)`` (see the module docstring)."""

    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
# inspect.signature(rnn_autograd.diagnose) follows __wrapped__ to the function's own signature.
__wrapped__ = diagnose
