"""Module backward hooks: full backward hooks, in-place ops inside hooked modules, legacy hooks."""

from __future__ import annotations

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case

_FULL = "https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.register_full_backward_hook"
_MULTIPLE_NODES = (
    r"Using a non-full backward hook when the forward contains multiple autograd Nodes"
)
_TANH_ONLY = {"grad_input seen by the legacy hook": ["the Tanh node's input only"]}


@case(
    "modules/full-backward-hook-with-inplace-relu",
    question="Why does a full backward hook fail with 'Output 0 of BackwardHookFunction is a view and is being modified inplace'?",
    expect="A backward hook on a layer only observes gradients; it does not change what the forward may do.",
    outcome=Raises(
        RuntimeError,
        r"Output 0 of BackwardHookFunction(Backward)? is a view and is being modified inplace",
    ),
    fix="modules/full-backward-hook-out-of-place",
    see_also=(_FULL, "versions/inplace-on-saved-output"),
)
def full_backward_hook_with_inplace_relu():
    """A full backward hook wraps the module's inputs and outputs in a custom autograd Function
    (`BackwardHookFunction`) that returns them as-is, i.e. as views; an in-place op on such a
    view would bypass the Function's backward, so autograd forbids it.

    `register_full_backward_hook` makes `Module.__call__` pass the inputs through
    `BackwardHookFunction.apply` before `forward` (to catch the gradient with respect to them)
    and the outputs after. A custom Function that returns an input unchanged returns a view of
    it, and the rule for views created inside a custom Function is: no in-place modification,
    because the view+inplace machinery would replace the Function's backward. `nn.ReLU(inplace=True)`
    with the hook on itself modifies its own (wrapped) input in place: the error. The same
    ReLU without a hook, or `inplace=False`, is fine.
    """
    relu = torch.nn.ReLU(inplace=True)
    relu.register_full_backward_hook(lambda module, grad_input, grad_output: None)
    x = torch.randn(2, 3, requires_grad=True)
    relu(x * 1).sum().backward()  # relu_ on the hook's view of its input


@case(
    "modules/full-backward-hook-out-of-place",
    question="How do I observe or rescale a layer's input gradient with a full backward hook?",
    outcome=Returns(
        {
            "grad_output shapes": [(2, 3)],
            "grad_input shapes": [(2, 3)],
            "x.grad halved by the hook": True,
        }
    ),
    see_also=("modules/full-backward-hook-with-inplace-relu", _FULL),
)
def full_backward_hook_out_of_place():
    """Use the out-of-place activation, and return from the hook either `None` or a tuple with
    one entry per input of the module: it replaces the gradient with respect to the inputs.

    The hook is called with `grad_input` (one entry per tensor input of `forward`) and
    `grad_output` (one per tensor output), once the gradients with respect to the inputs are
    known. Returning `(g * 0.5,)` replaces `grad_input`, so everything upstream — here the leaf
    `x` through `MulBackward0` — receives half. A tuple of another length is refused
    (`modules/full-backward-hook-wrong-count`).
    """
    relu = torch.nn.ReLU()  # out of place: the hook's view of the input is left alone
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["in"] = [tuple(g.shape) for g in grad_input]
        seen["out"] = [tuple(g.shape) for g in grad_output]
        return (grad_input[0] * 0.5,)

    relu.register_full_backward_hook(hook)
    x = torch.tensor([[1.0, -1.0, 2.0], [3.0, 4.0, -5.0]], requires_grad=True)
    relu(x * 1).sum().backward()
    return {
        "grad_output shapes": seen["out"],
        "grad_input shapes": seen["in"],
        "x.grad halved by the hook": torch.equal(x.grad, (x > 0).float() * 0.5),
    }


@case(
    "modules/full-backward-hook-wrong-count",
    question="Why does a module backward hook fail with 'Backward hook returned an invalid number of grad_input'?",
    expect="The hook can return the gradients of the weight and bias along with the input's.",
    outcome=Raises(
        RuntimeError,
        r"Backward hook returned an invalid number of grad_input, got \d+, but expected \d+",
    ),
    fix="modules/full-backward-hook-out-of-place",
    see_also=(_FULL,),
)
def full_backward_hook_wrong_count():
    """`grad_input` of a full backward hook is the gradient with respect to the module's
    *tensor inputs* of `forward` (one for a `Linear`), not its parameters; a replacement must
    have exactly that many entries.

    `torch.utils.hooks.BackwardHook` checks the length of what the hook returns against the
    number of inputs it wrapped. Parameters' gradients never pass through the hook; change them
    with tensor hooks on the parameters, or after backward in `.grad`.
    """
    layer = torch.nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0], torch.zeros(2, 3), torch.zeros(2)))
    layer(torch.randn(4, 3, requires_grad=True)).sum().backward()


