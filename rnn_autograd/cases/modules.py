"""Modules and their parameters: assigning, registering, freezing, buffers versus parameters."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_MODULE = "https://pytorch.org/docs/stable/generated/torch.nn.Module.html"
_PARAMETER = "https://pytorch.org/docs/stable/generated/torch.nn.parameter.Parameter.html"


@case(
    "modules/assign-tensor-to-parameter",
    question="Why does model.weight = tensor fail with \"cannot assign 'torch.FloatTensor' as parameter 'weight'\"?",
    expect="Assigning a tensor of the right shape replaces the layer's weights.",
    outcome=Raises(
        TypeError, r"cannot assign '.*' as parameter '.*' \(torch\.nn\.Parameter or None expected\)"
    ),
    fix="modules/replace-parameter-values",
    see_also=(_MODULE,),
)
def assign_tensor_to_parameter():
    """`weight` is registered in the module's `_parameters`; `Module.__setattr__` only lets a
    `Parameter` (or `None`) replace a registered parameter, because a plain tensor would silently
    drop out of `parameters()`, `state_dict()` and every optimizer built later.

    `nn.Module.__setattr__` looks the name up first: found in `_parameters`, the value must be a
    `Parameter`. A plain tensor — even one that requires grad — is refused with a `TypeError`.
    A name that is not yet registered behaves differently: `m.scale = torch.ones(1)` just sets a
    plain attribute (not a parameter, not a buffer), which is a quieter way to lose a tensor
    from the model's state.
    """
    layer = torch.nn.Linear(2, 2)
    layer.weight = torch.zeros(2, 2)  # a tensor where a Parameter is registered


@case(
    "modules/replace-parameter-values",
    question="How do I set a layer's weights to given values without breaking training?",
    outcome=Returns(
        {
            "same Parameter object": True,
            "weight": torch.zeros(2, 2),
            "still a leaf requiring grad": True,
            "version bumps by copy_": 1,
        }
    ),
    see_also=("modules/assign-tensor-to-parameter", _PARAMETER),
)
def replace_parameter_values():
    """Copy the values into the existing parameter under `no_grad`: the object the optimizer and
    the module hold stays the same, only its data change (its version counter goes up by one).

    `weight.copy_(values)` is an in-place op on a leaf that requires grad, which grad mode
    forbids (`grad-mode/leaf-inplace-outside-no-grad`), hence `torch.no_grad()`. Assigning
    `nn.Parameter(values)` works as well but creates a *new* leaf: an optimizer built before
    still holds the old one and would go on updating a tensor the model no longer uses.
    """
    layer = torch.nn.Linear(2, 2)
    before, version = layer.weight, layer.weight._version  # init already bumped it
    with torch.no_grad():  # an assignment of values is not part of any graph
        layer.weight.copy_(torch.zeros(2, 2))  # in place: the same Parameter keeps its identity
    w = layer.weight
    return {
        "same Parameter object": w is before,
        "weight": w.detach().clone(),
        "still a leaf requiring grad": w.is_leaf and w.requires_grad,
        "version bumps by copy_": w._version - version,
    }


@case(
    "modules/register-non-parameter",
    question="Why does register_parameter fail with \"cannot assign 'torch.FloatTensor' object to parameter\"?",
    expect="register_parameter turns a tensor into a parameter of the module.",
    outcome=Raises(
        TypeError,
        r"cannot assign '.*' object to parameter '.*' \(torch\.nn\.Parameter or None required\)",
    ),
    fix="modules/parameters-and-buffers",
    see_also=(_MODULE,),
)
def register_non_parameter():
    """`register_parameter` registers an existing `Parameter`; it does not wrap a tensor, and a
    computed tensor (`m.weight * 2`, a non-leaf) is not one.

    A parameter must be a leaf the optimizer can update in place; `weight * 2` is the output of
    `MulBackward0`, tied to `weight` by the graph. `register_parameter` checks the type and
    refuses anything but `Parameter` or `None`. Wrap a *fresh leaf*:
    `nn.Parameter((m.weight * 2).detach())`, or store a derived tensor as a buffer.
    """
    m = torch.nn.Linear(2, 2)
    m.register_parameter("double_weight", m.weight * 2)


@case(
    "modules/parameter-before-init",
    question="Why does my module fail with 'cannot assign parameters before Module.__init__() call'?",
    expect="Parameters can be assigned in __init__ in any order.",
    outcome=Raises(AttributeError, r"cannot assign parameters? before Module\.__init__\(\) call"),
    fix="modules/parameters-and-buffers",
    see_also=(_MODULE,),
)
def parameter_before_init():
    """The registries where `Module.__setattr__` files parameters (`_parameters`, `_buffers`,
    `_modules`) are created by `nn.Module.__init__`; before `super().__init__()` runs there is
    nowhere to register a `Parameter`, and `__setattr__` says so.

    Assigning a plain Python value before `super().__init__()` works (it is just an attribute);
    a `Parameter` or a submodule does not. Call `super().__init__()` first in every `__init__`.
    """

    class Scale(torch.nn.Module):
        def __init__(self):
            self.w = torch.nn.Parameter(torch.ones(2))  # before super().__init__()
            super().__init__()

    Scale()


@case(
    "modules/parameter-of-integer-dtype",
    question="Why does nn.Parameter fail with 'Only Tensors of floating point and complex dtype can require gradients'?",
    expect="nn.Parameter(torch.tensor([1, 2])) makes a trainable parameter initialised to 1 and 2.",
    outcome=Raises(
        RuntimeError, r"Only Tensors of floating point and complex dtype can require gradients"
    ),
    fix="modules/parameters-and-buffers",
    see_also=(_PARAMETER,),
)
def parameter_of_integer_dtype():
    """Gradients are defined for continuous values only: `torch.tensor([1, 2])` is `int64`,
    and `nn.Parameter` (which sets `requires_grad=True`) is refused for it.

    The check is on the dtype, in the code that sets `requires_grad`; the factory form
    (`torch.tensor([1, 2], requires_grad=True)`) raises the same text, while
    `t.requires_grad_()` on an integer tensor raises a lower-case variant ("only Tensors of
    floating point dtype can require gradients", see `requires-grad/integer-tensor`). Write the
    values as floats (`[1.0, 2.0]`) or pass `dtype=torch.float32`; keep integer state (a step
    count, indices) in a buffer.
    """
    torch.nn.Parameter(torch.tensor([1, 2]))  # int64


@case(
    "modules/parameters-and-buffers",
    question="What ends up in parameters(), buffers() and state_dict(), and what does backward touch?",
    outcome=Returns(
        {
            "parameters": ["w"],
            "buffers": ["steps"],
            "state_dict": ["w", "steps"],
            "plain attribute in state_dict": False,
            "w.grad": torch.tensor([1.0, 1.0]),
        }
    ),
    see_also=("modules/assign-tensor-to-parameter", "modules/parameter-before-init"),
)
def parameters_and_buffers():
    """A `Parameter` assigned after `super().__init__()` is registered as a parameter (trained,
    saved); `register_buffer` registers state that is saved but not trained; a plain tensor
    attribute is neither.

    `Module.__setattr__` files a `Parameter` into `_parameters`, which `parameters()` (what an
    optimizer is given) and `state_dict()` read. `register_buffer("steps", ...)` files into
    `_buffers`: moved by `.to()`, saved in `state_dict()`, never returned by `parameters()`, so
    no optimizer updates it and it may hold integers. `self.scale = torch.ones(2)` is an
    ordinary attribute: not moved by `.to()`, not saved. Backward fills `.grad` of the
    parameter only; the buffer never required grad.
    """

    class Counter(torch.nn.Module):
        def __init__(self):
            super().__init__()  # first: it creates the registries
            self.w = torch.nn.Parameter(torch.zeros(2))
            self.register_buffer("steps", torch.zeros((), dtype=torch.long))
            self.scale = torch.ones(2)  # a plain attribute

        def forward(self, x):
            self.steps += 1  # in-place on a buffer: no grad involved
            return (self.w + x * self.scale).sum()

    m = Counter()
    m(torch.ones(2)).backward()
    return {
        "parameters": [n for n, _ in m.named_parameters()],
        "buffers": [n for n, _ in m.named_buffers()],
        "state_dict": list(m.state_dict()),
        "plain attribute in state_dict": "scale" in m.state_dict(),
        "w.grad": m.w.grad,
    }


@case(
    "modules/requires-grad-false-freezes",
    question="What does module.requires_grad_(False) do to a frozen layer's gradients and the layers before it?",
    outcome=Returns(
        {"frozen head .grad": None, "body.weight.grad is set": True, "head.weight.is_leaf": True}
    ),
    see_also=("backward-api/backward-inputs-only", _MODULE),
)
def requires_grad_false_freezes():
    """`requires_grad_(False)` on a module turns each of its parameters into a leaf that does
    not require grad: backward computes no gradient for them, but still flows *through* the
    frozen layer to the layers before it.

    `head(body(x))`: `head`'s `AddmmBackward0` node is still recorded, because its input (the
    output of `body`) requires grad; it only has no edge to `head.weight`. So `body.weight.grad`
    is filled and `head.weight.grad` stays `None`. Freezing the *first* layer instead stops
    nothing either: its output just does not require grad if nothing before it does. An
    optimizer given frozen parameters skips them (their `.grad` is `None`).
    """
    body, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    head.requires_grad_(False)  # freeze the head, train the body
    head(body(torch.ones(1, 2))).sum().backward()
    return {
        "frozen head .grad": head.weight.grad,
        "body.weight.grad is set": body.weight.grad is not None,
        "head.weight.is_leaf": head.weight.is_leaf,
    }
