"""Autograd memory, measured: the bytes of tensors saved for backward, and the process peak.

A forward pass under autograd keeps, in the nodes of the graph, the tensors each backward
formula needs (a multiplication keeps both operands, ``tanh`` its result, ...). Those *saved
tensors* are what a longer backpropagation window costs in memory, and they are freed when
``backward`` runs (unless ``retain_graph=True``) or when the graph is dropped.

``SavedTensorMeter`` counts them exactly with ``torch.autograd.graph.saved_tensors_hooks``:
the pack hook sees every tensor a node saves and returns a small holder whose lifetime is that
of the saved reference; a ``weakref.finalize`` on the holder tells the meter when the node lets
go of it. What is counted, and why:

* the bytes of the *storage* a saved tensor keeps alive (a saved view keeps all of its base);
* each storage once while any saved reference to it is alive (the same tensor saved by two
  nodes, or two views of one storage, is one allocation);
* parameters too, unless passed in ``exclude``: saving a parameter allocates nothing new, so the
  benchmark excludes them to measure what the graph adds.

The holder keeps a *detached* alias of the saved tensor (see ``_pack``): keeping the tensor
itself would leak every saved output of a graph that is dropped without ``backward``.

The figure is machine-independent for a given torch version and model (it does not depend on
the allocator), which is why the benchmark reports it beside the process peak RSS.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterable

import torch

__all__ = [
    "SavedTensorMeter",
    "process_peak_rss_bytes",
    "process_rss_bytes",
    "reset_process_peak",
    "storage_bytes",
]


def storage_bytes(tensor: torch.Tensor) -> tuple[int, int]:
    """``(key, nbytes)`` of the storage behind ``tensor``: what keeping it alive holds."""
    try:
        storage = tensor.untyped_storage()
        return storage.data_ptr(), storage.nbytes()
    except (RuntimeError, NotImplementedError):  # tensors without a plain storage (sparse, ...)
        return id(tensor), tensor.nelement() * tensor.element_size()


class _Saved:
    """What a graph node holds instead of the tensor while the meter is active."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class SavedTensorMeter:
    """Live and peak bytes of tensors saved for backward by graphs built inside ``with meter:``.

    >>> x = torch.ones(1000, requires_grad=True)
    >>> y = torch.ones(1000, requires_grad=True)
    >>> with SavedTensorMeter() as meter:
    ...     z = (x * y).sum()  # MulBackward0 saves x and y: 2 * 1000 float32
    >>> meter.live_bytes, meter.peak_bytes
    (8000, 8000)
    >>> z.backward(); meter.live_bytes  # backward released them
    0

    Freed references are counted down even after the ``with`` block, so a graph built inside and
    released outside is seen to be released. ``reset_peak()`` starts a new peak from what is live.

    Args:
        exclude: tensors whose storages are not counted when saved (e.g. the parameters:
            saving them allocates nothing new).
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()):
        self._excluded = {storage_bytes(t)[0] for t in exclude}
        self._refs: dict[int, int] = {}  # storage key -> number of live saved references
        self._sizes: dict[int, int] = {}
        self.live_bytes = 0
        self.peak_bytes = 0
        self.saved_count = 0  # pack calls seen, including excluded and repeated storages
        self._hooks: torch.autograd.graph.saved_tensors_hooks | None = None

    def reset_peak(self) -> None:
        self.peak_bytes = self.live_bytes

    def _pack(self, tensor: torch.Tensor) -> _Saved:
        self.saved_count += 1
        # detach(): same storage and version counter, no grad_fn. Holding the tensor itself
        # would, for a saved *output* (tanh, log_softmax, ...), make a cycle output -> grad_fn
        # -> saved variable -> holder -> output partly in C++, which no gc can break: a graph
        # dropped without backward would never be freed. Autograd re-attaches the grad_fn on
        # unpack, so nothing is lost (torch's own saved outputs avoid the cycle the same way).
        holder = _Saved(tensor.detach())
        key, nbytes = storage_bytes(tensor)
        if key in self._excluded:
            return holder
        if self._refs.get(key, 0) == 0:
            self._sizes[key] = nbytes
            self.live_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        self._refs[key] = self._refs.get(key, 0) + 1
        weakref.finalize(holder, self._release, key)
        return holder

    def _release(self, key: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            del self._refs[key]
            self.live_bytes -= self._sizes.pop(key)

    @staticmethod
    def _unpack(holder: _Saved) -> torch.Tensor:
        return holder.tensor

    def __enter__(self) -> SavedTensorMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        assert self._hooks is not None
        self._hooks.__exit__(*exc)
        self._hooks = None


def reset_process_peak() -> bool:
    """Reset the process peak RSS to the current RSS where the OS allows it (Linux >= 4.0).

    Returns whether it did. Where it cannot, ``process_peak_rss_bytes`` only ever grows and a
    benchmark's per-strategy figure is the peak so far (an upper bound for that strategy).
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # "5" resets VmHWM, the peak resident set size (proc(5))
        return True
    except OSError:
        return False


def process_rss_bytes() -> int | None:
    """The current resident set size of this process, in bytes (None where unknown: not Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None


def process_peak_rss_bytes() -> int | None:
    """The peak resident set size of this process, in bytes (None where unknown).

    Since the last ``reset_process_peak()`` where that worked, else since the process started.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024
