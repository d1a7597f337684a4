"""``torch.autograd.functional`` (jacobian, vjp, hessian) and ``gradcheck``."""

from __future__ import annotations

import torch
from torch.autograd.gradcheck import GradcheckError

from ..spec import Raises, Returns, Warned, case

_FUNCTIONAL = "https://pytorch.org/docs/stable/autograd.html#functional-higher-level-api"
_GRADCHECK = "https://pytorch.org/docs/stable/notes/gradcheck.html"


@case(
    "functional/jacobian-and-vjp",
    question="How do I compute a Jacobian, a vector-Jacobian product and a Hessian with torch.autograd.functional?",
    outcome=Returns(
        {
            "jacobian": torch.diag(torch.tensor([2.0, 4.0])),
            "vjp": torch.tensor([2.0, 0.0]),
            "hessian": torch.diag(torch.tensor([2.0, 2.0])),
        }
    ),
    see_also=(_FUNCTIONAL,),
)
def jacobian_and_vjp():
    """`jacobian(f, x)` builds the full matrix; `vjp(f, x, v)` returns `f(x)` and `vᵀ·J` for a
    seed `v` of the output's shape; `hessian(f, x)` needs a scalar `f`.

    For `f(x) = x²` at `(1, 2)`: `J = diag(2, 4)`, `vjp` with `v = (1, 0)` is `(2, 0)`, and the
    Hessian of `Σx²` is `2·I`.
    """
    x = torch.tensor([1.0, 2.0])
    jac = torch.autograd.functional.jacobian(lambda t: t**2, x)
    _, vjp = torch.autograd.functional.vjp(lambda t: t**2, x, torch.tensor([1.0, 0.0]))
    hess = torch.autograd.functional.hessian(lambda t: (t**2).sum(), x)
    return {"jacobian": jac, "vjp": vjp, "hessian": hess}


@case(
    "functional/vjp-without-seed",
    question="Why does functional.vjp fail with 'The vector v can only be None if the user-provided function returns a single Tensor with a single element'?",
    expect="vjp without v gives the gradient, like backward() does.",
    outcome=Raises(
        RuntimeError,
        r"The vector v can only be None if the user-provided function returns a single Tensor with a single element",
    ),
    fix="functional/jacobian-and-vjp",
    see_also=("backward-api/non-scalar-backward",),
)
def vjp_without_seed():
    """The same rule as `backward()` on a non-scalar output: a seed is implied only for a
    one-element output.

    `vjp(f, x)` without `v` works for a one-element output (the seed `1` is implied), exactly as
    `backward()` does; for a vector output pass `v` of its shape
    (`functional/jacobian-and-vjp`).
    """
    torch.autograd.functional.vjp(lambda t: t * 2, torch.ones(3))


@case(
    "functional/vjp-seed-wrong-shape",
    question="Why does functional.vjp fail with 'v has invalid size: should be torch.Size([3]) but got torch.Size([2])'?",
    expect="A shorter seed is padded.",
    outcome=Raises(RuntimeError, r"v has invalid size: should be .* but got"),
    fix="functional/jacobian-and-vjp",
    see_also=("backward-api/gradient-shape-mismatch",),
)
def vjp_seed_wrong_shape():
    """The seed must have exactly the output's shape (checked by `_validate_v`), as for
    `backward(gradient)`.

    `vjp(f, x, v)` returns `vᵀ·J`, so `v` lives in the output's space: for an output of shape
    `(3,)` the seed is `(3,)`, for a one-element output it may be omitted
    (`functional/vjp-without-seed`).
    """
    torch.autograd.functional.vjp(lambda t: t * 2, torch.ones(3), torch.ones(2))


@case(
    "functional/hessian-of-vector",
    question="Why does functional.hessian fail with 'The Tensor returned by the function given to hessian should contain a single element'?",
    expect="hessian of a vector function gives one Hessian per output.",
    outcome=Raises(
        RuntimeError,
        r"The Tensor returned by the function given to hessian should contain a single element",
    ),
    fix="functional/jacobian-and-vjp",
    see_also=(_FUNCTIONAL,),
)
def hessian_of_vector():
    """A Hessian is the matrix of second derivatives of a scalar; for a vector function, reduce
    it first (or take `jacobian` of `jacobian`).

    `hessian(f, x)` is computed as the Jacobian of the gradient of `f`; that gradient needs a
    scalar `f`, exactly as `backward()` without a seed does
    (`backward-api/non-scalar-backward`).
    """
    torch.autograd.functional.hessian(lambda t: t**2, torch.ones(3))


@case(
    "functional/jacobian-of-a-list",
    question="Why does functional.jacobian fail with 'The outputs of the user-provided function given to jacobian must be either a Tensor or a tuple of Tensors'?",
    expect="Any sequence of tensors is a valid output.",
    outcome=Raises(
        TypeError,
        r"The outputs of the user-provided function given to jacobian must be either a Tensor or a tuple of Tensors",
    ),
    fix="functional/jacobian-and-vjp",
    see_also=(_FUNCTIONAL,),
)
def jacobian_of_a_list():
    """The functional API accepts a tensor or a *tuple* of tensors as outputs (the structure of
    the result mirrors it); a list is refused. Return `tuple(outputs)`.

    `torch.autograd.functional` converts inputs and outputs with `_as_tuple`, which accepts a
    tensor or a tuple; lists are refused so that the structure of the result (a tensor, or
    tuples of tuples) is unambiguous.
    """
    torch.autograd.functional.jacobian(lambda t: [t * 2], torch.ones(3))


