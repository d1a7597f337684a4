"""The recorded answer to "modified by an inplace operation": which saved tensor, changed where.

From the failing backward's roots: every saved tensor whose version moved since it was saved
(those with the layout and versions of torch's message first), the node that saved it and the
user's line that made that node, and every recorded in-place change that moved its version
counter between the two (an optimizer's ``step()``, an ``inplace=True`` module, a slice
assignment, an op in a helper), each as its op and the user's lines.

A recorded change is this saved tensor's when it touched the same storage, after the node was
made, within its version window. Before torch exposed ``SavedTensor.data`` (it is missing on
2.7 and older), the saved tensor cannot be seen without unpacking it: unpacking raises the
version error, whose message gives its layout and versions, and changes are matched by layout
(dimensions in any order: a transposed view of a weight) and versions instead, said so.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import torch

from .graph_record import MADE, frame_modules, frame_names, walk
from .locations import format_chain
from .saved_tensors import SavedTensorInfo, TensorNamer, saved_tensors_of

__all__ = ["version_error"]

_VERSIONS = re.compile(
    r"\[(?:torch\.)?(\w+) \[([\d, ]*)\]\].*?is at version (\d+); expected version (\d+)"
)
_MAX_NODES = 50_000


def version_error(rec: Any, exc: BaseException, roots, frames) -> list[str]:
    found = _VERSIONS.search(str(exc))
    namer = TensorNamer(frame_names(frames))
    modules = frame_modules(frames)
    stale, leaves = [], set()
    for fn, _, made, _ in walk(roots):
        stale += [(fn, info, made) for info in _stale_saved(fn, namer)]
        leaves.update(id(c.variable) for c, _ in fn.next_functions if hasattr(c, "variable"))
    if found:
        shape = tuple(int(d) for d in found.group(2).replace(" ", "").split(",") if d)
        now, saved = int(found.group(3)), int(found.group(4))
        exact = [
            s
            for s in stale
            if s[1].shape == shape and (s[1].current_version, s[1].saved_version) == (now, saved)
        ]
        stale = exact or stale
    if not stale:
        return []
    # One block per distinct story: an RNN's weight saved by one node per time step is one.
    blocks: dict[tuple[str, ...], int] = {}
    for fn, info, made in stale[:200]:
        data = _raw_data(fn, info.attr)
        block = tuple(_stale_lines(rec, fn, info, made, data, namer, modules, leaves))
        blocks[block] = blocks.get(block, 0) + 1
    lines = ["what broke this backward, as recorded:"]
    for block, count in list(blocks.items())[:3]:
        lines.append(block[0] + (f" (in {count} nodes)" if count > 1 else ""))
        lines += block[1:]
    return lines


_DTYPES = {"Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16"}
_DTYPES.update({"Long": "int64", "Int": "int32", "Bool": "bool", "ComplexFloat": "complex64"})


def _stale_saved(fn: Any, namer: TensorNamer) -> list[SavedTensorInfo]:
    """``fn``'s stale saved tensors; on a torch without ``SavedTensor.data``, read from the
    error that unpacking raises (layout and both versions are in its message)."""
    out = []
    for info in saved_tensors_of(fn, "", namer):
        if info.stale:
            out.append(info)
        elif info.shape is None and not info.freed and not info.hooked:
            try:
                getattr(fn, f"_saved_{info.attr.partition('[')[0]}")
            except RuntimeError as exc:
                found = _VERSIONS.search(str(exc))
                if found:
                    kind = found.group(1).removesuffix("Tensor")
                    dims = tuple(int(d) for d in found.group(2).replace(" ", "").split(",") if d)
                    now, saved = int(found.group(3)), int(found.group(4))
                    dtype = f"torch.{_DTYPES.get(kind, kind)}"
                    out.append(
                        replace(
                            info, shape=dims, dtype=dtype, saved_version=saved, current_version=now
                        )
                    )
    return out


def _raw_data(fn: Any, label: str) -> torch.Tensor | None:
    attr, _, index = label.partition("[")
    raw = getattr(fn, f"_raw_saved_{attr}", None)
    if index:
        raw = raw[int(index.rstrip("]"))] if isinstance(raw, (tuple, list)) else None
    data = getattr(raw, "data", None)
    return data if isinstance(data, torch.Tensor) else None


def _in_module(label: str, module: Any, modules: dict[str, torch.nn.Module]) -> str:
    """``relu(inplace=True) in net.2 (ReLU)``: the module whose forward made the change."""
    owner = module() if module is not None else None
    if owner is None:
        return label
    kind = type(owner).__name__
    for name, m in modules.items():
        if m is owner:
            return f"{label} in {name} ({kind})"
    return f"{label} in {kind}"


def _tensor_name(data: torch.Tensor | None, namer: TensorNamer) -> str:
    if data is None:
        return ""
    name = namer.name(data)
    base = data._base
    if base is not None:
        owner = namer.name(base)
        if owner and not (name and not name.startswith("view of")):
            return f", a view of {owner}"
    if name:
        return f" = {name}" if not name.startswith("view of") else f", a {name}"
    return ""


def _made_after(fn: Any) -> int:
    """A sequence number recorded before ``fn`` was made: its own op's (less the in-place
    change that op may have recorded just before), else the latest of its inputs' ops."""
    own = fn.metadata.get(MADE)
    if own is not None:
        return own[0] - 1
    seqs = [0]
    for child, _ in fn.next_functions:
        made = child.metadata.get(MADE) if hasattr(child, "metadata") else None
        if made is not None:
            seqs.append(made[0])
    return max(seqs)


