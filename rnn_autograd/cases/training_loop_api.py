"""Asking autograd for what the graph does not have: unused inputs, hooks and non-leaf parameters.

``torch.autograd.grad`` over every parameter when one is unused in the forward; a hook on an
input that does not require grad (a saliency map); a weight made with ``requires_grad=True`` and
then cast, so that the optimizer receives its non-leaf copy. Each message names what is missing
from the graph, and each fix adds it or stops asking for it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, case

_UNUSED = r"appears to not have been used in the graph"
_HOOK = r"cannot register a hook on a tensor that doesn't require gradient"
_NON_LEAF = r"can't optimize a non-leaf Tensor"
_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"


class _WithAuxHead(nn.Module):
    """An autoencoder with a head used only in another training phase."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 8)
        self.decoder = nn.Linear(8, 4)
        self.aux_head = nn.Linear(8, 2)  # not called by forward

    def forward(self, x):
        return self.decoder(torch.relu(self.encoder(x)))


@case(
    "training-loop/grad-of-unused-parameter",
    question="Why does torch.autograd.grad(loss, model.parameters()) say a differentiated Tensor 'appears to not have been used in the graph'?",
    expect="A parameter the loss does not use simply has a zero gradient.",
    outcome=Raises(RuntimeError, _UNUSED),
    fix="training-loop/grad-allow-unused",
    see_also=(_GRAD, "training-loop/grad-allow-unused"),
)
def grad_of_unused_parameter():
    """`autograd.grad` returns one gradient per input, found by running the graph back from the
    output; an input no path reaches gets no gradient at all, and by default that is an error.

    The engine only visits nodes reachable from `loss.grad_fn`. `aux_head`'s weight and bias
    are leaves with their own `AccumulateGrad` nodes, but no edge of this graph leads there, so
    their gradient is never computed: not zero, *undefined*. `torch.autograd.grad` checks each
    returned gradient after the run and, unless `allow_unused=True`, raises naming the first
    missing one ("The differentiated Tensor at index 4", counting `model.parameters()` in
    order: encoder weight, bias, decoder weight, bias, then `aux_head.weight`; older releases
    said "One of the differentiated Tensors"). `backward()` never raises for this: it simply
    leaves such a leaf's `.grad` as it was.
    """
    net = _WithAuxHead()
    x = torch.randn(5, 4)
    loss = (net(x) - x).pow(2).mean()
    torch.autograd.grad(loss, list(net.parameters()))


@case(
    "training-loop/grad-allow-unused",
    question="How do I take gradients over all parameters when some are unused in this forward?",
    expect="allow_unused=True gives zeros for the unused ones.",
    outcome=Returns(
        {
            "allow_unused: aux_head grads": [None, None],
            "materialize_grads: aux_head grads are zeros": True,
            "only the used parameters: count": 4,
        }
    ),
    see_also=(_GRAD, "training-loop/grad-of-unused-parameter"),
)
def grad_allow_unused():
    """Say that unused inputs are expected (`allow_unused=True`: None for them), ask for zeros
    instead of None (`materialize_grads=True`, which implies it), or pass only what the loss uses.

    None is the honest answer (no path, no gradient) and lets the caller tell "unused" from
    "zero gradient"; `materialize_grads=True` replaces each None with `zeros_like(input)`, as
    a gradient penalty or a meta-learning update that adds every gradient to its parameter wants.
    Passing only the encoder's and decoder's four tensors avoids the question.
    """
    net = _WithAuxHead()
    x = torch.randn(5, 4)
    loss = (net(x) - x).pow(2).mean()
    loose = torch.autograd.grad(loss, list(net.parameters()), allow_unused=True)
    loss = (net(x) - x).pow(2).mean()  # a fresh graph: the call above freed the last one
    zeros = torch.autograd.grad(loss, list(net.parameters()), materialize_grads=True)
    loss = (net(x) - x).pow(2).mean()
    used = [*net.encoder.parameters(), *net.decoder.parameters()]
    only_used = torch.autograd.grad(loss, used)
    return {
        "allow_unused: aux_head grads": list(loose[4:]),
        "materialize_grads: aux_head grads are zeros": all(not g.any() for g in zeros[4:]),
        "only the used parameters: count": len(only_used),
    }


def _saliency_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


@case(
    "training-loop/hook-on-input-without-grad",
    question="Why does image.register_hook(...) raise 'cannot register a hook on a tensor that doesn't require gradient'?",
    expect="The hook should simply receive the gradient of the image when backward runs.",
    outcome=Raises(RuntimeError, _HOOK),
    fix="training-loop/hook-after-requires-grad",
    see_also=("https://pytorch.org/docs/stable/generated/torch.Tensor.register_hook.html",),
)
def hook_on_input_without_grad():
    """A tensor hook runs when the backward computes that tensor's gradient, and a tensor that
    does not require grad never gets one: `Tensor.register_hook` refuses at once.

    An input batch is a leaf with `requires_grad=False` (the default for data), so no graph
    built from it has an edge back to it: the conv's weight gets a gradient, the image does
    not. `register_hook` checks `self.requires_grad` first and raises this message, before any
    forward. The same holds for a hook on a hidden state or activation computed under
    `no_grad`/`eval` with grad mode off, or on anything `.detach()`ed.
    """
    model = _saliency_model()
    image = torch.randn(1, 1, 6, 6)  # data: requires_grad=False
    saliency = {}
    image.register_hook(lambda grad: saliency.setdefault("image", grad.abs()))
    model(image)[0].max().backward()


