"""Anomaly mode: finding the backward op that produced a nan, and keeping nans out."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, Warned, case

_ANOMALY = "https://pytorch.org/docs/stable/autograd.html#anomaly-detection"
_ENABLED = Warned(UserWarning, r"Anomaly Detection has been enabled")


@case(
    "anomaly/nan-gradient-of-sqrt",
    question="Why does backward under detect_anomaly fail with \"Function 'SqrtBackward0' returned nan values in its 0th output\"?",
    expect="sqrt(x) * 0 contributes nothing, so its gradient is zero everywhere.",
    outcome=Raises(
        RuntimeError,
        r"Function '.*Backward\d*' returned nan values in its \d+th output",
        warns=(
            _ENABLED,
            Warned(
                UserWarning,
                r"Error detected in .*Backward\d*\. Traceback of forward call that caused the error",
            ),
        ),
    ),
    fix="anomaly/safe-sqrt",
    see_also=(_ANOMALY,),
)
def nan_gradient_of_sqrt():
    """The chain rule multiplies local derivatives, and `0 · inf` is `nan`: the derivative of
    `sqrt` at 0 is infinite, so even a zero gradient flowing into `SqrtBackward0` comes out as
    `nan`. Anomaly mode checks every backward node's outputs and names the first that has one.

    `d/dx sqrt(x) = 1/(2·sqrt(x))`, `inf` at `x = 0`; the incoming gradient is 0 (from `* 0`),
    and `0 · inf = nan` lands in `x.grad`. Without anomaly mode the backward finishes and the
    `nan` propagates silently into the weights at the next step. Inside
    `torch.autograd.detect_anomaly()`, entering warns that it is enabled, the failing node
    warns with the traceback of the forward op that created it ("Error detected in
    SqrtBackward0"), and the check raises.
    """
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    with torch.autograd.detect_anomaly():  # debugging only: it slows every op down
        y = torch.sqrt(x) * 0
        y.sum().backward()


@case(
    "anomaly/safe-sqrt",
    question="How do I take sqrt (or log, or a norm) of values that can be zero without nan gradients?",
    outcome=Returns({"x.grad": torch.tensor([0.0, 0.25])}, warns=(_ENABLED,)),
    see_also=("anomaly/nan-gradient-of-sqrt",),
)
def safe_sqrt():
    """Keep the dangerous point out of the op's *input*, not only out of its output: a
    `torch.where` after `sqrt` still backpropagates `0 · inf` into it, one before it does not.

    Replacing the zeros by ones *before* `sqrt` makes every local derivative finite; the second
    `where` then puts the desired value (0) back. For `x = (0, 4)`: `x.grad = (0, 1/(2·2)) =
    (0, 0.25)`, and anomaly mode finds nothing. Adding an epsilon (`sqrt(x + 1e-12)`) also
    works, at the price of a huge but finite gradient near 0.
    """
    x = torch.tensor([0.0, 4.0], requires_grad=True)
    with torch.autograd.detect_anomaly():  # to show that no backward node returns a nan
        safe = torch.where(x > 0, x, torch.ones_like(x)).sqrt()
        y = torch.where(x > 0, safe, torch.zeros_like(safe))
        y.sum().backward()
    return {"x.grad": x.grad}