def _stale_lines(rec, fn, info, made, data, namer, modules, leaves) -> list[str]:
    changes, targets = _changes(rec, data, info, _made_after(fn), modules, leaves)
    who = _tensor_name(data, namer)
    if data is None:  # torch shows no saved tensor: the tensor the changes were made to
        names = {namer.name(t) for t in targets if t is not None} - {None}
        who = f", found by layout and versions: {' or '.join(sorted(names))}" if names else ""
    lines = [f"  stale saved tensor: {info.node_name}'s `{info.attr}` ({info.layout}){who}"]
    where = f"`{made[1]}` at {format_chain(made[2], rec.home)}" if made is not None else ""
    if made is not None and fn.metadata.get(MADE) is made:
        lines.append(f"    saved by {where}")
    elif made is not None:  # inside one torch call (an LSTM), or by a call the mode cannot see
        lines.append(
            f"    saved by a node below {where} (made inside that call, or by one the recorder"
            " cannot see, such as a custom autograd.Function)"
        )
    lines.append(
        f"    saved at version {info.saved_version}, now at version {info.current_version};"
        " changed in place since by:"
    )
    if not changes:
        lines.append("      (no recorded change: it happened before recording began, or in C++)")
    for (label, chain), (first, last, count) in changes.items():
        versions = f"v{first}->v{last}" + (f", {count} calls" if count > 1 else "")
        where = format_chain(chain, rec.home, caller=True)
        lines.append(f"      `{label}` at {where} ({versions})")
    return lines


def _changes(rec, data, info, since, modules, leaves) -> tuple[dict[tuple, list[int]], list]:
    """The recorded in-place changes that moved the saved tensor from its saved version to now,
    grouped by (op, lines); and the tensors changed (for a name where the saved one is unseen)."""
    saved, now = info.saved_version, info.current_version
    if saved is None or now is None:
        return {}, []
    ptr = None
    if data is not None:
        try:
            ptr = data.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError):
            return {}, []
    wanted = (tuple(sorted(info.shape or ())), info.dtype)
    # since: before the node was made; an older, dead tensor at this address is not this one.
    found = []
    for seq, p, before, after, label, chain, module, shown in rec.events:
        if seq <= since or not (saved <= before and after <= now):
            continue
        if ptr is not None and p != ptr:
            continue
        if ptr is None and (shown[0], str(shown[1])) != wanted:
            continue
        found.append((before, after, label, chain, module, shown[2]()))
    if ptr is None and any(id(f[5]) in leaves for f in found if f[5] is not None):
        # Matched by layout alone: a parameter of this graph beats the optimizer's own buffers.
        found = [f for f in found if f[5] is not None and id(f[5]) in leaves]
    out: dict[tuple, list[int]] = {}
    targets = []
    for before, after, label, chain, module, target in found:
        label = _in_module(label, module, modules)
        entry = out.setdefault((label, chain), [before, after, 0])
        entry[1] = after
        entry[2] += 1
        targets.append(target)
    return out, targets
