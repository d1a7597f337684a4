"""Higher-order gradients: create_graph, grad of grad, and ops that cannot be differentiated."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case

_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"
_DOUBLE = "https://pytorch.org/tutorials/intermediate/custom_function_double_backward_tutorial.html"


@case(
    "higher-order/grad-of-grad-without-create-graph",
    question="Why does differentiating a gradient fail with 'element 0 of tensors does not require grad and does not have a grad_fn'?",
    expect="autograd.grad returns a tensor computed from x, so it can be differentiated again.",
    outcome=Raises(
        RuntimeError, r"element 0 of tensors does not require grad and does not have a grad_fn"
    ),
    fix="higher-order/create-graph-second-derivative",
    see_also=(_GRAD, "backward-api/backward-on-constant"),
)
def grad_of_grad_without_create_graph():
    """Backward itself is only recorded when asked: without `create_graph=True` the engine runs
    the backward formulas in no-grad mode, so the gradient it returns is a constant with no
    `grad_fn`.

    `torch.autograd.grad(y, x)` computes `dy/dx = 3x²` by running `PowBackward0`; with
    `create_graph=False` (the default) grad mode is off while it runs, so `g` does not require
    grad and the second `backward` has no root to start from — the same check as for a loss
    built from constants. A gradient penalty (`loss + g.norm()`) or a Hessian-vector product
    needs the first gradient computed with `create_graph=True`.
    """
    x = torch.tensor([2.0], requires_grad=True)
    y = x**3
    (g,) = torch.autograd.grad(y, x)  # no create_graph: g is a constant
    g.backward()


@case(
    "higher-order/create-graph-second-derivative",
    question="How do I take the second derivative, or backpropagate through a gradient?",
    outcome=Returns(
        {
            "dy/dx": torch.tensor([12.0]),
            "g.grad_fn": "MulBackward0",
            "d2y/dx2": torch.tensor([12.0]),
        }
    ),
    see_also=("higher-order/grad-of-grad-without-create-graph", _GRAD),
)
def create_graph_second_derivative():
    """With `create_graph=True`, the backward formulas run in grad mode and are recorded like
    any forward: the returned gradient has a `grad_fn`, and differentiating it gives the second
    derivative.

    For `y = x³` at `x = 2`: `dy/dx = 3x² = 12`, recorded as ops on `x` (the last of them a
    multiplication, so `g.grad_fn` is `MulBackward0`); `d²y/dx² = 6x = 12`. `create_graph=True`
    also implies `retain_graph=True`: the first graph must survive, since the new one runs
    through its saved tensors.
    """
    x = torch.tensor([2.0], requires_grad=True)
    y = x**3
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad(g, x)
    return {"dy/dx": g.detach(), "g.grad_fn": g.grad_fn.name(), "d2y/dx2": h}


@case(
    "higher-order/backward-create-graph-warns",
    question="Why does loss.backward(create_graph=True) warn 'will create a reference cycle between the parameter and its gradient'?",
    outcome=Returns(
        {"x.grad.requires_grad": True, "x.grad.grad_fn is not None": True},
        warns=(
            Warned(
                UserWarning,
                r"Using backward\(\) with create_graph=True will create a reference cycle",
            ),
        ),
    ),
    see_also=("higher-order/create-graph-second-derivative",),
)
def backward_create_graph_warns():
    """With `create_graph=True`, `backward()` stores into `x.grad` a gradient that has a
    `grad_fn`, whose graph holds `x` itself: `x -> x.grad -> grad_fn -> ... -> x`, a reference
    cycle that keeps the graph alive until the cycle collector runs (or `x.grad = None`).

    `autograd.grad(..., create_graph=True)` returns the gradient instead of storing it on the
    leaf, so no cycle forms; that is what the warning recommends. Observed here: `x.grad`
    requires grad and has a `grad_fn`.
    """
    # The C++ side warns once per process (TORCH_WARN_ONCE); warn-always makes each run see it.
    torch.set_warn_always(True)
    x = torch.tensor([2.0], requires_grad=True)
    (x**3).backward(create_graph=True)
    has_fn = x.grad.grad_fn is not None
    result = {"x.grad.requires_grad": x.grad.requires_grad, "x.grad.grad_fn is not None": has_fn}
    x.grad = None  # break the cycle now rather than leave it to the collector
    return result


@case(
    "higher-order/once-differentiable-twice",
    question="Why does a double backward fail with 'trying to differentiate twice a function that was marked with @once_differentiable'?",
    expect="The backward is written in torch ops, so autograd can differentiate it.",
    outcome=Raises(
        RuntimeError,
        r"trying to differentiate twice a function that was marked with @once_differentiable",
    ),
    fix="higher-order/differentiable-backward",
    see_also=(_DOUBLE,),
)
def once_differentiable_twice():
    """`@once_differentiable` runs the decorated backward under `no_grad` and, when its inputs
    require grad (a double backward is under way), attaches a node that raises if reached: the
    decorator promises the backward will never be differentiated.

    The first `grad` with `create_graph=True` sends `2y` (which requires grad) into `Square`'s
    backward; the decorator computes `2x·g` untracked and returns it wrapped by a
    `DelayedError` node. The error appears only when the second backward reaches that node.
    Note the condition: with a plain `y.sum()`, the gradient sent in is a constant `1`, no
    wrapping happens, and the failure is `higher-order/grad-of-grad-without-create-graph`'s
    instead.
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad(Square.apply(x).pow(2).sum(), x, create_graph=True)
    g.sum().backward()


