"""What a recording (``recording.py``) says about a failed backward: the user's lines that broke it.

- a version error: the stale saved tensor (layout, its name: ``D.2.weight``, "a view of ..."),
  the node that saved it and the line that made that node, the version it was saved at and the
  version now, and every recorded in-place change between the two (op and line);
- a freed-graph error: where this backward enters a graph an earlier backward freed, the variable
  that carried it (``state``, ``total_loss``), the line that made it, the backward that freed it,
  and where to detach (or, for two backwards over one forward, where ``retain_graph=True`` goes).

Nodes carry what the recorder wrote into their ``metadata`` (``MADE``: sequence number, op, user
lines; ``FREED``: the backward that frees them). The diagnosis is a list of text lines, kept on
the exception (``keep``) for ``record()`` and ``diagnose()`` to put into their note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from .inspector import names_in_frame
from .locations import carried_names, format_chain, format_location
from .saved_tensors import SavedTensorInfo, TensorNamer, layout, saved_tensors_of

__all__ = [
    "FREED",
    "MADE",
    "backward_roots",
    "diagnose_failure",
    "keep",
    "recorded_lines",
    "tag_freed",
    "version_error",
]

MADE = "rnn_autograd.made"
FREED = "rnn_autograd.freed"
_KEPT = "_rnn_autograd_recorded"
_VERSIONS = re.compile(
    r"\[(?:torch\.)?(\w+) \[([\d, ]*)\]\].*?is at version (\d+); expected version (\d+)"
)
_MAX_NODES = 50_000


def keep(exc: BaseException, lines: list[str]) -> None:
    """Keep the recorded diagnosis on the exception (read by ``recorded_lines``)."""
    if lines:
        setattr(exc, _KEPT, list(lines))


def recorded_lines(exc: BaseException) -> list[str] | None:
    """The diagnosis a recording kept on ``exc``, or None."""
    return getattr(exc, _KEPT, None)


def _children(fn: Any) -> list[Any]:
    try:
        return [c for c, _ in fn.next_functions if c is not None]
    except RuntimeError:
        return []


def _root_nodes(roots: Sequence[torch.Tensor]) -> list[Any]:
    return [t.grad_fn for t in roots if isinstance(t, torch.Tensor) and t.grad_fn is not None]


def tag_freed(roots: Sequence[torch.Tensor], tag: tuple) -> None:
    """Tag every node a backward from ``roots`` frees (stops at nodes an earlier one freed)."""
    stack, seen = _root_nodes(roots), set()
    while stack and len(seen) < _MAX_NODES:
        fn = stack.pop()
        if fn in seen or _is_leaf_node(fn):
            continue
        seen.add(fn)
        meta = fn.metadata
        old = meta.get(FREED)
        if old is not None and old[1] != "grad":  # freed before: so is everything behind it
            continue
        meta[FREED] = tag
        stack.extend(_children(fn))


def _is_leaf_node(fn: Any) -> bool:
    # AccumulateGrad saves nothing and is never freed; nodes without metadata cannot be tagged.
    return hasattr(fn, "variable") or not hasattr(fn, "metadata")


def _walk(roots: Sequence[torch.Tensor]):
    """(node, parent, its MADE or the nearest one above, the parent's) breadth first."""
    queue = [(fn, None, None) for fn in _root_nodes(roots)]
    seen: set = set()
    while queue and len(seen) < _MAX_NODES:
        fn, parent, above = queue.pop(0)
        if fn in seen or _is_leaf_node(fn):
            continue
        seen.add(fn)
        made = fn.metadata.get(MADE) or above
        yield fn, parent, made, above
        queue.extend((c, fn, made) for c in _children(fn))


def _names(frames: Sequence[Any]) -> dict[str, torch.Tensor]:
    names: dict[str, torch.Tensor] = {}
    for frame in reversed(frames):  # outermost first: the innermost frame's names win
        names.update(names_in_frame(frame, include_globals=True))
    return names


def _modules(frames: Sequence[Any]) -> dict[str, torch.nn.Module]:
    found: dict[str, torch.nn.Module] = {}
    for frame in reversed(frames):
        for scope in (frame.f_globals, frame.f_locals):
            for var, value in list(scope.items()):
                if isinstance(value, torch.nn.Module):
                    for sub, m in value.named_modules():
                        found[f"{var}.{sub}" if sub else var] = m
    return found


def diagnose_failure(rec: Any, exc: BaseException, roots, seq: int, frames) -> list[str]:
    """The recorded diagnosis of a backward that raised ``exc`` (empty when none applies)."""
    message = str(exc)
    if "modified by an inplace operation" in message:
        return version_error(rec, exc, roots, frames)
    if "backward through the graph a second time" in message or "already been freed" in message:
        return freed_error(rec, roots, seq, frames)
    return []


# -- "modified by an inplace operation" ---------------------------------------------------------
def version_error(rec: Any, exc: BaseException, roots, frames) -> list[str]:
    found = _VERSIONS.search(str(exc))
    namer = TensorNamer(_names(frames))
    modules = _modules(frames)
    stale = []
    for fn, _, made, _ in _walk(roots):
        stale += [(fn, info, made) for info in _stale_saved(fn, namer)]
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
    lines = ["what broke this backward, as recorded:"]
    seen: set = set()
    for fn, info, made in stale[:3]:
        data = _raw_data(fn, info.attr)
        key = (info.node_name, info.attr, id(data))
        if key in seen:
            continue
        seen.add(key)
        lines += _stale_lines(rec, fn, info, made, data, namer, modules)
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


def _stale_lines(rec, fn, info, made, data, namer, modules) -> list[str]:
    changes, targets = _changes(rec, data, info, made, modules)
    who = _tensor_name(data, namer)
    if data is None:  # torch shows no saved tensor: the tensor the changes were made to
        names = {namer.name(t) for t in targets if t is not None} - {None}
        who = f", found by layout and versions: {' or '.join(sorted(names))}" if names else ""
    lines = [f"  stale saved tensor: {info.node_name}'s `{info.attr}` ({info.layout}){who}"]
    if made is not None:
        lines.append(f"    saved by `{made[1]}` at {format_chain(made[2], rec.home)}")
    lines.append(
        f"    saved at version {info.saved_version}, now at version {info.current_version};"
        " changed in place since by:"
    )
    if not changes:
        lines.append("      (no recorded change: it happened before recording began, or in C++)")
    for (label, chain), (first, last, count) in changes.items():
        versions = f"v{first}->v{last}" + (f", {count} calls" if count > 1 else "")
        lines.append(f"      `{label}` at {format_chain(chain, rec.home)} ({versions})")
    return lines


def _changes(rec, data, info, made, modules) -> tuple[dict[tuple, list[int]], list]:
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
    since = made[0] if made is not None else 0  # an older tensor at this address is not this one
    out: dict[tuple, list[int]] = {}
    targets = []
    for seq, p, before, after, label, chain, module, shown in rec.events:
        if seq <= since or not (saved <= before and after <= now):
            continue
        if ptr is not None and p != ptr:
            continue
        if ptr is None and (shown[0], str(shown[1])) != wanted:
            continue
        label = _in_module(label, module, modules)
        entry = out.setdefault((label, chain), [before, after, 0])
        entry[1] = after
        entry[2] += 1
        targets.append(shown[2]())
    return out, targets


# -- "backward through the graph a second time" -------------------------------------------------
def freed_error(rec: Any, roots, seq: int, frames) -> list[str]:
    walked = list(_walk(roots))
    freeing = {}  # the earlier backwards whose freed nodes this one reaches
    for fn, _, _, _ in walked:
        tag = fn.metadata.get(FREED)
        if tag is not None and tag[0] < seq:
            freeing.setdefault(tag[0], tag)
    if not freeing:
        return _unseen_backward_line()
    lines = ["what broke this backward, as recorded:"]
    done: set = set()
    for tag in freeing.values():
        for node, made, consumer, carried in _entries(walked, tag, seq):
            key = (consumer[2] if consumer else None, tag[2])
            if key not in done and len(done) < 3:
                done.add(key)
                lines += _boundary_lines(rec, node, tag, made, consumer, carried)
    return lines


def _entries(walked, tag: tuple, seq: int):
    """Where the failing backward enters what existed before the backward ``tag`` ran.

    Carried across iterations: an edge from a node made after that backward to one made before
    it (the old tensor). Otherwise (two backwards over one forward): the edge into a freed node.
    """
    found = []
    for fn, _, made, above in walked:
        if above is not None and above[0] > tag[0] and (made is above or made[0] < tag[0]):
            own = fn.metadata.get(MADE)
            if own is not None and own[0] < tag[0]:
                found.append((fn, own, above, True))
    if found:
        return found
    for fn, parent, _, above in walked:
        ftag = fn.metadata.get(FREED)
        ptag = parent.metadata.get(FREED) if parent is not None else None
        if ftag is tag and not (ptag is not None and ptag[0] < seq):
            found.append((fn, fn.metadata.get(MADE), above, False))
    return found


def _unseen_backward_line() -> list[str]:
    if "handle_torch_function" in _source(torch.autograd.backward):
        return []
    return [
        f"torch {torch.__version__} does not show torch.autograd.backward(...) calls"
        " to the recorder (Tensor.backward() is seen): the freed-graph diagnosis needs a newer"
        " torch or loss.backward()"
    ]


def _source(fn: Any) -> str:
    import inspect

    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _carrier(consumer: tuple | None) -> tuple[str | None, bool, tuple | None]:
    """The variable that carried the old graph in: outermost line that reads and assigns it."""
    if consumer is None:
        return None, False, None
    for loc in reversed(consumer[2]):
        names, summing = carried_names(loc)
        if names:
            return names[0], summing, loc
    return None, False, consumer[2][0] if consumer[2] else None


def _boundary_lines(rec, node, tag, made, consumer, carried) -> list[str]:
    home = rec.home
    name, summing, at = _carrier(consumer)
    what = f"`{name}`" if name else f"a tensor whose grad_fn is {node.name()}"
    lines = [f"  this backward enters a graph an earlier backward freed, through {what}"]
    if made is not None:
        lines.append(f"    {what} was made by `{made[1]}` at {format_chain(made[2], home)}")
    if consumer is not None:
        when = ", after that backward," if carried else ""
        lines.append(f"    and used again{when} by `{consumer[1]}` at {format_chain(consumer[2], home)}")
    lines.append(f"    its graph was freed by the `{tag[1]}` at {format_chain(tag[2], home)}")
    same_forward = not carried
    backward_at = format_chain(tag[2], home)
    if same_forward:
        lines.append(
            "  fix: two backward calls over one forward: pass retain_graph=True to the first"
            f" ({backward_at}), or add the losses and call backward once"
        )
        return lines
    where = format_location(at) if at else "where it enters the next iteration"
    if name and summing:
        lines.append(
            f"  fix: accumulate a number, not the graph: `{name} += loss.item()`"
            f" (or `loss.detach()`) at {where}"
        )
    elif name:
        lines.append(
            f"  fix: detach `{name}` at the boundary, before it is used again at {where}:"
            f" `{name} = {name}.detach()` (a tuple, as an LSTM's (h, c):"
            f" `{name} = tuple(s.detach() for s in {name})`)"
        )
    else:
        lines.append(f"  fix: detach the tensor at {where} before it is used again")
    lines.append(
        f"  retain_graph=True at {backward_at} would be the wrong remedy: every iteration's"
        " graph would stay alive (memory and time grow each step), backward would run again"
        " into iterations already used, and after an optimizer step it fails with"
        ' "modified by an inplace operation" instead'
    )
    return lines


def backward_roots(exc: BaseException) -> list[torch.Tensor]:
    """The tensors the failing backward was called on, read from the traceback's torch frames."""
    tb, found = exc.__traceback__, []
    while tb is not None:
        frame = tb.tb_frame
        if "/torch/autograd/" in frame.f_code.co_filename.replace("\\", "/"):
            for key in ("t_outputs", "tensors", "outputs"):
                value = frame.f_locals.get(key)
                if isinstance(value, torch.Tensor):
                    value = (value,)
                if isinstance(value, (tuple, list)) and value:
                    found = [t for t in value if isinstance(t, torch.Tensor)]
                    break
        tb = tb.tb_next
    return found


def describe(t: torch.Tensor) -> str:
    return layout(str(t.dtype), tuple(t.shape))
