"""Forward-mode AD (``torch.autograd.forward_ad``): dual tensors, tangents and levels."""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwad

from ..spec import Raises, Returns, case
from ._forward_ad import dual_level

_FWAD = "https://pytorch.org/tutorials/intermediate/forward_ad_usage.html"


@case(
    "functional/forward-ad-jvp",
    question="How do I compute a Jacobian-vector product with forward-mode AD?",
    outcome=Returns({"value": torch.tensor([1.0, 4.0]), "tangent": torch.tensor([2.0, 0.0])}),
    see_also=("custom-function/no-jvp", _FWAD),
)
def forward_ad_jvp():
    """Inside a dual level, `make_dual(primal, tangent)` attaches a direction `v` to a tensor;
    every op then carries `J·v` along with its value, and `unpack_dual` reads both.

    For `f(x) = x²` at `(1, 2)` with `v = (1, 0)`: value `(1, 4)`, tangent `2x·v = (2, 0)` —
    one column of the Jacobian per forward pass, where reverse mode gives one row per backward.
    """
    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        x = fwad.make_dual(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
        out = fwad.unpack_dual(x**2)
    return {"value": out.primal, "tangent": out.tangent}


@case(
    "functional/make-dual-outside-a-level",
    question="Why does make_dual fail with 'Trying to create a dual Tensor for forward AD but no level exists'?",
    expect="make_dual works anywhere, like requires_grad_.",
    outcome=Raises(
        RuntimeError, r"Trying to create a dual Tensor for forward AD but no level exists"
    ),
    fix="functional/forward-ad-jvp",
    see_also=(_FWAD,),
)
def make_dual_outside_a_level():
    """Tangents belong to a *level*, entered with `with forward_ad.dual_level():` and cleared
    when it exits; outside any level there is nowhere to attach one.

    Each level numbers its tangents; `dual_level()` enters one and clears every tangent made in
    it on exit, which is why the tangents of a finished computation do not linger on tensors.
    `make_dual` checks that a level is active before attaching.
    """
    fwad.make_dual(torch.ones(3), torch.ones(3))


@case(
    "functional/tangent-of-other-shape",
    question="Why does make_dual fail with 'Trying to set a forward gradient that has a different size than that of the original Tensor'?",
    expect="A tangent broadcasts to the primal's shape.",
    outcome=Raises(
        RuntimeError,
        r"Trying to set a forward gradient that has a different size than that of the original Tensor",
    ),
    fix="functional/forward-ad-jvp",
    see_also=("backward-api/gradient-shape-mismatch",),
)
def tangent_of_other_shape():
    """A tangent is a direction in the primal's own space: same shape, no broadcasting, as for
    the seed of a backward.

    `make_dual` attaches the tangent as the forward gradient of the primal, and
    `AutogradMeta::set_fw_grad` checks that its size matches; `torch.ones_like(primal)` or a
    reshaped direction fixes it.
    """
    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        fwad.make_dual(torch.ones(3), torch.ones(2))


@case(
    "functional/integer-primal",
    question="Why does make_dual fail with 'Expected primal to be floating point or complex, but got: torch.int64'?",
    expect="An index tensor can carry a tangent.",
    outcome=Raises(ValueError, r"Expected primal to be floating point or complex, but got"),
    fix="functional/forward-ad-jvp",
    see_also=("requires-grad/integer-tensor",),
)
def integer_primal():
    """Derivatives exist for continuous values only, in forward mode as in reverse mode: the
    primal must be floating point or complex (the forward-mode counterpart of
    `requires-grad/integer-tensor`).

    The check is in Python, in `make_dual`, before anything is attached; casting with `.float()`
    first works.
    """
    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        fwad.make_dual(torch.arange(3), torch.ones(3))


@case(
    "functional/integer-tangent",
    question="Why does make_dual fail with 'Expected tangent to be floating point or complex, but got: torch.int64'?",
    expect="A one-hot direction can be built from integers.",
    outcome=Raises(ValueError, r"Expected tangent to be floating point or complex, but got"),
    fix="functional/forward-ad-jvp",
    see_also=("functional/integer-primal",),
)
def integer_tangent():
    """The tangent is checked like the primal: a direction `torch.eye(3, dtype=torch.long)[0]`
    is refused; build it as floats.

    A tangent is a direction of change of the primal, a value in the same continuous space:
    `make_dual` checks its dtype in Python before attaching it, as it checks the primal's
    (`functional/integer-primal`).
    """
    with dual_level():  # forward_ad.dual_level(); see cases/_forward_ad.py
        fwad.make_dual(torch.ones(3), torch.tensor([1, 0, 0]))


@case(
    "functional/nested-dual-levels",
    question="Why does entering a second dual level fail with 'Nested forward mode AD is not supported at the moment'?",
    expect="Nested levels give higher-order forward derivatives.",
    outcome=Raises(RuntimeError, r"Nested forward mode AD is not supported at the moment"),
    fix="functional/forward-ad-jvp",
    see_also=(_FWAD,),
)
def nested_dual_levels():
    """The `forward_ad` API supports one active level; for nested forward derivatives compose
    `torch.func.jvp` (or `jacfwd`) instead.

    The inner `dual_level()` is refused when entered; the outer one is exited normally.
    """
    with dual_level(), fwad.dual_level():  # the second level is refused on entry
        pass