@case(
    "modules/mixed-backward-hooks",
    question="Why does register_backward_hook fail with 'Cannot use both regular backward hooks and full backward hooks on a single Module'?",
    expect="A module can carry any number of backward hooks of either kind.",
    outcome=Raises(
        RuntimeError,
        r"Cannot use both regular backward hooks and full backward hooks on a single Module",
    ),
    fix="modules/full-backward-hook-out-of-place",
    see_also=("modules/legacy-backward-hook-warns", _FULL),
)
def mixed_backward_hooks():
    """The two kinds are implemented in incompatible ways: a full hook wraps the module's inputs
    and outputs in `BackwardHookFunction`, a legacy hook attaches to the `grad_fn` of the
    output, so a module records which kind it has and refuses the other.

    `Module._register_backward_hook` sets `_is_full_backward_hook` on the first registration and
    checks it on every later one. Use full hooks only (the legacy kind is deprecated).
    """
    layer = torch.nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gi, go: None)
    layer.register_backward_hook(lambda m, gi, go: None)


@case(
    "modules/legacy-backward-hook-warns",
    question="Why does register_backward_hook warn 'Using a non-full backward hook when the forward contains multiple autograd Nodes is deprecated'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(_TANH_ONLY, warns=(Warned(UserWarning, _MULTIPLE_NODES),)),
            ">=2.7": Returns(_TANH_ONLY, warns=(Warned(FutureWarning, _MULTIPLE_NODES),)),
        }
    ),
    see_also=("modules/mixed-backward-hooks", _FULL),
)
def legacy_backward_hook_warns():
    """A legacy (`register_backward_hook`) hook is attached to the `grad_fn` of the module's
    output, i.e. to the *last* node of its forward; for a module whose forward records several
    nodes, its `grad_input` is that node's, not the module's, and PyTorch warns.

    `Sequential(Linear, Tanh)` records `AddmmBackward0` then `TanhBackward0`; the legacy hook
    sits on `TanhBackward0`, so its `grad_input` holds one tensor, the gradient with respect to
    the *Tanh's* input, not to the Sequential's input or the Linear's parameters.
    `register_full_backward_hook` computes the gradients with respect to the module's own inputs.

    The warning is a `UserWarning` on torch 2.2.2 and a `FutureWarning` on 2.7.1 and later: the
    category changed between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    seq = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh())
    seen = []
    seq.register_backward_hook(lambda m, gi, go: seen.append(len(gi)) and None)
    seq(torch.randn(2, 3)).sum().backward()
    return {"grad_input seen by the legacy hook": ["the Tanh node's input only"] * seen[0]}


@case(
    "modules/full-backward-hook-without-input-grad",
    question="Why does a full backward hook warn 'Full backward hook is firing when gradients are computed with respect to module outputs since no inputs require gradients'?",
    outcome=ByTorch(
        {
            "<2.13": Returns({"grad_input": [None], "grad_output shapes": [(2, 2)]}),
            ">=2.13": Returns(
                {"grad_input": [None], "grad_output shapes": [(2, 2)]},
                warns=(
                    Warned(
                        UserWarning,
                        r"Full backward hook is firing when gradients are computed with respect to module outputs",
                    ),
                ),
            ),
        }
    ),
    see_also=("modules/full-backward-hook-out-of-place",),
)
def full_backward_hook_without_input_grad():
    """A full backward hook normally fires once the gradient with respect to the module's
    inputs is known; when no input requires grad (the first layer, fed plain data) there is no
    such gradient, so it fires on the outputs' gradient and says so, with `grad_input` all
    `None`.

    `BackwardHook.setup_output_hook` finds that none of the wrapped inputs requires grad and
    calls the hook from the output side with `grad_input = (None,)`. Returning a tensor from the
    hook in that situation is an error. The warning is harmless for logging hooks; it is a sign
    of a bug if the hook was meant to change the input gradient.

    torch 2.2.2 and 2.7.1 call the hook the same way, with `grad_input = (None,)`, but silently:
    the warning appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    layer = torch.nn.Linear(3, 2)
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["in"] = list(grad_input)
        seen["out"] = [tuple(g.shape) for g in grad_output]

    layer.register_full_backward_hook(hook)
    layer(torch.randn(2, 3)).sum().backward()  # the input is plain data
    return {"grad_input": seen["in"], "grad_output shapes": seen["out"]}
