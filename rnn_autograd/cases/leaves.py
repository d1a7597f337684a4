"""Leaves and accumulation: which tensors get a ``.grad``, and how it fills up.

A backward writes gradients only into *leaves* that require grad (tensors without a
``grad_fn``: parameters, inputs made with ``requires_grad=True``), through the ``AccumulateGrad``
node at the end of each leaf's edge, and it *adds* to what is already there. Everything here
follows from that: why ``y.grad`` is None, why ``.grad`` grows with every backward, why a
``.to()`` after ``requires_grad=True`` loses the gradient, and how to stop a gradient. How
``.grad`` empties (``zero_grad()``) and how a leaf is updated by hand are in ``leaves_zero_grad``.
"""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case, snapshot

_REQUIRES_GRAD = "https://pytorch.org/docs/stable/notes/autograd.html#setting-requires-grad"
_IS_LEAF = "https://pytorch.org/docs/stable/generated/torch.Tensor.is_leaf.html"
_ZERO_GRAD = "https://pytorch.org/docs/stable/generated/torch.optim.Optimizer.zero_grad.html"
# The warning PyTorch emits when .grad is read on a non-leaf (stable since torch 1.5).
_NON_LEAF_GRAD = Warned(UserWarning, r"\.grad attribute of a Tensor that is not a leaf Tensor")


@case(
    "leaves/requires-grad-propagates",
    question="Why does y1 = 2 * x1 + state * x2 require grad when state does not?",
    expect="state was made without requires_grad, so y1, computed with it, should not require grad either.",
    outcome=Returns(
        {
            "state.requires_grad": False,
            "y1.requires_grad": True,
            "y1.is_leaf": False,
            "y1.grad_fn": "AddBackward0",
            "2 * state requires_grad": False,
        }
    ),
    see_also=(_REQUIRES_GRAD, _IS_LEAF, "graph/backward-through-freed-graph"),
)
def requires_grad_propagates():
    """Under grad mode an operation's output requires grad if *any* of its inputs does, and it
    then gets a `grad_fn`: `y1` is the root of a recorded graph, not a leaf.

    `state * x2` has one input that requires grad (`x2`), so autograd records `MulBackward0` and
    the product requires grad; the same for `2 * x1`; their sum records `AddBackward0`. Having a
    `grad_fn` makes `y1` a non-leaf: the backward passes *through* it to the leaves `x1`, `x2`
    and never stores a gradient in it. That `state` does not require grad only means no edge
    leads to it: it is saved (as the factor of `x2`'s gradient) but receives nothing. Predict the
    variation: an operation whose inputs all do not require grad (`2 * state`) records nothing
    and gives a leaf with `requires_grad=False`. This is why the notebook's RNN `state`, a
    constant at first, requires grad after the first batch: it is computed from the weights.
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    snapshot("y1 and the graph behind it", y1)
    return {
        "state.requires_grad": state.requires_grad,
        "y1.requires_grad": y1.requires_grad,
        "y1.is_leaf": y1.is_leaf,
        "y1.grad_fn": type(y1.grad_fn).__name__,
        "2 * state requires_grad": (2 * state).requires_grad,
    }


@case(
    "leaves/grad-of-non-leaf-is-none",
    question="Why is y1.grad None after y1.backward()?",
    expect="y1.backward() computes dy1/dy1 = 1, so y1.grad should be tensor([1.]).",
    outcome=Returns({"y1.grad": None, "x1.grad": torch.tensor([2.0])}, warns=(_NON_LEAF_GRAD,)),
    fix="leaves/retain-grad",
    see_also=(
        _IS_LEAF,
        "https://pytorch.org/docs/stable/generated/torch.Tensor.grad.html",
        "leaves/requires-grad-propagates",
    ),
)
def grad_of_non_leaf_is_none():
    """Only leaves accumulate into `.grad`; the gradient flowing through a non-leaf is passed on
    to its `grad_fn` and dropped, so `y1.grad` stays None and reading it warns.

    Each leaf that requires grad has an `AccumulateGrad` node at the end of its edge; that node
    is the only place a backward writes `.grad`. `y1` has a `grad_fn` (`AddBackward0`) instead:
    the engine hands `AddBackward0` the incoming gradient (1), which computes its inputs'
    gradients and forwards them, down to `x1`'s and `x2`'s `AccumulateGrad`. Keeping every
    intermediate gradient would cost memory for every activation of a network, so it is not
    done unless asked (`retain_grad()`). Because reading `.grad` of a non-leaf is almost always
    a mistake, PyTorch returns None *and* emits a `UserWarning`.
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    y1.backward()
    return {"y1.grad": y1.grad, "x1.grad": x1.grad}


