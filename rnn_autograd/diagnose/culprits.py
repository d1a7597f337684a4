"""What a recording says about a failed backward: the user's lines that broke it.

- a version error (``stale_culprit``): the stale saved tensor (layout, its name: ``D.2.weight``,
  "a view of ..."), the line that saved it, its versions then and now, and every recorded
  in-place change between the two (op and line);
- a freed-graph error (``freed_culprit``): where this backward enters a graph an earlier backward
  freed, the variable that carried it (``state``, ``total_loss``), the line that made it, the
  backward that freed it, and where to detach (or where ``retain_graph=True`` goes, for two
  backwards over one forward);
- a backward of a tensor without a graph (``cut_culprit``): the call in its history that lost
  the graph (grad mode off, an op with no gradient such as argmax, ``detach``), or the last
  call that turned a graph into plain numbers.
"""

from __future__ import annotations

from typing import Any

from .cut_culprit import cut_error
from .freed_culprit import freed_error
from .graph_record import FREED, MADE, backward_roots, keep, recorded_lines, tag_freed
from .stale_culprit import version_error

__all__ = [
    "FREED",
    "MADE",
    "backward_roots",
    "diagnose_failure",
    "freed_error",
    "keep",
    "recorded_lines",
    "tag_freed",
    "version_error",
]


def diagnose_failure(rec: Any, exc: BaseException, roots, seq: int, frames) -> list[str]:
    """The recorded diagnosis of a backward that raised ``exc`` (empty when none applies)."""
    message = str(exc)
    if "modified by an inplace operation" in message:
        return version_error(rec, exc, roots, frames)
    if "backward through the graph a second time" in message or "already been freed" in message:
        return freed_error(rec, roots, seq, frames)
    if "does not require grad and does not have a grad_fn" in message:
        return cut_error(rec.cuts, roots, rec.home)
    return []
