"""Saved-tensor hooks: packing what backward will need (offloading, compression) and unpacking it."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_HOOKS = "https://pytorch.org/tutorials/intermediate/autograd_saved_tensors_hooks_tutorial.html"


@case(
    "saved-tensor-hooks/pack-and-unpack",
    question="How do saved-tensor hooks change what backward keeps between forward and backward?",
    outcome=Returns(
        {"packed": 1, "unpacked": 1, "x.grad equals cos(x)": True, "save_on_cpu works": True}
    ),
    see_also=("graph/retained-graph-keeps-tensors-alive", _HOOKS),
)
def pack_and_unpack():
    """Inside `torch.autograd.graph.saved_tensors_hooks(pack, unpack)`, every tensor an op saves
    goes through `pack` (whose return value is stored instead) and comes back through `unpack`
    when backward needs it; `save_on_cpu()` is such a pair that moves saved tensors to the CPU.

    `x.sin()` saves `x` once: one pack, one unpack, and the gradient `cos(x)` is unchanged.
    `pack` must return a new object rather than modify its input, and `unpack` must return a
    tensor (the cases below).
    """
    calls = {"packed": 0, "unpacked": 0}

    def pack(t):
        calls["packed"] += 1
        return t.clone()  # a new tensor: the saved one is left alone

    def unpack(t):
        calls["unpacked"] += 1
        return t

    x = torch.tensor([0.5, 1.0], requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = x.sin()
    y.sum().backward()
    z = torch.tensor([0.5, 1.0], requires_grad=True)
    with torch.autograd.graph.save_on_cpu():
        w = z.sin()
    w.sum().backward()
    return {
        **calls,
        "x.grad equals cos(x)": torch.allclose(x.grad, x.detach().cos()),
        "save_on_cpu works": torch.allclose(z.grad, x.grad),
    }


@case(
    "saved-tensor-hooks/unpack-returns-non-tensor",
    question="Why does backward fail with 'Output of saved tensor unpack_hook expected to be a Tensor but got result of type list'?",
    expect="unpack may return the packed form; autograd converts it back.",
    outcome=Raises(
        TypeError,
        r"Output of saved tensor unpack_hook expected to be a Tensor but got result of type",
    ),
    fix="saved-tensor-hooks/pack-and-unpack",
    see_also=(_HOOKS,),
)
def unpack_returns_non_tensor():
    """Whatever `pack` returned is opaque to autograd; `unpack` must turn it back into a tensor,
    since the backward formula will compute with it. Here `pack` stores a list and `unpack`
    returns it as it is.

    The check happens at backward, when the node unpacks; the forward and the pack hook succeed.
    """
    x = torch.ones(3, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t.tolist(), lambda packed: packed):
        y = x.exp()
    y.sum().backward()


@case(
    "saved-tensor-hooks/pack-modifies-input",
    question="Why does a pack hook fail with 'A saved tensor pack hook is modifying its input in place'?",
    expect="A pack hook may compress the tensor in place to save memory.",
    outcome=Raises(RuntimeError, r"A saved tensor pack hook is modifying its input in place"),
    fix="saved-tensor-hooks/pack-and-unpack",
    see_also=(_HOOKS,),
)
def pack_modifies_input():
    """The tensor given to `pack` is the live tensor the forward is using (and may return);
    modifying it would change the forward's own values, so autograd compares its version before
    and after the hook and raises. Return a new tensor (`t.half()`, `t.cpu()`).
    """
    x = torch.ones(3, requires_grad=True)

    def pack(t):
        t.mul_(1)  # in place on the saved tensor: refused
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda p: p):
        (x * 1).exp()


@case(
    "saved-tensor-hooks/register-after-free",
    question="Why does register_hooks fail with 'Calling register_hooks on a saved tensor after it has been freed'?",
    expect="Hooks can be added to a node's saved tensors at any time.",
    outcome=Raises(
        RuntimeError, r"Calling register_hooks on a saved tensor after it has been freed"
    ),
    fix="saved-tensor-hooks/pack-and-unpack",
    see_also=("graph/saved-tensor-after-backward",),
)
def register_after_free():
    """`grad_fn._raw_saved_*` exposes one saved tensor; after the backward that freed it there is
    nothing left to pack, and registering hooks on it is refused with the same explanation as a
    second backward.

    `_raw_saved_*` attributes are private handles on a node's saved tensors; hooks registered on
    them before backward run like those of `saved_tensors_hooks`, for that one tensor.
    """
    x = torch.ones(3, requires_grad=True)
    y = x.exp()
    y.sum().backward()  # frees ExpBackward0's saved result
    y.grad_fn._raw_saved_result.register_hooks(lambda t: t, lambda t: t)


@case(
    "saved-tensor-hooks/hooks-disabled",
    question="Why does save_on_cpu fail with the message of disable_saved_tensors_hooks, e.g. 'my feature does not support saved tensor hooks'?",
    expect="save_on_cpu works in any region of code.",
    outcome=Raises(RuntimeError, r"does not support saved tensor hooks"),
    fix="saved-tensor-hooks/pack-and-unpack",
    see_also=(_HOOKS,),
)
def hooks_disabled():
    """Code that cannot work with packed saved tensors wraps itself in
    `disable_saved_tensors_hooks(message)`; entering any saved-tensor hooks inside raises with
    *that caller's message*, so the text varies — the fragment here is the case's own.
    """
    with (
        torch.autograd.graph.disable_saved_tensors_hooks(
            "this feature does not support saved tensor hooks"
        ),
        torch.autograd.graph.save_on_cpu(),
    ):
        pass


@case(
    "saved-tensor-hooks/nested-allow-mutation",
    question="Why does allow_mutation_on_saved_tensors fail with 'allow_mutation_on_saved_tensors contexts cannot be nested'?",
    expect="Nesting the context just keeps mutation allowed.",
    outcome=Raises(RuntimeError, r"allow_mutation_on_saved_tensors contexts cannot be nested"),
    fix="saved-tensor-hooks/allow-mutation",
    see_also=(_HOOKS,),
)
def nested_allow_mutation():
    """`allow_mutation_on_saved_tensors()` keeps a copy of every saved tensor that is modified in
    place, in one context object; a nested context would need to know which copies belong to
    whom, so nesting is refused.
    """
    with (
        torch.autograd.graph.allow_mutation_on_saved_tensors(),
        torch.autograd.graph.allow_mutation_on_saved_tensors(),  # refused on entry
    ):
        pass


@case(
    "saved-tensor-hooks/allow-mutation",
    question="Can I modify a saved tensor in place and still backpropagate?",
    outcome=Returns({"x.grad equals cos(x)": True, "y changed": True}),
    see_also=("versions/inplace-on-saved-output", "saved-tensor-hooks/nested-allow-mutation"),
)
def allow_mutation():
    """Inside `torch.autograd.graph.allow_mutation_on_saved_tensors()`, an in-place op on a
    saved tensor first copies the original for backward: the version check is not triggered,
    and the gradient uses the values the forward saw, at the cost of the copy.

    `z = y.sin()` saves `y`; `y.add_(1)` inside the context clones it first, so backward still
    computes `cos(x)`.
    """
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    with torch.autograd.graph.allow_mutation_on_saved_tensors():
        y = x * 1
        z = y.sin()  # saves y
        y.add_(1)  # in place on a saved tensor: cloned first, inside this context
        z.sum().backward()
    return {
        "x.grad equals cos(x)": torch.allclose(x.grad, x.detach().cos()),
        "y changed": torch.allclose(y.detach(), x.detach() + 1),
    }


@case(
    "saved-tensor-hooks/saved-tensor-from-python",
    question="Why does torch._C._autograd.SavedTensor() fail with 'Trying to create a SavedTensor object from Python is forbidden'?",
    expect="SavedTensor can be built to inspect or fake saved values.",
    outcome=Raises(RuntimeError, r"Trying to create a SavedTensor object from Python is forbidden"),
    fix="saved-tensor-hooks/pack-and-unpack",
    see_also=(_HOOKS,),
)
def saved_tensor_from_python():
    """`SavedTensor` objects are views onto a node's `SavedVariable`s, created by autograd
    (`grad_fn._raw_saved_*`); a free-standing one would point at no node. Use
    `saved_tensors_hooks` to see or change what is saved.
    """
    torch._C._autograd.SavedTensor()
