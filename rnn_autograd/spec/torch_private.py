"""The private torch APIs the case machinery touches, each behind a guard with a fallback.

torch keeps no promise about anything under ``torch._C``: a name appears in one release and may
be gone in the next. Every such use in the package is listed here, and looked up when it is needed (not at import, so a test can take it away) and falls back to public API
where it is missing. ``private_api_report()`` says which of them the installed torch has;
``rnn-autograd check --json`` records it.

- ``torch._C._autograd._top_saved_tensors_default_hooks(ignore_is_tracing)``: the top of the stack
  of default saved-tensor hooks (``(pack, unpack)`` or ``None``). It is absent from torch 2.2.2
  and 2.7.1 and present in 2.13.0 and 2.14.1 (the records in ``docs/compat/``); it came with the
  ahead-of-time autograd support for saved-tensor hooks (pytorch/pytorch#150032, 2025).
  The machinery uses it to pop hooks that a raising case pushed and never popped. Fallback: count
  the pushes and pops made through ``torch.autograd.graph.saved_tensors_hooks`` (the public
  context manager, which ``save_on_cpu`` inherits) while the case runs, and pop what is left.
  Hooks pushed through the private ``_push_saved_tensors_default_hooks`` directly are not seen
  by the fallback; no case does that.
- Popping goes through the public ``saved_tensors_hooks.__exit__`` (it pops one entry on every
  release checked), so no private pop is needed.
- ``torch._C._autograd.SavedTensor.data`` (with ``.unpack`` and ``.unpack_hook``): the record of a
  saved tensor that ``grad_fn._raw_saved_<name>`` returns, read without unpacking. Absent from
  2.2.2 and 2.7.1 (only ``register_hooks`` there), present in 2.13.0 and 2.14.1. The inspector
  (``rnn_autograd.diagnose.saved_tensors``) reads versions through it; without it, it unpacks
  ``grad_fn._saved_<name>`` instead and its report says so in one line.

- ``grad_fn._sequence_nr()``: the number the thread's autograd counter
  (``at::sequence_number``, thread-local, incremented by every ``Node`` made with the default
  constructor) gave the node when it was made; ``AccumulateGrad`` is made with ``UINT64_MAX``
  (``accumulate_grad.cpp``: run as soon as possible). Present on 2.13.0; ``check --json``
  records it for each release (``private_torch_api``). The
  graph inspector orders nodes by it to tell the nodes an earlier snapshot's batch made from the
  ones made since (``rnn_autograd.diagnose.graph_batches``). Fallback: tag the nodes each snapshot
  walks (``metadata``) and count a node as earlier when an earlier snapshot walked it.

The ``grad_fn._saved_<name>`` / ``_raw_saved_<name>`` attributes themselves and ``Tensor._version``
are in every release checked; the cases observe them (a release without them fails its cases,
which is the spec doing its job), and the inspector lists a node's names with ``dir()``, so a
node without them lists no saved tensor rather than failing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = [
    "has_top_of_hooks_stack",
    "private_api_report",
    "restoring_saved_tensors_hooks",
    "saved_tensor_record_is_readable",
    "sequence_nr",
]

# AccumulateGrad's sequence number: not a moment, a priority (run first in backward).
_ACCUMULATE_GRAD_NR = 2**64 - 1


def _top_function() -> Any:
    return getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)


def has_top_of_hooks_stack() -> bool:
    """Whether the installed torch can report the top of the saved-tensor hooks stack."""
    return _top_function() is not None


def saved_tensor_record_is_readable() -> bool:
    """Whether this torch's ``SavedTensor`` shows ``.data`` (see the module's docstring)."""
    record = getattr(torch._C._autograd, "SavedTensor", None)  # the class: no graph is built
    return record is not None and hasattr(record, "data")


def private_api_report() -> dict[str, bool]:
    """Each private name the package would use, and whether the installed torch has it."""
    return {
        "torch._C._autograd._top_saved_tensors_default_hooks": has_top_of_hooks_stack(),
        "torch._C._autograd.SavedTensor.data": saved_tensor_record_is_readable(),
        "grad_fn._sequence_nr": has_sequence_nr(),
    }


def has_sequence_nr() -> bool:
    """Whether this torch's ``grad_fn`` nodes show ``_sequence_nr()`` (looked up on a new node)."""
    with torch.enable_grad(), torch.inference_mode(False):
        node = torch.zeros((), requires_grad=True).view(()).grad_fn
    return sequence_nr(node) is not None


def sequence_nr(node: Any) -> int | None:
    """When ``node`` was made, in the order of its thread's autograd counter; None where this
    torch shows no ``_sequence_nr`` or the node is an ``AccumulateGrad`` (not made in order)."""
    method = getattr(node, "_sequence_nr", None)
    if method is None:
        return None
    try:
        nr = method()
    except (RuntimeError, TypeError):
        return None
    return nr if isinstance(nr, int) and nr != _ACCUMULATE_GRAD_NR else None


def _pop_one() -> None:
    # The public context manager's exit pops exactly one entry of the stack.
    torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t).__exit__(None, None, None)


@contextlib.contextmanager
def restoring_saved_tensors_hooks() -> Iterator[None]:
    """Leave the default saved-tensor hooks stack as it was, whatever the body pushed."""
    top = _top_function()
    if top is not None:
        before = top(False)
        try:
            yield
        finally:
            # A case that entered saved_tensors_hooks and raised before leaving leaves them pushed.
            while top(False) is not None and top(False) != before:
                _pop_one()
        return
    with _counting_pushes() as depth:
        try:
            yield
        finally:
            for _ in range(depth[0]):
                _pop_one()


@contextlib.contextmanager
def _counting_pushes() -> Iterator[list[int]]:
    """Count pushes minus pops through ``saved_tensors_hooks`` inside; restores the class after."""
    cls = torch.autograd.graph.saved_tensors_hooks
    enter, leave = cls.__dict__["__enter__"], cls.__dict__["__exit__"]
    depth = [0]

    def counted_enter(self: Any) -> Any:
        result = enter(self)
        depth[0] += 1
        return result

    def counted_exit(self: Any, *args: object) -> Any:
        result = leave(self, *args)
        depth[0] -= 1
        return result

    cls.__enter__, cls.__exit__ = counted_enter, counted_exit
    try:
        yield depth
    finally:
        cls.__enter__, cls.__exit__ = enter, leave
