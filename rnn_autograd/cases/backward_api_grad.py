"""``torch.autograd.grad``: which inputs it can differentiate, unused inputs, allow_unused."""

from __future__ import annotations

import torch

from ..spec import ByTorch, Raises, Returns, case

_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"
_UNUSED = r"appears to not have been used in the graph"


@case(
    "backward-api/grad-of-unused-input",
    question="Why does autograd.grad fail with 'The differentiated Tensor at index 1 appears to not have been used in the graph'?",
    expect="The gradient with respect to a parameter the loss does not use is zero.",
    outcome=Raises(RuntimeError, _UNUSED),
    fix="backward-api/allow-unused-gives-none",
    see_also=(_GRAD,),
)
def grad_of_unused_input():
    """`autograd.grad` runs the graph *behind the outputs*; an input whose gradient edge is not
    in that graph receives nothing, and by default that is treated as a mistake.

    Each input is turned into a gradient edge (a leaf's `AccumulateGrad` node, a non-leaf's
    `grad_fn` and output number) and the engine is asked to capture the gradient flowing into
    it. Here the loss only uses `encoder`, so the edge of `decoder.weight` is never reached and
    its captured gradient stays undefined. `THPEngine_run_backward` then raises unless
    `allow_unused=True`: an undefined gradient is not a zero tensor (no zeros were computed), and
    a parameter you expected to matter not being in the graph is usually a bug (a branch not
    taken, a submodule never called, a tensor replaced after the forward).
    """
    encoder, decoder = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    loss = encoder(torch.ones(1, 2)).sum()  # the decoder is never called
    torch.autograd.grad(loss, [encoder.weight, decoder.weight])


@case(
    "backward-api/allow-unused-gives-none",
    question="How do I take gradients with respect to inputs some outputs may not use?",
    outcome=Returns(
        {
            "grad of the unused input (allow_unused)": None,
            "grad of the unused input (materialize_grads)": torch.zeros(2, 2),
            "used input's grad": torch.ones(2, 2),
        }
    ),
    see_also=("backward-api/grad-of-unused-input", _GRAD),
)
def allow_unused_gives_none():
    """`allow_unused=True` returns `None` for an input the outputs do not depend on;
    `materialize_grads=True` (torch 2.1 and later) returns zeros of its shape instead.

    `None` is what the engine actually has for that input: no gradient flowed into its edge.
    `materialize_grads=True` implies `allow_unused` and replaces each `None` by
    `torch.zeros_like(input)` on the Python side, which is convenient when every gradient is
    used in arithmetic afterwards. The used input's gradient is unaffected: `d/dW Σ (W·x)` for
    `x = (1, 1)` is all ones.
    """
    used = torch.nn.Linear(2, 2, bias=False)
    unused = torch.nn.Linear(2, 2, bias=False)
    loss = used(torch.ones(1, 2)).sum()
    g_used, g_unused = torch.autograd.grad(
        loss, [used.weight, unused.weight], allow_unused=True, retain_graph=True
    )  # retain_graph: the second grad below runs through the same graph
    _, g_zeros = torch.autograd.grad(loss, [used.weight, unused.weight], materialize_grads=True)
    return {
        "grad of the unused input (allow_unused)": g_unused,
        "grad of the unused input (materialize_grads)": g_zeros,
        "used input's grad": g_used,
    }


@case(
    "backward-api/grad-wrt-input-not-requiring-grad",
    question="Why does autograd.grad(loss, x) fail with 'One of the differentiated Tensors does not require grad'?",
    expect="autograd.grad computes the gradient with respect to any tensor the loss was computed from.",
    outcome=Raises(RuntimeError, r"One of the differentiated Tensors does not require grad"),
    fix="backward-api/input-gradient",
    see_also=(_GRAD,),
)
def grad_wrt_input_not_requiring_grad():
    """A tensor that does not require grad has no gradient edge at all: nothing was recorded for
    it, so there is nothing the engine could capture, and `grad` refuses it up front.

    `autograd.grad(outputs, inputs)` checks every input's `requires_grad` before running (in
    `THPEngine_run_backward`). The input batch `x` is plain data: `model(x)` recorded the
    parameters' edges, not `x`'s, so asking for `d loss / d x` (a saliency map, an adversarial
    example) cannot be answered from this graph. Compare
    `backward-api/requires-grad-after-forward`: there the input requires grad by the time
    `grad` is called, passes this check, and fails the next one.
    """
    model = torch.nn.Linear(3, 1)
    x = torch.tensor([[1.0, 2.0, 3.0]])  # plain data: requires_grad=False
    loss = model(x).sum()
    torch.autograd.grad(loss, x)


