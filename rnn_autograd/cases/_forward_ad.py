"""``dual_level()`` for the cases that use forward-mode AD (a helper, not a case module).

The first ``forward_ad.make_dual`` of a process imports ``torch._decomp.decompositions_for_jvp``,
which calls the deprecated ``torch.jit.script`` and emits a batch of warnings saying so, once
(``DeprecationWarning`` on torch 2.13.0, ``FutureWarning`` on 2.14.1: the category changed between
those two recorded releases; 2.2.2 and 2.7.1 emit none). Whichever case happened to run first would observe them; entering the level through this
helper makes that first use here, quietly, so no case's observation depends on the order.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
import torch.autograd.forward_ad as fwad

__all__ = ["dual_level"]


@contextlib.contextmanager
def dual_level() -> Iterator[None]:
    """``torch.autograd.forward_ad.dual_level()``, with its one-time import warnings silenced."""
    with fwad.dual_level():
        with warnings.catch_warnings():
            # Only the jit.script deprecation, in either category: other warnings still show.
            for category in (DeprecationWarning, FutureWarning):
                warnings.filterwarnings("ignore", r"`torch\.jit\.script` is deprecated", category)
            fwad.make_dual(torch.zeros(1), torch.zeros(1))  # loads the jvp decompositions
        yield