@case(
    "training-loop/hook-after-requires-grad",
    question="How do I get the gradient of the input image (a saliency map)?",
    expect="requires_grad_() on the input changes the model's gradients.",
    outcome=Returns(
        {
            "hook saw shape": [1, 1, 6, 6],
            "image.grad is the hooked gradient": True,
            "conv weight still got its gradient": True,
        }
    ),
    see_also=("training-loop/hook-on-input-without-grad",),
)
def hook_after_requires_grad():
    """Make the input require grad *before* the forward (`image.requires_grad_()`): the graph
    then has an edge to it, the hook is accepted and receives d score / d image.

    `requires_grad_()` on a leaf only flips its flag; the forward then records the conv with an
    edge to the image's `AccumulateGrad`, the hook runs as that gradient arrives, and the image,
    a leaf, also gets `.grad` (the same values, the hook returned nothing to replace them). The
    parameters' gradients are unchanged by it.
    """
    model = _saliency_model()
    image = torch.randn(1, 1, 6, 6).requires_grad_()  # before the forward: recorded with an edge
    saliency = {}
    image.register_hook(lambda grad: saliency.setdefault("image", grad.abs()))
    model(image)[0].max().backward()
    return {
        "hook saw shape": list(saliency["image"].shape),
        "image.grad is the hooked gradient": torch.equal(image.grad.abs(), saliency["image"]),
        "conv weight still got its gradient": model[0].weight.grad is not None,
    }


@case(
    "training-loop/cast-after-requires-grad-to-optimizer",
    question="Why does torch.optim.SGD([W, b]) say 'can't optimize a non-leaf Tensor' for W = torch.randn(3, 3, requires_grad=True).double()?",
    expect="W was created with requires_grad=True, so it is a parameter the optimizer can update.",
    outcome=Raises(ValueError, _NON_LEAF),
    fix="training-loop/cast-then-requires-grad",
    see_also=("leaves/to-dtype-makes-non-leaf", "leaves/requires-grad-after-conversion"),
)
def cast_after_requires_grad_to_optimizer():
    """`.double()` on a tensor that requires grad is a recorded op: `W` names its output, a
    non-leaf with `grad_fn = ToCopyBackward0`, and an optimizer only updates leaves.

    The float32 tensor made with `requires_grad=True` is the leaf; the cast gives a new
    float64 tensor whose gradient would flow back into that leaf's `.grad`, and no name refers
    to the leaf any more. `Optimizer.add_param_group` checks `param.is_leaf or
    param.retains_grad` (unless `differentiable=True`) and raises this `ValueError` at
    construction. `.to(device)` and `.cuda()` do the same whenever they really copy; a `.to()`
    that needs no copy returns the leaf itself, so the same line can work on one machine and fail
    on another (`leaves/to-dtype-makes-non-leaf`).
    """
    W = torch.randn(3, 3, requires_grad=True).double()  # the cast is recorded: W is not a leaf
    b = torch.zeros(3, requires_grad=True).double()
    torch.optim.SGD([W, b], lr=0.1)


@case(
    "training-loop/cast-then-requires-grad",
    question="How do I make a float64 (or GPU) tensor that an optimizer can update?",
    expect="Creating it on the right dtype or device makes no difference to the optimizer.",
    outcome=Returns(
        {
            "created with dtype and requires_grad: leaf": True,
            "cast, then requires_grad_(): leaf": True,
            "a .to() that copies nothing returns the leaf": True,
            "the optimizer updated W in place": True,
        }
    ),
    see_also=(
        "training-loop/cast-after-requires-grad-to-optimizer",
        "leaves/requires-grad-after-conversion",
    ),
)
def cast_then_requires_grad():
    """Convert first and ask for gradients last: `torch.randn(3, 3, dtype=torch.float64,
    requires_grad=True)`, or `.double().requires_grad_()`, or `nn.Parameter(t.double())`.

    A conversion of a tensor that does not require grad records nothing, so its result is a
    leaf, and `requires_grad_()` only turns the flag on. The optimizer accepts it and its
    `step()` updates that very tensor (`W._version` goes up). A `.to()` to the dtype (or device)
    the tensor already has copies nothing and returns the leaf itself, which is why a cast that is
    a no-op on one machine hides the bug there.
    """
    W = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)  # a float64 leaf
    b = torch.zeros(3).double().requires_grad_()  # cast, then track: still a leaf
    same = W.to(torch.float64)
    optimizer = torch.optim.SGD([W, b], lr=0.1)
    before = W._version
    (torch.ones(3, dtype=torch.float64) @ W + b).sum().backward()
    optimizer.step()  # in place on W and b
    return {
        "created with dtype and requires_grad: leaf": W.is_leaf,
        "cast, then requires_grad_(): leaf": b.is_leaf,
        "a .to() that copies nothing returns the leaf": same is W,
        "the optimizer updated W in place": W._version == before + 1,
    }
