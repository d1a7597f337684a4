"""Custom Functions and in-place changes: mark_dirty, returned views, saved inputs modified later."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_EXTENDING = "https://pytorch.org/docs/stable/notes/extending.html"
_DIRTY = (
    "https://pytorch.org/docs/stable/generated/torch.autograd.function.FunctionCtx.mark_dirty.html"
)


class _DoubleInPlace(torch.autograd.Function):
    """`x.mul_(2)` as a Function: marks `x` dirty and returns it."""

    @staticmethod
    def forward(ctx, x):
        x.mul_(2)  # in place on the input: declared with mark_dirty
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


@case(
    "custom-function/dirty-input-not-returned",
    question="Why does my autograd.Function fail with 'Some elements marked as dirty during the forward method were not returned as output'?",
    expect="mark_dirty tells autograd about the in-place change; what forward returns is up to me.",
    outcome=Raises(
        RuntimeError,
        r"Some elements marked as dirty during the forward method were not returned as output",
    ),
    fix="custom-function/mark-dirty-and-return",
    see_also=(_DIRTY,),
)
def dirty_input_not_returned():
    """A tensor modified in place by a Function gets a new history: the Function's node becomes
    its `grad_fn`. Autograd can only rebase a tensor that the Function returns, so every dirty
    input must be among the outputs.

    After `forward`, `apply` processes the outputs: a dirty input found among them is rebased
    onto the new node (its version bumped, its `grad_fn` replaced). A dirty input that is not
    returned would keep its old `grad_fn` while holding new values — wrong gradients — so the
    check refuses it. Return the modified input itself (`return x`), not a clone.
    """

    class DoubleInPlace(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x.clone()  # the dirty x itself is not returned

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    DoubleInPlace.apply(torch.ones(3, requires_grad=True) * 1)


@case(
    "custom-function/mark-dirty-on-leaf",
    question="Why does my in-place autograd.Function fail with 'a leaf Variable that requires grad has been used in an in-place operation'?",
    expect="A Function that declares its in-place change with mark_dirty may modify any input.",
    outcome=Raises(
        RuntimeError, r"a leaf Variable that requires grad has been used in an in-place operation"
    ),
    fix="custom-function/mark-dirty-and-return",
    see_also=("grad-mode/leaf-inplace-outside-no-grad", _DIRTY),
)
def mark_dirty_on_leaf():
    """Marking a tensor dirty gives it a `grad_fn`; a leaf that requires grad must stay a leaf
    (its `.grad` is where gradients accumulate), so a Function may not modify one in place,
    exactly as a built-in in-place op may not.

    The check runs when `apply` rebases the dirty outputs; note the wording, "*has been* used",
    which differs from the built-in ops' "is being used" (`grad-mode/leaf-inplace-outside-no-grad`).
    Apply the Function to a non-leaf (`x * 1`, `x.clone()`) — the result is then a tensor whose
    history records the in-place op.
    """
    _DoubleInPlace.apply(torch.ones(3, requires_grad=True))  # a leaf


@case(
    "custom-function/mark-dirty-and-return",
    question="How do I write an in-place custom Function correctly?",
    outcome=Returns(
        {
            "same tensor returned": True,
            "grad_fn": "_DoubleInPlaceBackward",
            "x.grad": torch.tensor([2.0, 2.0]),
        }
    ),
    see_also=("custom-function/dirty-input-not-returned", "custom-function/mark-dirty-on-leaf"),
)
def mark_dirty_and_return():
    """Modify the input in place, mark it dirty and return it; apply the Function to a
    non-leaf. The returned tensor is the input itself, with the Function's node as its new
    `grad_fn`, and gradients reach the leaf behind it.

    `h = x * 1` is a non-leaf; after `_DoubleInPlace.apply(h)`, `h.grad_fn` is
    `_DoubleInPlaceBackward`, whose backward multiplies by 2 and passes on to `MulBackward0` and
    `x`.
    """
    x = torch.ones(2, requires_grad=True)
    h = x * 1  # a non-leaf to modify
    out = _DoubleInPlace.apply(h)
    name = h.grad_fn.name()
    out.sum().backward()
    return {"same tensor returned": out is h, "grad_fn": name, "x.grad": x.grad}


@case(
    "custom-function/returned-view-modified",
    question="Why does an in-place op on my Function's output fail with 'is a view and is being modified inplace. This view was created inside a custom Function'?",
    expect="The output of a Function is a new tensor; modifying it in place is like modifying any result.",
    outcome=Raises(
        RuntimeError,
        r"is a view and is being modified inplace\. This view was created inside a custom Function",
    ),
    fix="custom-function/return-a-clone",
    see_also=("modules/full-backward-hook-with-inplace-relu", _EXTENDING),
)
def returned_view_modified():
    """A Function that returns a view of its input (`x.view(-1)`, or `x` itself) returns a
    tensor that shares storage with the input; autograd's view+inplace handling would replace
    the Function's own backward, so in-place ops on such outputs are forbidden.

    For a view produced inside a Function, autograd marks the output's view metadata so that
    an in-place op on it raises (the custom backward could not be combined with the rebase that
    view+inplace needs). The same rule is what breaks an in-place ReLU under a full backward
    hook (`modules/full-backward-hook-with-inplace-relu`), whose `BackwardHookFunction` returns
    its inputs as-is.
    """

    class Flatten(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.shape = x.shape
            return x.view(-1)  # a view of the input

        @staticmethod
        def backward(ctx, grad):
            return grad.view(ctx.shape)

    y = Flatten.apply(torch.ones(2, 2, requires_grad=True) * 1)
    y.mul_(2)


@case(
    "custom-function/return-a-clone",
    question="How do I return a reshaped input from a custom Function so that callers may modify it?",
    outcome=Returns({"y._is_view()": False, "x.grad": torch.tensor([[2.0, 2.0], [2.0, 2.0]])}),
    see_also=("custom-function/returned-view-modified",),
)
def return_a_clone():
    """Return a new tensor (`x.reshape(-1).clone()`, or compute out of place): it is not a view,
    so in-place ops on it are recorded like on any result.

    The clone costs one copy; in exchange, `y.mul_(2)` becomes an ordinary in-place op recorded
    on top of the Function's node (`MulBackward0` for the doubling), and backward gives 2 per
    element.
    """

    class Flatten(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.shape = x.shape
            return x.reshape(-1).clone()  # a new tensor, not a view

        @staticmethod
        def backward(ctx, grad):
            return grad.view(ctx.shape)

    x = torch.ones(2, 2, requires_grad=True)
    y = Flatten.apply(x * 1)
    y.mul_(2)  # in place on the Function's own output: allowed, it is no view
    y.sum().backward()
    return {"y._is_view()": y._is_view(), "x.grad": x.grad}


@case(
    "custom-function/saved-input-modified",
    question="Why does my Function's backward fail with 'modified by an inplace operation ... which is output 0 of Add'?",
    expect="save_for_backward keeps a copy of x, so changing x afterwards is safe.",
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="custom-function/save-and-clone-before-change",
    see_also=("versions/inplace-on-saved-output", _EXTENDING),
)
def saved_input_modified():
    """`save_for_backward` saves the tensor itself, not a copy, and records its version; an
    in-place op on it before backward bumps the version, and `ctx.saved_tensors` refuses the
    stale value — the same check as for built-in ops.

    `a = x + 0` is a non-leaf (version 0) that `Square` saves. `a.add_(1)` changes it to
    version 1. In backward, unpacking the saved `a` compares versions and raises, naming `a` as
    "output 0 of Add" (the op that produced it; the in-place op on it is what bumped the
    version).
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors  # checks the saved version
            return 2 * x * grad

    x = torch.ones(3, requires_grad=True)
    a = x + 0
    y = Square.apply(a)
    a.add_(1)  # changes the tensor Square saved
    y.sum().backward()


@case(
    "custom-function/save-and-clone-before-change",
    question="How do I change a tensor after passing it to a Function that saved it?",
    outcome=Returns({"x.grad": torch.tensor([2.0, 2.0, 2.0]), "a": torch.tensor([2.0, 2.0, 2.0])}),
    see_also=("custom-function/saved-input-modified",),
)
def save_and_clone_before_change():
    """Change a copy instead (`a = a + 1`, out of place, or `a.clone().add_(1)`): the saved
    tensor keeps version 0, and backward uses the value the forward saw.

    The gradient of `x²` at `x = 1` is 2, computed from the saved, unchanged `a`.
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = torch.ones(3, requires_grad=True)
    a = x + 0
    y = Square.apply(a)
    a = a + 1  # a new tensor: the saved one keeps its version
    y.sum().backward()
    return {"x.grad": x.grad, "a": a.detach()}