@case(
    "functional/strict-jacobian-of-constant",
    question="Why does jacobian(..., strict=True) fail with 'Output 0 of the user-provided function does not require gradients'?",
    expect="strict=True only checks the shapes.",
    outcome=Raises(
        RuntimeError, r"Output 0 of the user-provided function does not require gradients"
    ),
    fix="functional/jacobian-and-vjp",
    see_also=(_FUNCTIONAL,),
)
def strict_jacobian_of_constant():
    """`strict=True` makes the functional API refuse outputs that cannot depend on the inputs,
    instead of returning zeros: an output that does not require grad was computed without them
    (a constant, a detached value).
    """
    torch.autograd.functional.jacobian(lambda t: torch.ones(2), torch.ones(3), strict=True)


@case(
    "functional/strict-jacobian-independent-input",
    question="Why does jacobian(..., strict=True) fail with 'Output 0 of the user-provided function is independent of input 0'?",
    expect="An input the output ignores gets a zero block in the Jacobian.",
    outcome=Raises(
        RuntimeError,
        r"Output 0 of the user-provided function is independent of input 0\. This is not allowed in strict mode",
    ),
    fix="functional/jacobian-and-vjp",
    see_also=("backward-api/grad-of-unused-input",),
)
def strict_jacobian_independent_input():
    """In strict mode an input with no path to an output is an error rather than a zero block
    (the functional counterpart of `allow_unused=False`).

    Without `strict=True` the same call returns a zero block for `x`; strict mode exists to
    catch a function that silently ignores an input it is supposed to use.
    """
    torch.autograd.functional.jacobian(
        lambda x, y: y * 2, (torch.ones(3), torch.ones(3)), strict=True
    )


class _Wrong(torch.autograd.Function):
    """`2x` with a backward that says 3."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 3  # the bug gradcheck finds


@case(
    "functional/gradcheck-finds-wrong-backward",
    question="Why does gradcheck fail with 'Jacobian mismatch for output 0 with respect to input 0'?",
    expect="gradcheck passes for any backward that runs.",
    outcome=Raises(GradcheckError, r"Jacobian mismatch for output 0 with respect to input 0"),
    fix="functional/gradcheck-passes",
    see_also=(_GRADCHECK,),
)
def gradcheck_finds_wrong_backward():
    """`gradcheck` compares the Jacobian your backward gives (analytical) with finite
    differences of the forward (numerical); a backward returning `3·g` for `2x` disagrees in
    every entry.

    It perturbs each input element by `eps` (1e-6) and compares `(f(x+eps) - f(x-eps)) / 2eps`
    with the backward's result within `atol`/`rtol`; double precision is what makes those
    tolerances meaningful.
    """
    torch.autograd.gradcheck(
        _Wrong.apply, (torch.ones(3, dtype=torch.float64, requires_grad=True),)
    )


@case(
    "functional/gradcheck-passes",
    question="How do I check a custom backward with gradcheck?",
    outcome=Returns({"gradcheck": True}),
    see_also=("functional/gradcheck-finds-wrong-backward", _GRADCHECK),
)
def gradcheck_passes():
    """Give it double-precision inputs that require grad: finite differences in float32 are too
    coarse for its tolerances. A correct backward (`2·g` for `2x`) passes.

    `gradcheck` returns `True` when every entry of the analytical Jacobian (from the backward)
    matches the numerical one (from finite differences of the forward) within its tolerances,
    and raises `GradcheckError` otherwise (`functional/gradcheck-finds-wrong-backward`).
    """
    x = torch.ones(3, dtype=torch.float64, requires_grad=True)
    return {"gradcheck": torch.autograd.gradcheck(lambda t: t * 2, (x,))}


@case(
    "functional/gradcheck-in-float32",
    question="Why does gradcheck warn 'Input #0 requires gradient and is not a double precision floating point'?",
    outcome=Returns(
        {"gradcheck": False},
        warns=(
            Warned(
                UserWarning,
                r"Input #0 requires gradient and is not a double precision floating point or complex",
            ),
        ),
    ),
    see_also=("functional/gradcheck-passes",),
)
def gradcheck_in_float32():
    """Finite differences with `eps = 1e-6` in float32 lose most digits to rounding; gradcheck
    warns, and even a correct backward may fail: here `sin` checked in float32 is reported as a
    mismatch (`raise_exception=False` returns `False`).
    """
    x = torch.tensor([0.3, 1.1, 2.0], requires_grad=True)
    return {"gradcheck": torch.autograd.gradcheck(torch.sin, (x,), raise_exception=False)}


@case(
    "functional/gradcheck-without-requires-grad",
    question="Why does gradcheck fail with 'gradcheck expects at least one input tensor to require gradient'?",
    expect="gradcheck checks the gradients with respect to every tensor input.",
    outcome=Raises(ValueError, r"gradcheck expects at least one input tensor to require gradient"),
    fix="functional/gradcheck-passes",
    see_also=(_GRADCHECK,),
)
def gradcheck_without_requires_grad():
    """gradcheck differentiates with respect to the inputs that require grad, and there are
    none; mark the inputs to check with `requires_grad=True`.

    The check is made before any evaluation: gradcheck only perturbs and compares the inputs
    that require grad, so with none there is nothing to check, and silently returning `True`
    would hide the mistake.
    """
    torch.autograd.gradcheck(lambda t: t * 2, (torch.ones(3, dtype=torch.float64),))
