"""Optimizers and their parameters: what an optimizer accepts, holds, and does with no gradient."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case

_OPTIM = "https://pytorch.org/docs/stable/optim.html"


@case(
    "optimizers/empty-parameter-list",
    question="Why does torch.optim.Adam(model.parameters()) fail with 'optimizer got an empty parameter list'?",
    expect="The layers stored in self.layers are the model's parameters.",
    outcome=Raises(ValueError, r"optimizer got an empty parameter list"),
    fix="optimizers/module-list-registers",
    see_also=(_OPTIM, "modules/parameters-and-buffers"),
)
def empty_parameter_list():
    """`model.parameters()` walks the *registered* submodules; layers kept in a plain Python
    list are attributes, not submodules, so the model has no parameters and the optimizer gets
    nothing.

    `Module.__setattr__` registers a value as a submodule only when it is a `Module`; a `list`
    of modules is stored as an ordinary attribute, invisible to `parameters()`, `.to()` and
    `state_dict()`. `Optimizer.__init__` turns `params` into a list and raises if it is empty.
    The same message comes from passing an exhausted generator (a second `model.parameters()`
    iterator already consumed) or a model whose parameters are all filtered out.
    """

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)]  # a plain list

    torch.optim.Adam(Stack().parameters())


@case(
    "optimizers/module-list-registers",
    question="How do I keep a variable number of layers so that the optimizer sees their parameters?",
    outcome=Returns(
        {
            "parameters": ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"],
            "param groups": 1,
        }
    ),
    see_also=("optimizers/empty-parameter-list",),
)
def module_list_registers():
    """`nn.ModuleList` is itself a `Module`: assigning it registers it as a submodule, and each
    layer in it as a submodule of it, so `parameters()` finds them under `layers.<i>.`.

    Use `nn.ModuleDict` for named layers, and `nn.ParameterList` for bare parameters; the plain
    containers (`list`, `dict`) hide what they hold from every `Module` method.
    """

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)])

    model = Stack()
    opt = torch.optim.Adam(model.parameters())
    return {
        "parameters": [n for n, _ in model.named_parameters()],
        "param groups": len(opt.param_groups),
    }


@case(
    "optimizers/non-leaf-parameter",
    question='Why does the optimizer fail with "can\'t optimize a non-leaf Tensor"?',
    expect="A small random init, torch.randn(3, requires_grad=True) * 0.01, is a trainable weight.",
    outcome=Raises(ValueError, r"can't optimize a non-leaf Tensor"),
    fix="optimizers/scaled-init-as-leaf",
    see_also=("leaves/manual-update-makes-non-leaf", "hooks/post-accumulate-hook-on-non-leaf"),
)
def non_leaf_parameter():
    """`* 0.01` is an op on a tensor that requires grad: its result is a non-leaf, the output of
    `MulBackward0`, and backward never accumulates into a non-leaf's `.grad`, so an optimizer
    holding it would never see a gradient. `add_param_group` refuses it.

    The leaf is the unnamed `torch.randn(3, requires_grad=True)` behind `w`; it gets the
    gradient, but nothing holds it to update. The same happens with `.double()`, `.to(device)`
    or `.cuda()` after `requires_grad=True`: each is an op with a `grad_fn`.
    """
    w = torch.randn(3, requires_grad=True) * 0.01  # the product is a non-leaf
    torch.optim.SGD([w], lr=0.1)


@case(
    "optimizers/scaled-init-as-leaf",
    question="How do I scale, cast or move an initial weight and still train it?",
    outcome=Returns(
        {"w.is_leaf": True, "w.grad": torch.tensor([1.0, 1.0, 1.0]), "w moved by the step": True}
    ),
    see_also=("optimizers/non-leaf-parameter",),
)
def scaled_init_as_leaf():
    """Do every op of the initialisation first, and mark the final tensor with
    `requires_grad_()` last: it is then a leaf, backward accumulates into its `.grad`, and the
    optimizer updates it.

    `(torch.randn(3) * 0.01).requires_grad_()` computes the product untracked (no input requires
    grad yet) and turns the result into a leaf. Equivalent forms: `nn.Parameter(t * 0.01)`, or
    `torch.randn(3, dtype=..., device=..., requires_grad=True)` with the dtype and device given
    to the factory.
    """
    w = (torch.randn(3) * 0.01).requires_grad_()  # scale first, then require grad: a leaf
    before = w.detach().clone()
    opt = torch.optim.SGD([w], lr=0.1)
    w.sum().backward()
    grad = w.grad.clone()
    opt.step()
    return {
        "w.is_leaf": w.is_leaf,
        "w.grad": grad,
        "w moved by the step": torch.allclose(w.detach(), before - 0.1),
    }


@case(
    "optimizers/tensor-as-params",
    question="Why does torch.optim.SGD(w) fail with 'params argument given to the optimizer should be an iterable of Tensors or dicts'?",
    expect="A single tensor is a valid set of parameters.",
    outcome=Raises(
        TypeError,
        r"params argument given to the optimizer should be an iterable of Tensors or dicts",
    ),
    fix="optimizers/scaled-init-as-leaf",
    see_also=(_OPTIM,),
)
def tensor_as_params():
    """An optimizer takes an iterable of parameters (or of parameter-group dicts); a tensor is
    iterable too — over its rows, each a non-leaf view — so `Optimizer.__init__` rejects a bare
    tensor explicitly rather than iterate it.

    Pass `[w]`.
    """
    w = torch.randn(3, requires_grad=True)
    torch.optim.SGD(w, lr=0.1)


@case(
    "optimizers/parameter-in-two-groups",
    question="Why does the optimizer fail with 'some parameters appear in more than one parameter group'?",
    expect="The second group overrides the learning rate for the head's parameters.",
    outcome=Raises(ValueError, r"some parameters appear in more than one parameter group"),
    fix="optimizers/disjoint-param-groups",
    see_also=(_OPTIM,),
)
def parameter_in_two_groups():
    """Each parameter belongs to exactly one group, which gives its hyperparameters; groups do
    not override each other, so a parameter in two groups would be stepped twice, and
    `add_param_group` refuses it.

    `model.parameters()` already contains the head's parameters; the second group repeats
    them. The check compares the new group's parameters with every earlier group's (by
    identity). Build disjoint groups instead.
    """
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    torch.optim.SGD(
        [{"params": model.parameters()}, {"params": model[1].parameters(), "lr": 0.01}], lr=0.1
    )


@case(
    "optimizers/disjoint-param-groups",
    question="How do I give one part of a model its own learning rate?",
    outcome=Returns({"group sizes": [2, 2], "learning rates": [0.1, 0.01]}),
    see_also=("optimizers/parameter-in-two-groups",),
)
def disjoint_param_groups():
    """Split the parameters by identity so that each lands in one group; each group's options
    override the defaults for that group only.

    Taking the head's parameters as a set of ids and filtering them out of `model.parameters()`
    keeps the body's, in the module's order. Keep the groups in a deterministic order: an
    optimizer's `state_dict` refers to parameters by their position in the groups, so loading
    it into an optimizer built in another order silently pairs state with the wrong tensors.
    """
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    head = {id(p) for p in model[1].parameters()}
    body = [p for p in model.parameters() if id(p) not in head]
    opt = torch.optim.SGD([{"params": body}, {"params": model[1].parameters(), "lr": 0.01}], lr=0.1)
    return {
        "group sizes": [len(g["params"]) for g in opt.param_groups],
        "learning rates": [g["lr"] for g in opt.param_groups],
    }


@case(
    "optimizers/duplicate-parameter-warns",
    question="Why does the optimizer warn 'optimizer contains a parameter group with duplicate parameters'?",
    outcome=Returns(
        {"params kept": 2},
        warns=(
            Warned(UserWarning, r"optimizer contains a parameter group with duplicate parameters"),
        ),
    ),
    see_also=("optimizers/parameter-in-two-groups",),
)
def duplicate_parameter_warns():
    """A tied weight listed twice (an embedding shared with the output layer, gathered from
    both) is a duplicate inside one group: `add_param_group` warns and keeps both entries.

    Within one group the check is a warning (a future error, says the message); across groups
    it is an error (`optimizers/parameter-in-two-groups`). `model.parameters()` itself never
    yields a shared parameter twice (`named_parameters` removes duplicates by identity), so
    collecting parameters from the module is the safe way.
    """
    emb = torch.nn.Embedding(4, 2)
    out = torch.nn.Linear(2, 4, bias=False)
    out.weight = emb.weight  # tied
    opt = torch.optim.SGD([emb.weight, out.weight], lr=0.1)
    return {"params kept": len(opt.param_groups[0]["params"])}


@case(
    "optimizers/step-without-gradients",
    question="What does optimizer.step() do to a parameter whose .grad is None?",
    outcome=Returns(
        {"unused parameter changed": False, "used parameter changed": True, "unused .grad": None}
    ),
    see_also=("modules/requires-grad-false-freezes", "leaves/grad-zero-after-zero-grad"),
)
def step_without_gradients():
    """Optimizers skip every parameter whose `.grad` is `None`: no update, no state, not even
    weight decay. A parameter the loss did not use keeps its value.

    After `zero_grad()` (which sets `.grad = None` by default since torch 2.0) and a backward
    that reaches only `used`, `unused.grad` is `None`, and `SGD.step` leaves it out of the
    update. A zero gradient would be different: a tensor of zeros *is* stepped, and with momentum
    or weight decay that moves the parameter.
    """
    used = torch.ones(2, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    opt = torch.optim.SGD([used, unused], lr=0.1, weight_decay=0.1)
    opt.zero_grad()  # .grad = None for both
    (used * 3).sum().backward()
    opt.step()
    return {
        "unused parameter changed": not torch.equal(unused.detach(), torch.ones(2)),
        "used parameter changed": not torch.equal(used.detach(), torch.ones(2)),
        "unused .grad": unused.grad,
    }
