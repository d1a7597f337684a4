"""What an optimizer accepts as parameters and groups, and optimizers with special needs."""

from __future__ import annotations

import torch
from torch.optim.optimizer import Optimizer, required

from ..spec import Raises, case


@case(
    "optimizers/params-as-a-set",
    question="Why does the optimizer fail with 'optimizer parameters need to be organized in ordered collections'?",
    expect="A set is a fine way to de-duplicate shared parameters.",
    outcome=Raises(TypeError, r"optimizer parameters need to be organized in ordered collections"),
    fix="optimizers/disjoint-param-groups",
    see_also=("optimizers/duplicate-parameter-warns",),
)
def params_as_a_set():
    """An optimizer's state is saved by *position* of each parameter in its group, so the order
    must be the same in every run; a set's iteration order depends on object ids, and
    `add_param_group` refuses a set as a group's `params`.

    De-duplicate with `model.parameters()` (it never yields a shared parameter twice) or with a
    `dict.fromkeys(...)`, which keeps the order.
    """
    w = torch.ones(3, requires_grad=True)
    torch.optim.SGD([{"params": {w}}], lr=0.1)


@case(
    "optimizers/module-as-a-parameter",
    question="Why does the optimizer fail with 'optimizer can only optimize Tensors, but one of the params is torch.nn.modules.linear.Linear'?",
    expect="Passing the layers themselves gives the optimizer their parameters.",
    outcome=Raises(TypeError, r"optimizer can only optimize Tensors, but one of the params is"),
    fix="optimizers/module-list-registers",
    see_also=("optimizers/tensor-as-params",),
)
def module_as_a_parameter():
    """Each entry of `params` must be a tensor (or a group dict); a module is not expanded into
    its parameters. Pass `model.parameters()`, or `[p for m in layers for p in m.parameters()]`.
    `model.named_parameters()` gives `(name, tensor)` pairs, which recent releases accept
    too; a module never is.
    """
    torch.optim.SGD([torch.nn.Linear(2, 2)], lr=0.1)


@case(
    "optimizers/required-hyperparameter-missing",
    question='Why does my optimizer fail with "parameter group didn\'t specify a value of required optimization parameter lr"?',
    expect="A hyperparameter without a value falls back to something sensible.",
    outcome=Raises(
        ValueError, r"parameter group didn't specify a value of required optimization parameter"
    ),
    fix="optimizers/disjoint-param-groups",
    see_also=("https://pytorch.org/docs/stable/optim.html#base-class",),
)
def required_hyperparameter_missing():
    """An optimizer declares defaults for its hyperparameters; a default of
    `torch.optim.optimizer.required` means "no default", and `add_param_group` raises for a
    group that neither sets it nor inherits a value.

    Give the value when constructing (`MyOpt(params, lr=0.1)`) or per group.
    """

    class PlainSGD(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {"lr": lr})

    PlainSGD([torch.ones(3, requires_grad=True)])


@case(
    "optimizers/load-state-dict-other-group-size",
    question="Why does load_state_dict fail with \"loaded state dict contains a parameter group that doesn't match the size of optimizer's group\"?",
    expect="New parameters start from a fresh state, the old ones resume.",
    outcome=Raises(
        ValueError,
        r"loaded state dict contains a parameter group that doesn't match the size of optimizer's group",
    ),
    fix="optimizers/load-state-dict-same-layout",
    see_also=("optimizers/load-state-dict-other-groups",),
)
def load_state_dict_other_group_size():
    """State is matched to parameters by position within each group; a group with another
    number of parameters (the model gained or lost a layer) cannot be matched, and the load is
    refused as a whole. Build the optimizer over the parameters the checkpoint had, load, then
    `add_param_group` the new ones.
    """
    a, b = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    saved = torch.optim.SGD([a], lr=0.1).state_dict()
    torch.optim.SGD([a, b], lr=0.1).load_state_dict(saved)


@case(
    "optimizers/sparse-adam-on-dense-gradients",
    question="Why does SparseAdam fail with 'SparseAdam does not support dense gradients, please consider Adam instead'?",
    expect="SparseAdam is a faster Adam for any model.",
    outcome=Raises(RuntimeError, r"SparseAdam does not support dense gradients"),
    fix="optimizers/sparse-embedding-with-sparse-adam",
    see_also=("optimizers/adam-on-sparse-gradients",),
)
def sparse_adam_on_dense_gradients():
    """`SparseAdam` updates only the rows present in a *sparse* gradient; a `Linear` (or an
    embedding with `sparse=False`) produces dense gradients, which it refuses at `step`. Use
    two optimizers: SparseAdam for the sparse embedding, Adam for the rest.
    """
    layer = torch.nn.Linear(3, 3)
    opt = torch.optim.SparseAdam(layer.parameters())
    layer(torch.ones(2, 3)).sum().backward()
    opt.step()


@case(
    "optimizers/lbfgs-with-groups",
    question='Why does LBFGS fail with "LBFGS doesn\'t support per-parameter options (parameter groups)"?',
    expect="LBFGS takes parameter groups like every other optimizer.",
    outcome=Raises(ValueError, r"LBFGS doesn't support per-parameter options \(parameter groups\)"),
    fix="optimizers/lbfgs-with-closure",
    see_also=("optimizers/disjoint-param-groups",),
)
def lbfgs_with_groups():
    """L-BFGS builds one curvature estimate over all parameters flattened into one vector; a
    per-group learning rate would break the quasi-Newton update, so it accepts one group only.

    The check is in `LBFGS.__init__`, right after the groups are built: one group with one `lr`
    for all parameters is what it supports.
    """
    a, b = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    torch.optim.LBFGS([{"params": [a]}, {"params": [b]}])
