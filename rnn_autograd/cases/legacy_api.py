"""Old autograd spellings that still run and warn, or that are gone: Variable, volatile, resize."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case

_MIGRATION = "https://pytorch.org/blog/pytorch-0_4_0-migration-guide/"


@case(
    "legacy-api/volatile-attribute",
    question="Why does reading tensor.volatile warn 'volatile was removed (Variable.volatile is always False)'?",
    outcome=Returns(
        {"volatile": False, "what tells grad mode": False},
        warns=(
            Warned(UserWarning, r"volatile was removed \(Variable\.volatile is always False\)"),
        ),
    ),
    see_also=("legacy-api/modern-spellings", _MIGRATION),
)
def volatile_attribute():
    """`volatile` was the pre-0.4 flag for "no graph here"; grad modes replaced it, and the
    attribute now always reads `False` (with a warning), whatever mode is active.

    Observed under `torch.no_grad()`: `volatile` is still `False`; `torch.is_grad_enabled()`
    is what says whether ops are recorded.
    """
    with torch.no_grad():  # the mode volatile=True used to mean
        t = torch.ones(2)
        return {"volatile": t.volatile, "what tells grad mode": torch.is_grad_enabled()}


@case(
    "legacy-api/volatile-argument",
    question="Why does Variable(x, volatile=True) warn 'volatile was removed and now has no effect'?",
    outcome=Returns(
        {"records a graph anyway": True},
        warns=(
            Warned(
                UserWarning,
                r"volatile was removed and now has no effect\. Use `with torch\.no_grad\(\):` instead",
            ),
        ),
    ),
    see_also=("legacy-api/modern-spellings", _MIGRATION),
)
def volatile_argument():
    """`torch.autograd.Variable(x, volatile=True)` once meant "evaluate without a graph"; the
    argument is ignored now, so an old evaluation loop silently records graphs again.

    Observed: an op between the "volatile" input and a weight that requires grad still gets a
    `grad_fn`. Use `torch.no_grad()` (or `inference_mode()`) around evaluation. Asking for both
    `volatile=True` and `requires_grad=True` is refused outright
    (`legacy-api/volatile-and-requires-grad`).
    """
    v = torch.autograd.Variable(torch.ones(2), volatile=True)
    w = torch.ones(2, requires_grad=True)
    return {"records a graph anyway": (v * w).grad_fn is not None}


@case(
    "legacy-api/volatile-and-requires-grad",
    question='Why does Variable(x, requires_grad=True, volatile=True) fail with "Variable can\'t be volatile and require_grad at the same time!"?',
    expect="volatile is ignored now, so the tensor simply requires grad.",
    outcome=Raises(
        ValueError,
        r"Variable can't be volatile and require_grad at the same time",
        warns=(Warned(UserWarning, r"volatile was removed and now has no effect"),),
    ),
    fix="legacy-api/modern-spellings",
    see_also=("legacy-api/volatile-argument",),
)
def volatile_and_requires_grad():
    """The legacy `Variable` constructor warns that `volatile` has no effect, then still checks
    the old contradiction (a volatile tensor never required grad), so the two flags together
    raise even though `volatile` alone is ignored.

    Drop `volatile`; write `torch.tensor(data, requires_grad=True)`.
    """
    torch.autograd.Variable(torch.ones(2), requires_grad=True, volatile=True)


@case(
    "legacy-api/autograd-variable-function",
    question="Why does torch.autograd.variable(x) fail with 'torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead'?",
    expect="torch.autograd.variable wraps data for autograd, like Variable did.",
    outcome=Raises(
        RuntimeError,
        r"torch\.autograd\.variable\(\.\.\.\) is deprecated, use torch\.tensor\(\.\.\.\) instead",
    ),
    fix="legacy-api/modern-spellings",
    see_also=(_MIGRATION,),
)
def autograd_variable_function():
    """Since tensors and Variables merged (0.4), there is nothing to wrap: every tensor takes part
    in autograd when it requires grad. The lower-case helper `torch.autograd.variable` is kept
    only to raise this error.

    `torch.tensor(data, requires_grad=True)` (or `t.requires_grad_()`) is the spelling now.
    """
    torch.autograd.variable(torch.ones(3))


@case(
    "legacy-api/non-inplace-resize",
    question="Why does tensor.resize(2, 2) warn 'non-inplace resize is deprecated'?",
    outcome=Returns(
        {"shape": (2, 2), "a new tensor": True},
        warns=(Warned(UserWarning, r"non-inplace resize is deprecated"),),
    ),
    see_also=("in-place/resize-requires-grad",),
)
def non_inplace_resize():
    """`Tensor.resize` (without `_`) is a legacy Python method that copies and calls `resize_`;
    it warns, because `reshape`/`view` say what is meant (same elements, new shape) and are
    differentiable.

    Observed: it returns a new tensor of the new shape. On a tensor that requires grad it would
    go through the differentiable `Resize` function; use `reshape` anyway.
    """
    t = torch.arange(4.0)
    r = t.resize(2, 2)
    return {"shape": tuple(r.shape), "a new tensor": r is not t}


@case(
    "legacy-api/new-tensor-of-a-tensor",
    question="Why does x.new_tensor(y) warn 'rather than tensor.new_tensor(sourceTensor)'?",
    outcome=Returns(
        {"copy requires grad": False, "copy is a leaf": True},
        warns=(Warned(UserWarning, r"rather than tensor\.new_tensor\(sourceTensor\)"),),
    ),
    see_also=("detach/torch-tensor-of-a-tensor",),
)
def new_tensor_of_a_tensor():
    """`new_tensor(data)` always copies `data` and drops its history; given a tensor, that is
    `data.detach().clone()`, which says so explicitly, and PyTorch recommends that spelling.

    Same warning family as `torch.tensor(t)` (`detach/torch-tensor-of-a-tensor`): the copy is a
    leaf that does not require grad, even when the source does.
    """
    x = torch.ones(2, requires_grad=True)
    c = x.new_tensor(x * 2)
    return {"copy requires grad": c.requires_grad, "copy is a leaf": c.is_leaf}


@case(
    "legacy-api/saved-variables",
    question="Why does ctx.saved_variables warn \"'saved_variables' is deprecated; use 'saved_tensors'\"?",
    outcome=Returns(
        {"x.grad": torch.tensor([2.0, 4.0])},
        warns=(
            Warned(DeprecationWarning, r"'saved_variables' is deprecated; use 'saved_tensors'"),
        ),
    ),
    see_also=("custom-function/one-gradient-per-input",),
)
def saved_variables():
    """`ctx.saved_variables` is the pre-0.4 name of `ctx.saved_tensors`; it returns the same
    unpacked tensors (version-checked the same way) and warns.

    The warning is raised by the `saved_variables` property itself each time it is read; nothing
    else changes, so renaming the attribute is the whole migration.
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_variables  # the old name
            return 2 * x * grad

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    Square.apply(x).sum().backward()
    return {"x.grad": x.grad}


@case(
    "legacy-api/modern-spellings",
    question="What replaced Variable, volatile and resize in current PyTorch?",
    outcome=Returns(
        {"tensor requiring grad": True, "no graph under no_grad": True, "reshape keeps grad": True}
    ),
    see_also=(_MIGRATION,),
)
def modern_spellings():
    """`torch.tensor(..., requires_grad=True)` instead of `Variable`, `torch.no_grad()` instead
    of `volatile=True`, `reshape` instead of `resize`.

    All three observed: a tensor that requires grad without wrapping, no `grad_fn` under
    `no_grad`, and a reshape that stays in the graph.
    """
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    with torch.no_grad():  # evaluation: nothing recorded
        y = x * 2
    r = x.reshape(2, 2)
    return {
        "tensor requiring grad": x.requires_grad,
        "no graph under no_grad": y.grad_fn is None,
        "reshape keeps grad": r.grad_fn is not None,
    }