@case(
    "higher-order/differentiable-backward",
    question="How do I make a custom Function twice differentiable?",
    outcome=Returns(
        {"d/dx of x^4": torch.tensor([4.0, 32.0]), "second derivative": torch.tensor([12.0, 48.0])}
    ),
    see_also=("higher-order/once-differentiable-twice", _DOUBLE),
)
def differentiable_backward():
    """Write `backward` with differentiable torch ops on saved tensors and leave out
    `@once_differentiable`: under `create_graph=True` the engine runs it in grad mode and records
    it like a forward.

    `(x²)² = x⁴`: the first derivative `4x³` is `(4, 32)` at `x = (1, 2)`, the second `12x²`
    is `(12, 48)`.
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad  # recorded when create_graph=True

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad(Square.apply(x).pow(2).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    return {"d/dx of x^4": g.detach(), "second derivative": h}


@case(
    "higher-order/double-backward-not-implemented",
    question="Why does a gradient penalty fail with 'derivative for aten::multi_margin_loss_backward is not implemented'?",
    expect="Every op PyTorch can differentiate once it can differentiate twice.",
    outcome=Raises(RuntimeError, r"derivative for .* is not implemented"),
    fix="higher-order/create-graph-second-derivative",
    see_also=("https://github.com/pytorch/pytorch/blob/main/tools/autograd/derivatives.yaml",),
)
def double_backward_not_implemented():
    """Some ops' backward is itself a dedicated kernel (`multi_margin_loss_backward`) with no
    derivative formula of its own; with `create_graph=True` that kernel is recorded as a node
    whose backward raises "not implemented".

    `derivatives.yaml` gives `multi_margin_loss` a backward that calls the
    `multi_margin_loss_backward` op, and that op has no derivative formula: the node recorded
    for it under `create_graph=True` raises when the second backward reaches it. So the first
    gradient works, and the failure appears only at the second backward. A penalty on gradients
    (WGAN-GP, a Jacobian norm) needs every op on the path to be twice differentiable: rewrite
    the loss from differentiable primitives (here `clamp(1 - margin, min=0)` sums).
    """
    scores = torch.randn(2, 3, requires_grad=True)
    loss = torch.nn.functional.multi_margin_loss(scores, torch.tensor([0, 1]))
    (g,) = torch.autograd.grad(loss, scores, create_graph=True)
    g.pow(2).sum().backward()  # through multi_margin_loss_backward: no formula


@case(
    "higher-order/non-differentiable-ops",
    question="What gradient do round(), argmax() and comparisons give?",
    outcome=Returns(
        {
            "round: grad_fn": "RoundBackward0",
            "round: x.grad": torch.zeros(3),
            "argmax requires grad": False,
            "comparison requires grad": False,
        }
    ),
    see_also=("backward-api/backward-on-constant",),
)
def non_differentiable_ops():
    """Piecewise-constant ops are differentiable almost everywhere with derivative 0, and
    PyTorch records them so: `round` has a `RoundBackward0` that returns zeros. Ops with
    integer or boolean outputs (`argmax`, `>`) are not recorded at all.

    So a loss through `round` trains nothing upstream, silently (zeros, not an error), and a
    loss through `argmax` fails at backward with the "does not require grad" error. A
    straight-through estimator (`x + (x.round() - x).detach()`) is the usual way round both.
    """
    x = torch.tensor([0.2, 1.7, -0.6], requires_grad=True)
    r = x.round()
    r.sum().backward()
    return {
        "round: grad_fn": r.grad_fn.name(),
        "round: x.grad": x.grad,
        "argmax requires grad": x.argmax().requires_grad,
        "comparison requires grad": (x > 0).requires_grad,
    }
