"""Module hooks and what the module takes and returns: pre-hooks, non-tensor outputs, dtypes."""

from __future__ import annotations

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case

_MODULE = "https://pytorch.org/docs/stable/generated/torch.nn.Module.html"
_RETURN_NONE = (
    r"Backward hook for Modules where no input requires gradient should always return None"
)
_NON_FULL_ON_LIST = (
    r"Using non-full backward hooks on a Module that does not return a single Tensor or a tuple "
    r"of Tensors is deprecated"
)


@case(
    "modules/backward-pre-hook-wrong-count",
    question="Why does a backward pre-hook fail with 'Backward pre hook returned an invalid number of grad_output'?",
    expect="A pre-hook may return gradients for any subset of the outputs.",
    outcome=Raises(
        RuntimeError,
        r"Backward pre hook returned an invalid number of grad_output, got \d+, but expected \d+",
    ),
    fix="modules/forward-pre-hook-with-kwargs",
    see_also=("modules/full-backward-hook-wrong-count",),
)
def backward_pre_hook_wrong_count():
    """A full backward *pre*-hook runs before the module's backward with the gradients of its
    outputs, and may replace them; the replacement must have one entry per tensor output (one
    for a `Linear`), checked by `BackwardHook` like `grad_input` for the post-hook.
    """
    layer = torch.nn.Linear(3, 3)
    layer.register_full_backward_pre_hook(lambda m, grad_output: (grad_output[0], grad_output[0]))
    layer(torch.randn(2, 3, requires_grad=True)).sum().backward()