@case(
    "backward-api/requires-grad-after-forward",
    question="Why does autograd.grad(loss, x) still fail after x.requires_grad_()?",
    expect="Once x requires grad, autograd.grad(loss, x) returns its gradient.",
    outcome=Raises(RuntimeError, _UNUSED),
    fix="backward-api/input-gradient",
    see_also=("backward-api/grad-wrt-input-not-requiring-grad",),
)
def requires_grad_after_forward():
    """Requiring grad is recorded *when an op runs*; setting it after the forward creates a new
    gradient edge for `x` that the existing graph does not contain.

    `x.requires_grad_()` after `model(x)` makes `x` a leaf that requires grad, so the first
    check of `autograd.grad` passes. But the graph behind `loss` was recorded when `x` did not
    require grad: `AddmmBackward0` has no edge to `x` (its `next_functions` lead to the weight
    and bias only). The engine reaches nothing for `x`, its captured gradient is undefined, and
    the unused-input error follows. Only a new forward after `requires_grad_()` records the edge.
    """
    model = torch.nn.Linear(3, 1)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    loss = model(x).sum()
    x.requires_grad_()  # too late: the forward above recorded no edge to x
    torch.autograd.grad(loss, x)


@case(
    "backward-api/input-gradient",
    question="How do I get the gradient of a loss with respect to the input batch?",
    outcome=Returns({"x.grad equals the weight row": True, "model.weight.grad": None}),
    see_also=("backward-api/grad-wrt-input-not-requiring-grad",),
)
def input_gradient():
    """Mark the input with `requires_grad_()` *before* the forward; `autograd.grad(loss, x)`
    then returns `d loss / d x` and leaves the parameters' `.grad` untouched.

    With `x` requiring grad, `model(x)` records an edge to `x`'s `AccumulateGrad` node. For a
    linear layer `y = x·Wᵀ + b`, `d(Σy)/dx = Σ_rows W`, here `W`'s single row. `autograd.grad`
    returns the gradient instead of accumulating it, so `model.weight.grad` stays `None`
    (`loss.backward()` would have filled both).
    """
    model = torch.nn.Linear(3, 1)
    x = torch.tensor([[1.0, 2.0, 3.0]]).requires_grad_()  # before the forward
    loss = model(x).sum()
    (gx,) = torch.autograd.grad(loss, x)
    return {
        "x.grad equals the weight row": torch.equal(gx, model.weight.detach()),
        "model.weight.grad": model.weight.grad,
    }


@case(
    "backward-api/grad-inputs-empty",
    question="Why does autograd.grad(loss, params) fail with '`inputs` argument to `grad()` cannot be empty'?",
    expect="autograd.grad with no inputs returns an empty tuple.",
    outcome=ByTorch(
        {
            "<2.13": Raises(ValueError, r"grad requires non-empty inputs"),
            ">=2.13": Raises(RuntimeError, r"`inputs` argument to `grad\(\)` cannot be empty"),
        }
    ),
    fix="backward-api/input-gradient",
    see_also=("backward-api/backward-inputs-empty",),
)
def grad_inputs_empty():
    """`autograd.grad` returns one gradient per input; with none it would run the graph for
    nothing, so it refuses an empty list before starting.

    A generator is the usual way to get here: `model.parameters()` is an iterator, and one that
    was already consumed (by an optimizer's constructor, or a first `list(...)`) yields nothing
    the second time. `grad` turns `inputs` into a tuple and checks its length. Keep the
    parameters in a list (`params = list(model.parameters())`) and pass that everywhere.

    torch 2.2.2 and 2.7.1 refuse the same empty tuple later, in the engine's entry point, with a
    `ValueError` ("grad requires non-empty inputs."); the check in Python with this message
    appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    model = torch.nn.Linear(2, 1)
    params = model.parameters()  # an iterator, consumed by the next line
    torch.optim.SGD(params, lr=0.1)
    loss = model(torch.ones(1, 2)).sum()
    torch.autograd.grad(loss, params)  # the iterator is exhausted