@case(
    "leaves/retain-grad",
    question="How do I see the gradient that flows through an intermediate tensor?",
    expect="retain_grad() makes y1 a leaf, or changes x1's gradient.",
    outcome=Returns(
        {"y1.grad": torch.tensor([3.0]), "y1.is_leaf": False, "x1.grad": torch.tensor([6.0])}
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.Tensor.retain_grad.html",
        "leaves/grad-of-non-leaf-is-none",
    ),
)
def retain_grad():
    """`y1.retain_grad()` hooks the non-leaf so that the gradient passing through it is also
    stored in `y1.grad`; `y1` stays a non-leaf.

    `retain_grad()` registers a hook on `y1`'s `grad_fn` that copies the incoming gradient into
    `y1.grad` when the backward passes. For `loss = 3 · y1`, that gradient is dloss/dy1 = 3;
    the backward then continues to the leaf: dloss/dx1 = 3 · 2 = 6. Nothing else changes:
    `y1.is_leaf` is still False. A second backward sums into `y1.grad` as into a leaf's, but
    not in place: the retained gradient is *replaced* by a new tensor holding the sum (a tensor
    `g = y1.grad` taken before keeps 3, and `y1.grad is g` is False afterwards), where a leaf's
    `.grad` is the same tensor updated in place (`leaves/grads-accumulate`). For a one-off look,
    `torch.autograd.grad(loss, y1)` returns the gradient without storing anything.
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    y1 = 2 * x1
    y1.retain_grad()  # keep the gradient that passes through this non-leaf
    loss = 3 * y1
    loss.backward()
    return {"y1.grad": y1.grad, "y1.is_leaf": y1.is_leaf, "x1.grad": x1.grad}


@case(
    "leaves/grads-accumulate",
    question="Why does x.grad grow with every backward call?",
    expect="Each backward computes the gradient, so x.grad should be 3 each time.",
    outcome=Returns(
        {
            "x.grad after each backward": [3.0, 6.0, 9.0],
            "x's edge ends in": "AccumulateGrad",
            "x.grad is the same tensor throughout": True,
        }
    ),
    see_also=("graph/retain-graph-shared-subgraph", "leaves/zero-grad-sets-none", _ZERO_GRAD),
)
def grads_accumulate():
    """A leaf's gradient arrives through its `AccumulateGrad` node, which *adds* into `.grad`
    (in place, once `.grad` exists) instead of overwriting it.

    `3 * x` records `MulBackward0`, whose edge to `x` ends in `AccumulateGrad`. The first
    backward finds `x.grad` undefined and stores the incoming 3. Each later backward adds its 3
    into that same tensor: 6, then 9. (Within *one* backward, the paths to a leaf used twice,
    like an RNN's weights at every time step, are summed by the engine before `AccumulateGrad`
    runs once.) Accumulating across backward calls is deliberate: the gradients of several
    micro-batches or separately backpropagated losses add up before one optimizer step. The
    price is that a training loop must empty `.grad` between steps (`zero_grad`); a reference
    to `x.grad` taken earlier sees the later sums, because the tensor is updated in place.
    """
    x = torch.tensor([1.0], requires_grad=True)
    y = 3 * x
    node = type(y.grad_fn.next_functions[0][0]).__name__
    seen = []
    first_grad = None
    for _ in range(3):
        (3 * x).backward()
        first_grad = x.grad if first_grad is None else first_grad
        seen.append(x.grad.item())
    return {
        "x.grad after each backward": seen,
        "x's edge ends in": node,
        "x.grad is the same tensor throughout": first_grad is x.grad,
    }


@case(
    "leaves/to-dtype-makes-non-leaf",
    question="Why is x.grad None when I create x with requires_grad=True and then call .to(torch.float64)?",
    expect="x was created with requires_grad=True, so x.grad is filled by the backward.",
    outcome=Returns(
        {
            "x.is_leaf": False,
            "x.grad_fn": "ToCopyBackward0",
            "x.grad": None,
            "same-dtype .to() returns the leaf itself": True,
        },
        warns=(_NON_LEAF_GRAD,),
    ),
    fix="leaves/requires-grad-after-conversion",
    see_also=(
        _IS_LEAF,
        "https://pytorch.org/docs/stable/generated/torch.Tensor.to.html",
        "leaves/manual-update-makes-non-leaf",
    ),
)
def to_dtype_makes_non_leaf():
    """`.to(torch.float64)` (like `.cuda()` or `.double()`) is an operation: on a tensor that
    requires grad it records `ToCopyBackward0`, and the name `x` ends up on its non-leaf output.

    `torch.tensor(..., requires_grad=True)` creates a float32 leaf. Converting it makes a new
    tensor whose `grad_fn` leads back to that leaf, and the gradient of the backward flows
    through `ToCopyBackward0` into the float32 leaf's `.grad`, which no name refers to any more.
    The float64 `x` is a non-leaf, so `x.grad` is None with a warning. The variation that
    surprises: when no conversion is needed (`.to(torch.float32)` on a float32 tensor, `.cuda()`
    on a tensor already there) `.to()` returns `self`, the leaf, and everything works, so the
    same code can pass on one machine and fail on another.
    """
    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    same = leaf.to(torch.float32)  # no conversion needed: returns leaf itself
    x = torch.tensor([1.0, 2.0], requires_grad=True).to(torch.float64)  # recorded conversion
    snapshot("x and the float32 leaf behind it", x)
    (x**2).sum().backward()
    return {
        "x.is_leaf": x.is_leaf,
        "x.grad_fn": type(x.grad_fn).__name__,
        "x.grad": x.grad,
        "same-dtype .to() returns the leaf itself": same is leaf,
    }


@case(
    "leaves/requires-grad-after-conversion",
    question="How do I get a float64 (or GPU) tensor that is a leaf and receives .grad?",
    expect="Converting before or after requires_grad=True makes no difference.",
    outcome=Returns(
        {
            "x.is_leaf": True,
            "x.grad": torch.tensor([2.0, 4.0], dtype=torch.float64),
            "made directly: is_leaf": True,
        }
    ),
    see_also=("leaves/to-dtype-makes-non-leaf", _IS_LEAF),
)
def requires_grad_after_conversion():
    """Convert first, then ask for gradients: `.to(torch.float64).requires_grad_()`, or create
    the tensor with the final `dtype`/`device` and `requires_grad=True` in one call.

    A conversion of a tensor that does not require grad records nothing, so its result is a
    leaf; `requires_grad_()` then turns on gradient tracking for that leaf object. The backward
    of Σx² stores 2·x = [2, 4], in float64, in the `.grad` of the tensor the name `x` refers
    to. For module parameters, `model.to(device)` does this right: `nn.Module.to` converts each
    parameter's data in place, so parameters stay leaves.
    """
    x = torch.tensor([1.0, 2.0]).to(torch.float64).requires_grad_()  # leaf, then tracked
    direct = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (x**2).sum().backward()
    return {"x.is_leaf": x.is_leaf, "x.grad": x.grad, "made directly: is_leaf": direct.is_leaf}


@case(
    "leaves/requires-grad-false-on-non-leaf",
    question="Why can't I stop gradients with y.requires_grad_(False) on a computed tensor?",
    expect="requires_grad_(False) switches gradients off for y, as it does for a parameter.",
    outcome=Raises(RuntimeError, r"you can only change requires_grad flags of leaf variables"),
    fix="leaves/detach-to-stop-gradient",
    see_also=(_REQUIRES_GRAD, "leaves/requires-grad-propagates"),
)
def requires_grad_false_on_non_leaf():
    """A non-leaf's `requires_grad` is not a setting but a consequence of having a `grad_fn`, so
    only leaves may change the flag; PyTorch points to `detach()` instead.

    On a leaf, `requires_grad` decides whether operations that use it are recorded with an edge
    ending in its `AccumulateGrad` node: switching it off (freezing a parameter) is legal. `y = x * 2` requires grad *because*
    autograd recorded `MulBackward0` for it, and turning the flag off would contradict the graph
    that already exists, so `requires_grad_(False)` (or `y.requires_grad = False`) raises.
    Asking for True differs by spelling: `y.requires_grad_(True)` on a non-leaf that already
    requires grad is a silent no-op, but the setter `y.requires_grad = True` raises this same
    error (it refuses any change of a non-leaf's flag, whatever the value). To use y's value
    without its history, take `y.detach()`.
    """
    x = torch.tensor([3.0], requires_grad=True)
    y = x * 2
    y.requires_grad_(False)  # a non-leaf's flag follows its grad_fn: refused


@case(
    "leaves/detach-to-stop-gradient",
    question="How do I use a computed value in further computation without gradients flowing back through it?",
    expect="Gradients still flow into x through both paths, detached or not: x.grad = 12.",
    outcome=Returns(
        {
            "x.grad": torch.tensor([6.0]),
            "without detach, x.grad would be": torch.tensor([12.0]),
            "y.requires_grad": True,
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.Tensor.detach.html",
        "leaves/requires-grad-false-on-non-leaf",
        "detach/detach-vs-clone",
    ),
)
def detach_to_stop_gradient():
    """`y.detach()` is y's value as a constant: the graph behind `y` is left as it is, and the
    new computation treats the detached tensor as a leaf that needs no gradient.

    With x = 3 and y = 2·x = 6, `z = y.detach() * x` is 6·x to autograd, so dz/dx = 6. Without
    the detach, z = 2·x·x and dz/dx = 4·x = 12: the second path through `y` adds 6. `y` itself
    still requires grad and keeps its `grad_fn`; only the detached tensor has no history.
    Stopping a gradient this way is how RNN training keeps the hidden state's values across
    batches while cutting its history (see `detach/lstm-tuple-state-both`).
    """
    x = torch.tensor([3.0], requires_grad=True)
    y = x * 2
    z = y.detach() * x  # y's value as a constant: no gradient flows back through y
    z.backward()
    x_again = torch.tensor([3.0], requires_grad=True)
    (x_again * 2 * x_again).backward()
    return {
        "x.grad": x.grad,
        "without detach, x.grad would be": x_again.grad,
        "y.requires_grad": y.requires_grad,
    }
