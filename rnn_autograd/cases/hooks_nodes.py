"""Hooks on graph nodes, on several tensors at once, and what saving a hooked tensor keeps."""

from __future__ import annotations

import io

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case

_GRAPH = "https://pytorch.org/docs/stable/autograd.html#autograd-graph"


@case(
    "hooks/node-hook-wrong-count",
    question='Why does a grad_fn hook fail with "has returned an incorrect number of values (got 1, but expected 2)"?',
    expect="Returning the gradient of the input I care about is enough.",
    outcome=Raises(
        RuntimeError,
        r"hook '.*' has returned an incorrect number of values \(got \d+, but expected \d+\)",
    ),
    fix="hooks/multi-grad-hook",
    see_also=("hooks/node-hook-invents-gradient", _GRAPH),
)
def node_hook_wrong_count():
    """A `grad_fn` hook replaces the node's whole tuple of input gradients, one per input of the
    op; a shorter tuple cannot be matched to the node's edges, and the engine checks the count
    after the hook.

    `x * w` records `MulBackward0` with two inputs (both require grad), so `grad_inputs` has two
    entries; return both (changed or not), `None` only where the node itself had `None`.
    """
    x = torch.ones(3, requires_grad=True)
    w = torch.ones(3, requires_grad=True)
    y = x * w
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0],))
    y.sum().backward()


@case(
    "hooks/node-hook-returns-tensor",
    question="Why does a grad_fn hook fail with \"expected tuple, but hook returned 'Tensor'\"?",
    expect="A node hook returns the new gradient, as a tensor hook does.",
    outcome=Raises(TypeError, r"expected tuple, but hook returned"),
    fix="hooks/multi-grad-hook",
    see_also=("hooks/node-hook-wrong-count",),
)
def node_hook_returns_tensor():
    """Unlike a tensor hook (one gradient in, one out), a node hook receives and must return the
    node's gradients as a tuple, even for a node with one input.

    The Python wrapper checks the type before the count: a bare tensor is a `TypeError`.
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: grad_inputs[0])
    y.sum().backward()


@case(
    "hooks/gradient-edge-of-constant",
    question="Why does get_gradient_edge fail with 'It is not possible to get the gradient edge for a Tensor that does not require gradients'?",
    expect="Every tensor has a place in the graph.",
    outcome=Raises(
        RuntimeError,
        r"It is not possible to get the gradient edge for a Tensor that does not require gradients",
    ),
    fix="hooks/multi-grad-hook",
    see_also=(_GRAPH,),
)
def gradient_edge_of_constant():
    """A gradient edge is the (node, output number) through which gradients reach a tensor: a
    leaf's `AccumulateGrad` node or a non-leaf's `grad_fn`. A tensor that does not require grad
    has neither, so there is no edge to return.
    """
    torch.autograd.graph.get_gradient_edge(torch.ones(3))


@case(
    "hooks/multi-grad-hook-mode",
    question="Why does register_multi_grad_hook fail with \"Expects mode to be one of ('all', 'any')\"?",
    expect="mode='first' calls the hook on the first gradient.",
    outcome=ByTorch(
        {
            "<2.7": Raises(TypeError, r"unexpected keyword argument 'mode'"),
            ">=2.7": Raises(ValueError, r"Expects mode to be one of .* but got"),
        }
    ),
    fix="hooks/multi-grad-hook",
    see_also=(_GRAPH,),
)
def multi_grad_hook_mode():
    """`register_multi_grad_hook` knows two modes: `"all"` (call once with every tensor's
    gradient, `None` for those not computed) and `"any"` (call with the first gradient
    computed); anything else is refused when registering.

    torch 2.2.2 has no `mode` argument at all (a `TypeError`: its hook always waits for every
    tensor, like `"all"`); `mode=` appeared between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    x = torch.ones(3, requires_grad=True)
    torch.autograd.graph.register_multi_grad_hook([x], lambda grads: None, mode="first")


@case(
    "hooks/multi-grad-hook",
    question="How do I run one hook once the gradients of several tensors are all computed?",
    outcome=Returns({"calls": 1, "grads seen": [torch.tensor([2.0]), None]}),
    see_also=("hooks/multi-grad-hook-mode", _GRAPH),
)
def multi_grad_hook():
    """`torch.autograd.graph.register_multi_grad_hook(tensors, fn)` calls `fn` once per backward,
    after every listed tensor's gradient that this backward computes is ready, with `None` for
    tensors it does not reach.

    Here the loss uses `a` only: the hook is called once, with `(2, None)`.
    """
    a = torch.ones(1, requires_grad=True)
    b = torch.ones(1, requires_grad=True)
    seen = []
    torch.autograd.graph.register_multi_grad_hook([a, b], lambda grads: seen.append(list(grads)))
    (a * 2).sum().backward()
    return {"calls": len(seen), "grads seen": seen[0]}


@case(
    "hooks/hooked-tensor-saved",
    question="Why does torch.save warn 'backward hook ... on tensor will not be serialized'?",
    outcome=Returns(
        {"original has hooks": True, "loaded tensor has hooks": False},
        warns=(Warned(UserWarning, r"backward hook .* on tensor will not be serialized"),),
    ),
    see_also=("hooks/hook-replaces-gradient",),
)
def hooked_tensor_saved():
    """Hooks are Python callables attached to a live tensor; `torch.save` stores data and
    metadata, not code, so a hooked tensor is saved without its hooks, with a warning.

    Observed: the loaded tensor has no backward hooks. Re-register hooks after loading (for a
    model: in its constructor or after `load_state_dict`).
    """
    x = torch.ones(3, requires_grad=True)
    x.register_hook(lambda g: g * 2)
    buffer = io.BytesIO()
    torch.save(x, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer)
    # _backward_hooks is where register_hook keeps them (a private attribute; None when none).
    return {
        "original has hooks": bool(getattr(x, "_backward_hooks", None)),
        "loaded tensor has hooks": bool(getattr(loaded, "_backward_hooks", None)),
    }
