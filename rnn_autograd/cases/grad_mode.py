"""Grad modes: when autograd records a graph at all (grad mode, no-grad mode, inference mode).

``requires_grad`` only takes effect in grad mode, the default. ``torch.no_grad()`` records
nothing but leaves ordinary tensors behind; ``torch.inference_mode()`` also skips version
counting and view tracking, and its tensors cannot be *saved* for a backward later (an op that
saves nothing from them, such as ``w + X``, is recorded and differentiates fine). Neither is
``model.eval()``, which only switches layers such as dropout. This module holds the cases of
switching the mode and of inference tensors; ``grad_mode_inplace`` holds the in-place updates
of leaves and views under and outside no-grad mode.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, case

_GRAD_MODES = (
    "https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation"
)
_NO_GRAD = "https://pytorch.org/docs/stable/generated/torch.no_grad.html"
_INFERENCE = (
    "https://pytorch.org/docs/stable/generated/torch.autograd.grad_mode.inference_mode.html"
)


@case(
    "grad-mode/no-grad-outputs",
    question="Why does the hidden state from a forward under torch.no_grad() not require grad, when the RNN's weights do?",
    expect="The weights require grad, so everything computed from them does.",
    outcome=Returns(
        {
            "out.requires_grad": False,
            "h.grad_fn": None,
            "h.is_leaf": True,
            "weight requires_grad": True,
            "grad mode inside": False,
        }
    ),
    see_also=(_GRAD_MODES, _NO_GRAD, "leaves/requires-grad-propagates"),
)
def no_grad_outputs():
    """In no-grad mode every operation behaves as if none of its inputs required grad: nothing
    is recorded, so outputs have no `grad_fn` and `requires_grad=False`, whatever the inputs.

    The rule "an output requires grad iff an input does" (see `leaves/requires-grad-propagates`)
    holds only in grad mode. `torch.no_grad()` switches a thread-local flag that the dispatcher
    checks before creating any node; the RNN's weights keep `requires_grad=True` (the flag of a
    tensor is not touched) but no edge to them is made. The outputs are therefore leaves without
    history: a state produced during warm-up or prediction under no_grad can be fed to a later
    training step without carrying any graph. Memory is saved because nothing is saved for a
    backward.
    """
    rnn = nn.RNN(input_size=2, hidden_size=3)
    X = torch.randn(4, 1, 2)  # (T, B, input)
    with torch.no_grad():  # prediction: record nothing, save nothing for a backward
        out, h = rnn(X)
        inside = torch.is_grad_enabled()
    return {
        "out.requires_grad": out.requires_grad,
        "h.grad_fn": h.grad_fn,
        "h.is_leaf": h.is_leaf,
        "weight requires_grad": rnn.weight_hh_l0.requires_grad,
        "grad mode inside": inside,
    }


@case(
    "grad-mode/enable-grad-inside-no-grad",
    question="Can I record a graph for one computation inside a torch.no_grad() block?",
    expect="Inside no_grad nothing can be recorded.",
    outcome=Returns(
        {
            "inner.requires_grad": True,
            "outer.requires_grad": False,
            "x.grad": torch.tensor([2.0]),
        }
    ),
    see_also=(
        _GRAD_MODES,
        "https://pytorch.org/docs/stable/generated/torch.enable_grad.html",
        "grad-mode/no-grad-decorator",
    ),
)
def enable_grad_inside_no_grad():
    """Grad mode is a thread-local flag that each context manager sets on entry and restores on
    exit, so `torch.enable_grad()` nested inside `torch.no_grad()` turns recording back on for
    its block.

    `no_grad` sets the flag to False and `enable_grad` sets it to True; the innermost block wins,
    and each restores the previous value when it exits. `inner = x * 2` therefore records
    `MulBackward0` and can be differentiated (dx = 2), while `outer`, computed after the inner
    block closed, is back under no_grad and records nothing. This is how a function that must
    differentiate (a gradient penalty, say) works even when its caller evaluates under no_grad.
    """
    x = torch.tensor([1.0], requires_grad=True)
    with torch.no_grad():  # evaluation: nothing recorded ...
        with torch.enable_grad():  # ... except this block
            inner = x * 2
        outer = x * 2
    inner.backward()
    return {
        "inner.requires_grad": inner.requires_grad,
        "outer.requires_grad": outer.requires_grad,
        "x.grad": x.grad,
    }


def _forward(model: nn.Module, X: torch.Tensor, train: bool) -> torch.Tensor:
    with torch.set_grad_enabled(train):  # record a graph only when the result will be trained on
        return model(X)


@case(
    "grad-mode/set-grad-enabled-for-evaluation",
    question="How does one forward function serve both training and evaluation without recording a graph when evaluating?",
    expect="set_grad_enabled(False) stays in effect after the evaluation's forward, as a function call would.",
    outcome=Returns(
        {
            "train: grad_fn": "AddmmBackward0",
            "evaluate: grad_fn": None,
            "grad mode afterwards": True,
        }
    ),
    see_also=(
        _GRAD_MODES,
        "https://pytorch.org/docs/stable/generated/torch.set_grad_enabled.html",
        "grad-mode/eval-does-not-disable-grad",
    ),
)
def set_grad_enabled_for_evaluation():
    """`torch.set_grad_enabled(flag)` is no_grad/enable_grad chosen by a boolean: one code path
    records a graph when `flag` is True and nothing when it is False.

    Used as a context manager it sets the thread-local grad mode to `flag` and restores the
    previous mode on exit, so `_forward(..., train=True)` returns a result with
    `grad_fn=AddmmBackward0` (the linear layer's recorded node) and `train=False` a result without
    one, and grad mode is on again afterwards. Called as a plain function,
    `torch.set_grad_enabled(False)` switches the mode *until changed back*, which silently
    disables training in all code that follows on that thread.
    """
    model = nn.Linear(2, 1)
    X = torch.ones(3, 2)
    trained = _forward(model, X, train=True)
    evaluated = _forward(model, X, train=False)
    return {
        "train: grad_fn": type(trained.grad_fn).__name__,
        "evaluate: grad_fn": evaluated.grad_fn,
        "grad mode afterwards": torch.is_grad_enabled(),
    }


@case(
    "grad-mode/eval-does-not-disable-grad",
    question="Does model.eval() stop autograd from recording a graph?",
    expect="eval() is evaluation mode, so no gradients are tracked.",
    outcome=Returns(
        {
            "model.training": False,
            "after eval(): out.requires_grad": True,
            "eval() and no_grad: out.requires_grad": False,
        }
    ),
    see_also=(
        _GRAD_MODES,
        "https://pytorch.org/docs/stable/generated/torch.nn.Module.html",
        "grad-mode/set-grad-enabled-for-evaluation",
    ),
)
def eval_does_not_disable_grad():
    """`model.eval()` only sets `module.training = False` on every submodule (dropout stops
    dropping, batch norm uses running statistics); grad mode is untouched, so a graph is still
    recorded.

    The two switches are orthogonal: `eval()` changes what layers *compute*, grad modes change
    whether autograd *records*. After `eval()` the output still has a `grad_fn` and keeps every
    activation it saved alive until it is freed, which is wasted memory during evaluation. The
    evaluation idiom is both: `model.eval()` and `torch.no_grad()` (then `model.train()` before
    training resumes).
    """
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    X = torch.ones(1, 2)
    model.eval()  # dropout off; autograd still records
    out = model(X)
    with torch.no_grad():  # evaluation: record nothing
        out_no_grad = model(X)
    return {
        "model.training": model.training,
        "after eval(): out.requires_grad": out.requires_grad,
        "eval() and no_grad: out.requires_grad": out_no_grad.requires_grad,
    }


@torch.no_grad()  # evaluation only: never record a graph for these forwards
def _evaluate(model: nn.Module, X: torch.Tensor) -> tuple[torch.Tensor, bool]:
    return model(X), torch.is_grad_enabled()


@torch.no_grad  # the bare form (no parentheses) is accepted too
def _evaluate_bare(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    return model(X)


@case(
    "grad-mode/no-grad-decorator",
    question="What does decorating an evaluation function with @torch.no_grad() do to grad mode?",
    expect="The decorator switches gradients off for good once the function has run.",
    outcome=Returns(
        {
            "out.requires_grad": False,
            "grad mode inside": False,
            "grad mode after the call": True,
            "bare @torch.no_grad: out.requires_grad": False,
        }
    ),
    see_also=(_NO_GRAD, "grad-mode/no-grad-outputs"),
)
def no_grad_decorator():
    """`@torch.no_grad()` wraps the function in the context manager: grad mode is off for the
    duration of each call and restored when it returns (or raises).

    Inside `_evaluate`, `torch.is_grad_enabled()` is False, so the model's forward records
    nothing and its output does not require grad; back in the caller grad mode is on again, so
    training code after an evaluation is unaffected. The bare `@torch.no_grad` (no parentheses)
    behaves the same on this torch. Because the decorator saves and restores the mode per call,
    an `enable_grad()` block inside the decorated function still records (see
    `grad-mode/enable-grad-inside-no-grad`).
    """
    model = nn.Linear(2, 1)
    X = torch.ones(1, 2)
    out, inside = _evaluate(model, X)
    return {
        "out.requires_grad": out.requires_grad,
        "grad mode inside": inside,
        "grad mode after the call": torch.is_grad_enabled(),
        "bare @torch.no_grad: out.requires_grad": _evaluate_bare(model, X).requires_grad,
    }


def _one_hot_inputs() -> torch.Tensor:
    """Four one-hot tokens over a vocabulary of 3, as a float (T, vocab) batch."""
    return nn.functional.one_hot(torch.tensor([0, 2, 1, 0]), num_classes=3).float()


@case(
    "grad-mode/inference-tensor-in-autograd",
    question="Why does training fail on inputs I preprocessed under torch.inference_mode()?",
    expect="inference_mode is a faster no_grad, and no_grad outputs can be trained on.",
    outcome=Raises(RuntimeError, r"Inference tensors cannot be saved for backward"),
    fix="grad-mode/inference-tensor-cloned",
    see_also=(_INFERENCE, _GRAD_MODES, "grad-mode/no-grad-instead-of-inference-mode"),
)
def inference_tensor_in_autograd():
    """Tensors created under `torch.inference_mode()` carry no version counter, so autograd
    refuses to *save* them for a backward: the forward of a layer that needs its input raises.

    Inference mode goes further than no-grad mode: besides recording nothing, it skips version
    counting and view tracking, and the tensors it creates are marked as inference tensors
    (`X.is_inference()` is True). A saved tensor is only safe to use if its version can be
    checked at backward time (see `detach/inplace-on-detached-breaks-backward`), so saving an
    inference tensor is forbidden. `nn.Linear` saves its input to compute the weight's gradient,
    so the error comes at `model(X)`, not at `backward()`. Predict the variation: an operation
    that saves nothing from the inference tensor (`w + X`) is recorded and differentiates fine.
    """
    with torch.inference_mode():  # preprocessing: fastest mode, no autograd bookkeeping at all
        X = _one_hot_inputs()
    model = nn.Linear(3, 2)
    loss = model(X).sum()  # Linear saves X for the weight's gradient: refused
    loss.backward()


@case(
    "grad-mode/inference-tensor-cloned",
    question="How do I train on a tensor that was created under torch.inference_mode()?",
    expect="A clone of an inference tensor is an inference tensor too.",
    outcome=Returns(
        {"X.is_inference()": False, "weight.grad": torch.tensor([[2.0, 1.0, 1.0]] * 2)}
    ),
    see_also=("grad-mode/inference-tensor-in-autograd", _INFERENCE),
)
def inference_tensor_cloned():
    """Clone it outside inference mode: `clone()` run in normal mode produces an ordinary tensor
    with a version counter, which autograd can save.

    The clone copies the values into a new tensor created in normal mode, so
    `X.is_inference()` is False and `nn.Linear` may save it. The weight's gradient of
    `model(X).sum()` is, for each output row, the column sums of the one-hot inputs: token 0
    twice, tokens 1 and 2 once each, [2, 1, 1]. The clone costs one copy; where that is not
    wanted, create the tensors under `torch.no_grad()` instead (see
    `grad-mode/no-grad-instead-of-inference-mode`).
    """
    with torch.inference_mode():  # preprocessing stays fast ...
        X = _one_hot_inputs()
    X = X.clone()  # ... and one copy outside it makes a normal tensor autograd can save
    model = nn.Linear(3, 2)
    model(X).sum().backward()
    return {"X.is_inference()": X.is_inference(), "weight.grad": model.weight.grad}


@case(
    "grad-mode/no-grad-instead-of-inference-mode",
    question="Which mode do I use for preprocessing whose results are trained on later?",
    expect="no_grad and inference_mode are interchangeable: both just stop recording.",
    outcome=Returns(
        {
            "X.is_inference()": False,
            "X.requires_grad": False,
            "weight.grad": torch.tensor([[2.0, 1.0, 1.0]] * 2),
        }
    ),
    see_also=(_GRAD_MODES, "grad-mode/inference-tensor-in-autograd"),
)
def no_grad_instead_of_inference_mode():
    """`torch.no_grad()`: it records nothing, like inference mode, but creates ordinary tensors
    with version counters, which later computations in grad mode may save.

    PyTorch's own table of grad modes lists "tensors created while the mode is enabled can be
    used in grad-mode later" as the one property no-grad mode has and inference mode lacks. The
    preprocessing result does not require grad and has no history, and `nn.Linear` saves it
    without complaint; the gradient is the same as with the clone, [2, 1, 1] per row.
    """
    with torch.no_grad():  # preprocessing: nothing to differentiate, results reused later
        X = _one_hot_inputs()
    model = nn.Linear(3, 2)
    model(X).sum().backward()
    return {
        "X.is_inference()": X.is_inference(),
        "X.requires_grad": X.requires_grad,
        "weight.grad": model.weight.grad,
    }
