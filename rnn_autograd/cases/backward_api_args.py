"""More arguments of backward/grad: dtypes of seeds, batched seeds, deprecated names, inputs."""

from __future__ import annotations

import types

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case

_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"
_BACKWARD = "https://pytorch.org/docs/stable/generated/torch.autograd.backward.html"
# torch 2.2.2 quotes argument names with ', later releases with backticks: both are allowed.
_BOTH_PASSED = (
    r"[`']grad_tensors[`'] and [`']grad_variables[`'] \(deprecated\) arguments both passed to "
    r"`?backward\(\)`?"
)
_VARIABLES_DEPRECATED = r"[`']grad_variables[`'] is deprecated"
_USE_TENSORS = r"\. Use [`']grad_tensors[`'] instead"
_ONLY_INPUTS = r"only_inputs argument is deprecated and is ignored now"


@case(
    "backward-api/real-seed-for-complex-output",
    question="Why does backward(gradient) fail with 'For complex Tensors, both grad_output and output are required to have the same dtype'?",
    expect="A real seed for a complex output is promoted to complex, as in arithmetic.",
    outcome=Raises(
        RuntimeError,
        r"For complex Tensors, both grad_output and output are required to have the same dtype",
    ),
    fix="backward-api/batched-grad-outputs",
    see_also=("backward-api/complex-loss",),
)
def real_seed_for_complex_output():
    """`_make_grads` checks each seed against its output: same shape, and for complex tensors the
    same dtype, because a real seed for a complex output would drop the imaginary direction of
    the vector-Jacobian product rather than mean "zero imaginary part" explicitly.

    Build the seed from the output: `torch.ones_like(y)` is complex for a complex `y`.
    """
    z = torch.tensor([1 + 1j, 2 - 1j], requires_grad=True)
    y = z * 2
    y.backward(torch.ones(2))  # float32 seed, complex64 output


@case(
    "backward-api/batched-grad-outputs-wrong-shape",
    question="Why does autograd.grad(..., is_grads_batched=True) fail with 'we interpret the first dimension of each grad_output as the batch dimension'?",
    expect="is_grads_batched=True with one seed computes one vector-Jacobian product.",
    outcome=Raises(
        RuntimeError,
        r"If `is_grads_batched=True`, we interpret the first dimension of each grad_output as the batch dimension",
    ),
    fix="backward-api/batched-grad-outputs",
    see_also=(_GRAD,),
)
def batched_grad_outputs_wrong_shape():
    """With `is_grads_batched=True`, each seed carries an extra leading batch dimension (one
    vector-Jacobian product per row, computed with vmap); a seed of the output's own shape has no
    such dimension, and `_make_grads` checks `grad.shape[1:]` against the output.

    For a `(3,)` output the seeds must be `(B, 3)`; `torch.eye(3)` gives the whole Jacobian.
    """
    x = torch.ones(3, requires_grad=True)
    torch.autograd.grad(x * 2, x, grad_outputs=torch.ones(3), is_grads_batched=True)


@case(
    "backward-api/batched-grad-outputs",
    question="How do I get a whole Jacobian from autograd.grad in one call?",
    outcome=Returns({"jacobian": torch.diag(torch.tensor([2.0, 4.0, 6.0]))}),
    see_also=("backward-api/batched-grad-outputs-wrong-shape", _GRAD),
)
def batched_grad_outputs():
    """Pass one seed per row of the Jacobian, stacked, with `is_grads_batched=True`: seed `eᵢ`
    selects output `i`, and row `i` of the result is `d yᵢ / d x`.

    `y = x²` at `x = (1, 2, 3)`: the Jacobian is `diag(2x) = diag(2, 4, 6)`. The seeds are the
    identity, a `(3, 3)` tensor whose first dimension is the batch.
    """
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (jac,) = torch.autograd.grad(x**2, x, grad_outputs=torch.eye(3), is_grads_batched=True)
    return {"jacobian": jac}


@case(
    "backward-api/materialize-grads-with-allow-unused-false",
    question="Why does autograd.grad fail with 'Expected allow_unused to be True or not passed when materialize_grads=True'?",
    expect="materialize_grads=True fills zeros and allow_unused=False still guards against mistakes.",
    outcome=Raises(
        ValueError, r"Expected allow_unused to be True or not passed when materialize_grads=True"
    ),
    fix="backward-api/allow-unused-gives-none",
    see_also=(_GRAD,),
)
def materialize_grads_with_allow_unused_false():
    """`materialize_grads=True` means "give zeros for unused inputs", which only makes sense if
    unused inputs are allowed; asking for both zeros and an error is contradictory, and `grad`
    refuses the combination before running.

    Leave `allow_unused` out (it is then implied) or pass `True`.
    """
    x = torch.ones(3, requires_grad=True)
    torch.autograd.grad((x * 2).sum(), x, materialize_grads=True, allow_unused=False)