@case(
    "modules/backward-hook-replaces-missing-input-grad",
    question="Why does a full backward hook fail with 'Backward hook for Modules where no input requires gradient should always return None'?",
    expect="The hook can still supply the input gradient the engine did not compute.",
    outcome=ByTorch(
        {
            "<2.13": Raises(RuntimeError, _RETURN_NONE),
            ">=2.13": Raises(
                RuntimeError,
                _RETURN_NONE,
                warns=(
                    Warned(
                        UserWarning,
                        r"Full backward hook is firing when gradients are computed with respect to module outputs",
                    ),
                ),
            ),
        }
    ),
    fix="modules/full-backward-hook-out-of-place",
    see_also=("modules/full-backward-hook-without-input-grad",),
)
def backward_hook_replaces_missing_input_grad():
    """When no input requires grad, the hook fires from the output side with `grad_input` all
    `None` (`modules/full-backward-hook-without-input-grad`); there is no edge to send a
    replacement along, so returning a tensor is an error.

    torch 2.2.2 and 2.7.1 raise the same error without the warning before it: the warning that
    the hook fires on the outputs appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    layer = torch.nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (torch.ones(4, 3),))
    layer(torch.randn(4, 3)).sum().backward()  # warns first: the hook fires on the outputs


@case(
    "modules/full-backward-hook-on-dict-output",
    question="Why does a full backward hook warn 'For backward hooks to be called, module output should be a Tensor or a tuple of Tensors'?",
    outcome=Returns(
        {"hook calls": 0, "x.grad is set": True},
        warns=(
            Warned(
                UserWarning,
                r"For backward hooks to be called, module output should be a Tensor or a tuple of Tensors",
            ),
        ),
    ),
    see_also=(_MODULE,),
)
def full_backward_hook_on_dict_output():
    """The hook machinery wraps the module's outputs in `BackwardHookFunction`, which handles a
    tensor or a tuple of tensors only; for a dict (or list) output it wraps nothing, warns, and
    the hook silently never fires, while backward itself works.

    Return a tuple from `forward`, or hook the submodule that produces the tensor.
    """

    class Head(torch.nn.Module):
        def forward(self, x):
            return {"logits": x * 2}

    head = Head()
    calls = []
    head.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    x = torch.ones(3, requires_grad=True)
    head(x)["logits"].sum().backward()
    return {"hook calls": len(calls), "x.grad is set": x.grad is not None}


@case(
    "modules/legacy-backward-hook-on-list-output",
    question="Why does register_backward_hook warn 'Using non-full backward hooks on a Module that does not return a single Tensor or a tuple of Tensors is deprecated'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(
                {"x.grad is set": True}, warns=(Warned(UserWarning, _NON_FULL_ON_LIST),)
            ),
            ">=2.7": Returns(
                {"x.grad is set": True}, warns=(Warned(FutureWarning, _NON_FULL_ON_LIST),)
            ),
        }
    ),
    see_also=("modules/legacy-backward-hook-warns",),
)
def legacy_backward_hook_on_list_output():
    """A legacy backward hook attaches to the `grad_fn` of the module's output; with a list
    output there is no single `grad_fn` to attach to, and PyTorch warns that this use is
    deprecated (its behaviour was never well defined).

    Use `register_full_backward_hook` and return a tensor or a tuple.

    The warning is a `UserWarning` on torch 2.2.2 and a `FutureWarning` on 2.7.1 and later: the
    category changed between 2.2.2 and 2.7.1, the recorded releases on either side.
    """

    class Pair(torch.nn.Module):
        def forward(self, x):
            return [x * 2]

    pair = Pair()
    pair.register_backward_hook(lambda m, gi, go: None)
    x = torch.ones(3, requires_grad=True)
    pair(x)[0].sum().backward()
    return {"x.grad is set": x.grad is not None}


@case(
    "modules/forward-pre-hook-kwargs-return",
    question="Why does a forward pre-hook fail with 'forward pre-hook must return None or a tuple of (new_args, new_kwargs)'?",
    expect="A pre-hook returns the new positional arguments, with or without with_kwargs.",
    outcome=Raises(
        RuntimeError, r"forward pre-hook must return None or a tuple of \(new_args, new_kwargs\)"
    ),
    fix="modules/forward-pre-hook-with-kwargs",
    see_also=(_MODULE,),
)
def forward_pre_hook_kwargs_return():
    """With `with_kwargs=True`, a forward pre-hook receives `(module, args, kwargs)` and must
    return `None` or the pair `(new_args, new_kwargs)`; returning `args` alone is a tuple of the
    wrong shape, which `Module._call_impl` refuses.
    """
    layer = torch.nn.Linear(3, 3)
    layer.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    layer(torch.randn(2, 3))


@case(
    "modules/forward-pre-hook-with-kwargs",
    question="How do I change a module's inputs in a forward pre-hook?",
    outcome=Returns({"output equals layer(2x)": True}),
    see_also=("modules/forward-pre-hook-kwargs-return",),
)
def forward_pre_hook_with_kwargs():
    """Without `with_kwargs`, return the new positional arguments as a tuple (or one value);
    with it, return `(new_args, new_kwargs)`. The returned inputs are what `forward` sees, and
    autograd records the hook's ops like any others.
    """
    layer = torch.nn.Linear(3, 3)
    x = torch.randn(2, 3)
    expected = layer(2 * x)
    layer.register_forward_pre_hook(
        lambda m, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True
    )
    return {"output equals layer(2x)": torch.allclose(layer(x), expected)}


@case(
    "modules/module-to-integer-dtype",
    question="Why does model.to(torch.long) fail with 'nn.Module.to only accepts floating point or complex dtypes'?",
    expect="to() converts every tensor of the model, like tensor.to does.",
    outcome=Raises(TypeError, r"nn\.Module\.to only accepts floating point or complex dtypes"),
    fix="modules/parameters-and-buffers",
    see_also=("modules/parameter-of-integer-dtype",),
)
def module_to_integer_dtype():
    """`Module.to(dtype)` converts the floating-point parameters and buffers; parameters must
    stay floating point to require grad, so an integer target is refused up front rather than
    half-applied.

    Quantization has its own tools (`torch.ao.quantization`); integer state belongs in buffers.
    """
    torch.nn.Linear(2, 2).to(torch.long)


@case(
    "modules/non-leaf-parameter-registered",
    question='Why does register_parameter fail with "Cannot assign non-leaf Tensor to parameter"?',
    expect="Any Parameter object can be registered, however it was computed.",
    outcome=Raises(
        ValueError,
        r"Cannot assign non-leaf Tensor to parameter '.*'\. Model parameters must be created explicitly",
    ),
    fix="modules/parameters-and-buffers",
    see_also=("modules/register-non-parameter", "optimizers/non-leaf-parameter"),
)
def non_leaf_parameter_registered():
    """A `Parameter` subclass that keeps its type through ops makes `p * 2` a `Parameter` that is
    a non-leaf (it has a `grad_fn`); `register_parameter` checks `grad_fn` as well as the type,
    since an optimizer could never update such a tensor.

    `nn.Parameter` itself returns plain tensors from ops, so only subclasses that propagate
    their type (a custom `__torch_function__`) get here. Register a leaf:
    `P((p * 2).detach())`.
    """

    class KeepType(torch.nn.Parameter):
        __torch_function__ = classmethod(torch.Tensor.__torch_function__.__func__)

    m = torch.nn.Module()
    m.register_parameter("w", KeepType(torch.ones(3)) * 2)
