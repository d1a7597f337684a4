"""In-place ops that autograd refuses outright: multi-output views, out=, resize_, detach_."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd"
_MULTI = r"is a view and is being modified inplace\. This view is the output of a function that returns multiple views"


@case(
    "in-place/modify-unbind-output",
    question="Why does an in-place op on a row from unbind() fail with 'is a view and is being modified inplace. This view is the output of a function that returns multiple views'?",
    expect="Rows from unbind are views, and in-place ops on views of non-leaves are tracked.",
    outcome=Raises(RuntimeError, _MULTI),
    fix="in-place/rebuild-out-of-place",
    see_also=("versions/view-shares-counter", _INPLACE),
)
def modify_unbind_output():
    """An in-place op on a view is handled by rewriting the base's history (a `CopySlices` node
    that re-creates the view from its base); for a view produced by a function that returns
    *several* views (`unbind`, `split`, `chunk`), that rewrite is not implemented, so the in-place
    op is refused.

    A single view (`h[0]`, `h.view(-1)`) records how to regenerate itself from its base, so
    `h[0].mul_(2)` is tracked. The outputs of `unbind` share one node; rebasing one of them
    would invalidate the others' relationship to that node, so autograd marks them and raises at
    the in-place op. Iterating a tensor (`for row in h:`) calls `h.unbind(0)` and fails the same
    way; indexing (`h[i].mul_(2)`) creates one `select` view per step and is tracked (the fix
    runs both). Build a new tensor, or index.
    """
    x = torch.ones(3, 2, requires_grad=True)
    h = x * 1
    for row in h.unbind():  # one node, three views
        row.mul_(2)


@case(
    "in-place/modify-split-chunk",
    question="Why does an in-place op on a chunk from split() or chunk() fail with 'Output 0 of Split is a view and is being modified inplace'?",
    expect="Each chunk of split is a separate tensor that I can update in place.",
    outcome=Raises(RuntimeError, _MULTI),
    fix="in-place/rebuild-out-of-place",
    see_also=("in-place/modify-unbind-output",),
)
def modify_split_chunk():
    """`split` and `chunk` return several views from one node, like `unbind`; an in-place op on
    any of them is refused for the same reason (`in-place/modify-unbind-output`).

    A common form: splitting an LSTM gate tensor into four chunks and applying `sigmoid_` to
    each. Use the out-of-place `torch.sigmoid(chunk)` and keep the results.
    """
    x = torch.ones(4, 2, requires_grad=True)
    gates = x * 1
    i, f = gates.chunk(2)
    i.sigmoid_()  # in place on one of two views from one node


@case(
    "in-place/rebuild-out-of-place",
    question="How do I transform the rows of a tensor that requires grad?",
    outcome=Returns(
        {
            "x.grad": torch.tensor([[2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]),
            "x.grad, indexing h[i] in place": torch.tensor([[2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]),
        }
    ),
    see_also=("in-place/modify-unbind-output", "in-place/modify-split-chunk"),
)
def rebuild_out_of_place():
    """Compute each piece out of place and put them back together with `torch.stack` (or
    `torch.cat`): every op is a new node with its own saved tensors, and nothing is rebased.

    Row `i` multiplied by `i + 2` gives `x.grad` rows of 2, 3 and 4. The cost is one new tensor
    per row and the stacked result. Indexing works in place too: each `h[i]` is a single `select`
    view, and `h[i].mul_(i + 2)` is recorded on `h` through `CopySlices`, with the same gradient.
    """
    x = torch.ones(3, 2, requires_grad=True)
    h = x * 1
    rows = [row * (i + 2) for i, row in enumerate(h.unbind())]  # out of place
    torch.stack(rows).sum().backward()
    stacked = x.grad
    x2 = torch.ones(3, 2, requires_grad=True)
    h2 = x2 * 1
    for i in range(3):
        h2[i].mul_(i + 2)  # in place on a single view: tracked through CopySlices
    h2.sum().backward()
    return {"x.grad": stacked, "x.grad, indexing h[i] in place": x2.grad}


@case(
    "in-place/out-argument-with-grad",
    question='Why does torch.mul(x, 2, out=buf) fail with "functions with out=... arguments don\'t support automatic differentiation"?',
    expect="out= just saves an allocation; the result is differentiated as usual.",
    outcome=Raises(
        RuntimeError,
        r"functions with out=\.\.\. arguments don't support automatic differentiation, but one of the arguments requires grad",
    ),
    fix="in-place/out-argument-without-grad",
    see_also=(_INPLACE,),
)
def out_argument_with_grad():
    """Ops with `out=` write into an existing tensor and record no `grad_fn`; to avoid silently
    wrong gradients, they refuse to run when grad mode is on and an argument requires grad.

    The `out=` variants have no derivative formula in `derivatives.yaml`; the generated
    autograd kernel checks the arguments and raises before computing. Use the functional form
    (`y = torch.mul(x, 2)`), or `out=` under `torch.no_grad()` when no gradient is wanted.
    """
    x = torch.ones(3, requires_grad=True)
    buf = torch.empty(3)
    torch.mul(x, 2, out=buf)


@case(
    "in-place/out-argument-without-grad",
    question="When may I use out= on tensors that require grad?",
    outcome=Returns({"buf": torch.tensor([2.0, 2.0, 2.0]), "buf.requires_grad": False}),
    see_also=("in-place/out-argument-with-grad",),
)
def out_argument_without_grad():
    """Under `torch.no_grad()` (nothing is recorded anyway), `out=` runs and fills the buffer,
    which does not require grad afterwards.

    Typical use: an evaluation loop writing into a preallocated tensor.

    The check for `out=` only runs when grad mode is on and an argument requires grad; under
    `no_grad` neither the op nor the buffer is recorded, so there is nothing to differentiate
    and nothing to refuse.
    """
    x = torch.ones(3, requires_grad=True)
    buf = torch.empty(3)
    with torch.no_grad():  # evaluation: no graph wanted, so out= is allowed
        torch.mul(x, 2, out=buf)
    return {"buf": buf, "buf.requires_grad": buf.requires_grad}


@case(
    "in-place/resize-requires-grad",
    question="Why does x.resize_() fail with 'cannot resize variables that require grad'?",
    expect="resize_ changes the shape like reshape does.",
    outcome=Raises(RuntimeError, r"cannot resize variables that require grad"),
    fix="in-place/rebuild-out-of-place",
    see_also=("https://pytorch.org/docs/stable/generated/torch.Tensor.resize_.html",),
)
def resize_requires_grad():
    """`resize_` changes a tensor's storage in place without any derivative (new elements are
    uninitialised memory), so autograd refuses it on a tensor that requires grad.

    Use `reshape`/`view` for a new shape with the same elements (differentiable), or
    `torch.cat`/`torch.nn.functional.pad` to grow a tensor.
    """
    x = torch.ones(3, requires_grad=True)
    x.resize_(4)


@case(
    "in-place/detach-saved-tensor-in-place",
    question="Why does backward fail with 'Trying to use a saved tensor that has been detached in-place, i.e. with .detach_()'?",
    expect="detach_() only stops gradients through y from then on.",
    outcome=Raises(RuntimeError, r"Trying to use a saved tensor that has been detached in-place"),
    fix="in-place/detach-out-of-place",
    see_also=("detach/detach-in-place-same-object",),
)
def detach_saved_tensor_in_place():
    """An op that saved `y` for its backward holds `y` itself; `y.detach_()` cuts that very
    tensor out of the graph in place, and when backward unpacks it, the saved variable finds
    that what it saved as part of the graph no longer is.

    `z = y.sin()` saves `y` (the derivative of `sin` needs its input). `y.detach_()` removes
    `y`'s `grad_fn` and `requires_grad` in place. `z`'s backward still runs `SinBackward0`,
    unpacks the saved `y` and raises. `y.detach()` returns a new tensor and leaves the saved one
    intact.
    """
    x = torch.ones(3, requires_grad=True)
    y = x.exp()
    z = y.sin()  # saves y
    y.detach_()  # in place: the saved y is detached too
    z.sum().backward()


@case(
    "in-place/detach-out-of-place",
    question="How do I stop gradients at a tensor another op already saved?",
    outcome=Returns({"x.grad is set": True, "y_detached.requires_grad": False}),
    see_also=("in-place/detach-saved-tensor-in-place",),
)
def detach_out_of_place():
    """`y.detach()` creates a new tensor sharing `y`'s data, without history; the graph that
    saved `y` keeps it, and backward through `z` works.

    The detached tensor shares storage and version counter with `y`: modifying it in place
    *would* still break `z`'s backward (`detach/inplace-on-detached-breaks-backward`).
    """
    x = torch.ones(3, requires_grad=True)
    y = x.exp()
    z = y.sin()
    y_detached = y.detach()  # a new tensor: the saved y is untouched
    z.sum().backward()
    return {
        "x.grad is set": x.grad is not None,
        "y_detached.requires_grad": y_detached.requires_grad,
    }
