"""The recorded answer to "backward through the graph a second time": who carried the old graph.

From the failing backward's roots, the nodes an earlier backward freed (tagged ``FREED`` when it
ran). Where this backward enters the old graph: an edge from a node made *after* that backward
to one made *before* it is a tensor carried across iterations (a hidden state, a running total);
its variable is the name that the line using it both reads and assigns (``state = f(x, state)``,
``total = total + loss``), and the fix is to detach it there (or sum a number). With no such
edge, two backward calls ran over one forward: ``retain_graph=True`` on the first is the fix.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from .carriers import container_holding, detached_names, discarded_detaches, variable_holding
from .graph_record import FREED, MADE, frame_names, walk
from .locations import carried_names, format_chain, format_location
from .saved_tensors import TensorNamer

__all__ = ["freed_error"]


def freed_error(rec: Any, roots, seq: int, frames) -> list[str]:
    walked = list(walk(roots))
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
                root = _root_name(node, roots, frames)
                held = container_holding(node, frames) if carried else None
                kept = variable_holding(node, frames) if carried and not held else None
                lines += _boundary_lines(rec, node, tag, made, consumer, carried, root, held, kept)
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
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _carrier(consumer: tuple | None) -> tuple[str | None, bool, tuple | None]:
    """The variable that carried the old graph in: outermost line that reads and assigns it
    (of several, one the loop around it does not already detach)."""
    if consumer is None:
        return None, False, None
    for loc in reversed(consumer[2]):
        names, summing = carried_names(loc)
        if names:
            cut = detached_names(consumer[2]) if len(names) > 1 else set()
            return ([n for n in names if n not in cut] or names)[0], summing, loc
    return None, False, consumer[2][0] if consumer[2] else None


def _root_name(node: Any, roots, frames) -> str | None:
    """The user's name for the root tensor whose own graph is the freed one (``y`` twice)."""
    for t in roots:
        if isinstance(t, torch.Tensor) and t.grad_fn is node:
            return TensorNamer(frame_names(frames)).name(t)
    return None


def _boundary_lines(
    rec, node, tag, made, consumer, carried, root=None, held=None, kept=None
) -> list[str]:
    home = rec.home
    name, summing, at = _carrier(consumer)
    name = name or root
    if not name and kept:
        return _reused_lines(rec, tag, made, consumer, kept)
    if name:
        what = f"`{name}`"
    elif held:
        what = f"a tensor kept in `{held}`"
    else:
        what = f"a tensor whose grad_fn is {node.name()}"
    lines = [f"  this backward enters a graph an earlier backward freed, through {what}"]
    if made is not None:
        lines.append(f"    {what} was made by `{made[1]}` at {format_chain(made[2], home)}")
    if consumer is not None:
        when = ", after that backward," if carried else ""
        lines.append(
            f"    and used again{when} by `{consumer[1]}` at {format_chain(consumer[2], home)}"
        )
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
        for loc in discarded_detaches(name, consumer[2] if consumer else ()):
            lines.append(
                f"  your `{name}.detach()` at {format_location(loc)} throws its result away:"
                f" detach() returns a new tensor and leaves `{name}` as it was"
            )
    elif held:
        lines.append(
            f"  fix: `{held}` still holds tensors of an iteration whose graph a backward freed:"
            f" empty it after each backward (`{held}.clear()`), or keep numbers in it"
            " (`.item()`) or detached tensors"
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


def _reused_lines(rec, tag, made, consumer, kept: str) -> list[str]:
    """A tensor made once that two backwards go through (a GAN's ``fake``): not carried."""
    home = rec.home
    lines = [
        f"  this backward goes through `{kept}` again: the `{tag[1]}` at"
        f" {format_chain(tag[2], home)} already went through it and freed the graph that made it"
    ]
    if made is not None:
        lines.append(f"    `{kept}` was made by `{made[1]}` at {format_chain(made[2], home)}")
    if consumer is not None:
        lines.append(f"    and used again by `{consumer[1]}` at {format_chain(consumer[2], home)}")
    lines.append(
        f"  fix: if the earlier loss must not train what made `{kept}` (a GAN's discriminator"
        f" step on the generator's output), give that loss `{kept}.detach()`; if both losses"
        " should, add them and call backward once (or pass retain_graph=True to the first)"
    )
    return lines