@case(
    "backward-api/grad-variables-deprecated",
    question="Why does torch.autograd.backward warn '`grad_variables` is deprecated. Use `grad_tensors` instead'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(
                {"x.grad": torch.tensor([2.0, 2.0])},
                warns=(Warned(UserWarning, _VARIABLES_DEPRECATED + _USE_TENSORS),),
            ),
            ">=2.7": Returns(
                {"x.grad": torch.tensor([2.0, 2.0])},
                warns=(Warned(FutureWarning, _VARIABLES_DEPRECATED + _USE_TENSORS),),
            ),
        }
    ),
    see_also=(_BACKWARD,),
)
def grad_variables_deprecated():
    """`grad_variables` is the pre-0.4 name of the seeds (from when tensors that took part in
    autograd were `Variable`s); it still works, is renamed `grad_tensors`, and warns.

    Passing both names at once is an error (`backward-api/grad-tensors-and-grad-variables`).

    The warning is a `UserWarning` on torch 2.2.2 and a `FutureWarning` on 2.7.1 and later: the
    category changed between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    x = torch.ones(2, requires_grad=True)
    torch.autograd.backward(x * 2, grad_variables=torch.ones(2))
    return {"x.grad": x.grad}


@case(
    "backward-api/grad-tensors-and-grad-variables",
    question="Why does backward fail with '`grad_tensors` and `grad_variables` (deprecated) arguments both passed'?",
    expect="The new name wins over the old one.",
    outcome=ByTorch(
        {
            "<2.7": Raises(
                RuntimeError, _BOTH_PASSED, warns=(Warned(UserWarning, _VARIABLES_DEPRECATED),)
            ),
            ">=2.7": Raises(
                RuntimeError, _BOTH_PASSED, warns=(Warned(FutureWarning, _VARIABLES_DEPRECATED),)
            ),
        }
    ),
    fix="backward-api/backward-with-gradient",
    see_also=("backward-api/grad-variables-deprecated",),
)
def grad_tensors_and_grad_variables():
    """Both names mean the same argument; `torch.autograd.backward` warns about the old one and
    then refuses to choose between two seeds.

    A half-done migration: keep `grad_tensors=` only.

    The check is on the Python side, in `torch.autograd.backward`, before the engine starts:
    nothing is computed and no `.grad` changes.

    torch 2.2.2 warns with a `UserWarning` and quotes the names with `'`; the warning became a
    `FutureWarning` (and the quotes backticks) between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    x = torch.ones(2, requires_grad=True)
    torch.autograd.backward(x * 2, grad_tensors=torch.ones(2), grad_variables=torch.ones(2))


@case(
    "backward-api/only-inputs-deprecated",
    question="Why does autograd.grad warn 'only_inputs argument is deprecated and is ignored now'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(
                {"returned": torch.tensor([2.0, 2.0]), "x.grad": None},
                warns=(Warned(UserWarning, _ONLY_INPUTS),),
            ),
            ">=2.7": Returns(
                {"returned": torch.tensor([2.0, 2.0]), "x.grad": None},
                warns=(Warned(FutureWarning, _ONLY_INPUTS),),
            ),
        }
    ),
    see_also=(_GRAD, "backward-api/backward-inputs-only"),
)
def only_inputs_deprecated():
    """`only_inputs=False` once made `grad` also accumulate into the leaves' `.grad`; the
    argument is now ignored (`grad` never accumulates), and passing it warns.

    Observed: the gradient is returned and `x.grad` stays `None`, whatever `only_inputs` says.
    To fill `.grad` of chosen leaves, use `backward(inputs=[...])`.

    The warning is a `UserWarning` on torch 2.2.2 and a `FutureWarning` on 2.7.1 and later: the
    category changed between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    x = torch.ones(2, requires_grad=True)
    (g,) = torch.autograd.grad((x * 2).sum(), x, only_inputs=False)
    return {"returned": g, "x.grad": x.grad}


@case(
    "backward-api/backward-inputs-mapping",
    question="Why does backward(inputs=...) fail with '`inputs` argument to `backward()` must be a dict, not mappingproxy'?",
    expect="Any mapping of names to tensors is accepted as inputs=.",
    outcome=ByTorch(
        {
            "<2.13": Raises(
                RuntimeError, r"all inputs have to be Tensors or GradientEdges, but got str"
            ),
            ">=2.13": Raises(TypeError, r"`inputs` argument to `backward\(\)` must be a dict, not"),
        }
    ),
    fix="backward-api/backward-inputs-only",
    see_also=(_BACKWARD,),
)
def backward_inputs_mapping():
    """`inputs=` takes a tensor, a sequence of tensors, or a plain `dict` (whose values are the
    tensors); other `Mapping` types are refused by name rather than iterated, since iterating a
    mapping yields its keys. The check is on the exact type (`type(inputs) is dict`), so an
    `OrderedDict` is refused too.

    Pass `list(mapping.values())` or `dict(mapping)`.

    torch 2.2.2 and 2.7.1 have no such check: `backward` runs `tuple(inputs)` on anything that
    is not a tensor or a `GradientEdge`, which for a mapping is the tuple of its *keys*, and the
    engine refuses the first key, a `str` ("all inputs have to be Tensors or GradientEdges, but
    got str", a `RuntimeError`). The type check appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    x = torch.ones(3, requires_grad=True)
    (x * 2).sum().backward(inputs=types.MappingProxyType({"x": x}))


@case(
    "backward-api/grad-input-not-a-tensor",
    question="Why does autograd.grad fail with 'all inputs have to be Tensors or GradientEdges, but got float'?",
    expect="Non-tensor entries in the inputs list are skipped.",
    outcome=Raises(RuntimeError, r"all inputs have to be Tensors or GradientEdges, but got"),
    fix="backward-api/input-gradient",
    see_also=(_GRAD,),
)
def grad_input_not_a_tensor():
    """Each input must name a gradient edge: a tensor, or a `GradientEdge` from
    `torch.autograd.graph.get_gradient_edge`; the engine refuses anything else rather than return
    a `None` in its place.

    Typical slip: a list built from a config that mixes parameters and hyperparameters (a
    learning rate, a temperature). Filter to tensors first.
    """
    x = torch.ones(3, requires_grad=True)
    torch.autograd.grad(x.sum(), [x, 1.0])
