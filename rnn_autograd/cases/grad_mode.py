"""Grad modes: when autograd records a graph at all (grad mode, no-grad mode, inference mode).

``requires_grad`` only takes effect in grad mode, the default. ``torch.no_grad()`` records
nothing but leaves ordinary tensors behind; ``torch.inference_mode()`` also skips version
counting and view tracking, and its tensors can never enter a recorded graph later. Neither is
``model.eval()``, which only switches layers such as dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, case, snapshot

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


@case(
    "grad-mode/leaf-inplace-outside-no-grad",
    question="Why does w -= lr * w.grad raise 'a leaf Variable that requires grad is being used in an in-place operation'?",
    expect="Updating a parameter in place is what every optimizer does.",
    outcome=Raises(
        RuntimeError, r"a leaf Variable that requires grad is being used in an in-place operation"
    ),
    fix="grad-mode/leaf-inplace-under-no-grad",
    see_also=(_GRAD_MODES, "leaves/manual-update-under-no-grad"),
)
def leaf_inplace_outside_no_grad():
    """In grad mode an in-place op on a leaf that requires grad would have to be *recorded* on
    the leaf itself, turning it into a non-leaf; autograd refuses instead.

    Recording an in-place op replaces the tensor's `grad_fn` with the op's node (that is how an
    in-place op on an intermediate tensor stays differentiable). A leaf's edge must end in its
    `AccumulateGrad` node, the only place its `.grad` is written, so an in-place op on it cannot
    be recorded; the check runs before the op, and `w` is unchanged. Optimizers do exactly this
    update, but with grad mode off (their `step` switches it off unless built with
    `differentiable=True`), where nothing is recorded and the check does not apply.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w**2).sum().backward()
    w -= 0.25 * w.grad  # in-place on a leaf in grad mode: refused


@case(
    "grad-mode/leaf-inplace-under-no-grad",
    question="How do I update a leaf that requires grad in place?",
    expect="Under no_grad nothing is tracked, so w's version counter stays at 0.",
    outcome=Returns(
        {
            "w": torch.tensor([0.5, 1.0]),
            "w.is_leaf": True,
            "w.requires_grad": True,
            "w._version": 1,
        }
    ),
    see_also=(
        _NO_GRAD,
        "grad-mode/leaf-inplace-outside-no-grad",
        "leaves/manual-update-under-no-grad",
    ),
)
def leaf_inplace_under_no_grad():
    """Under `torch.no_grad()` the in-place update is not recorded, so it is allowed: `w` stays
    the same leaf object, still requires grad, and its version counter goes up by one.

    No node is created, so `w` keeps no `grad_fn` and stays a leaf; its flag `requires_grad` is
    not touched by the mode. The write is still an in-place change of `w`'s storage, so
    `w._version` becomes 1: no-grad mode does not exempt the change from version checks, which
    is why the update must come *after* the backward that used the saved `w` (see
    `grad-mode/no-grad-update-before-backward`). With gradient 2·w = [2, 4] and lr = 0.25,
    w becomes [0.5, 1].
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w**2).sum().backward()  # the graph that saved w is used and freed here
    with torch.no_grad():  # an update, not part of any graph
        w -= 0.25 * w.grad  # in-place on the leaf: allowed here, bumps w._version
    return {
        "w": w.detach().clone(),
        "w.is_leaf": w.is_leaf,
        "w.requires_grad": w.requires_grad,
        "w._version": w._version,
    }


@case(
    "grad-mode/no-grad-update-before-backward",
    question="Why does the backward fail when I update the weights under no_grad between the forward and the backward?",
    expect="Under no_grad the update is invisible to autograd.",
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="grad-mode/leaf-inplace-under-no-grad",
    see_also=(
        "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks",
        "detach/inplace-on-detached-breaks-backward",
    ),
)
def no_grad_update_before_backward():
    """No-grad mode stops *recording*, not *version counting*: the in-place update still bumps
    `w._version`, and the backward then finds the `w` it saved changed.

    `loss = (w ** 2).sum()` records `PowBackward0`, which saves `w` at version 0. The update
    under `torch.no_grad()` is allowed (nothing is recorded) but it writes `w`'s storage in
    place, so the counter becomes 1. The backward unpacks the saved `w`, sees 1 where it recorded
    0 and raises, which is correct: the gradient would otherwise be computed from the updated
    values. Inference mode would not help either: an in-place op on a normal tensor bumps its
    counter there too; only the tensors inference mode *creates* have no counter, and those
    cannot be saved at all (see `grad-mode/inference-tensor-in-autograd`).
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w**2).sum()  # PowBackward0 saves w at version 0
    with torch.no_grad():  # not recorded, but still an in-place write of w
        w -= 0.25  # bumps w._version to 1
    snapshot("after the no_grad update", loss)
    loss.backward()  # the saved w is at version 1, expected 0


@case(
    "grad-mode/no-grad-view-modified-with-grad",
    question="Why does changing in place, with grad enabled, a slice that I took under no_grad raise an error?",
    expect="The slice was taken without gradients, so changing it concerns nobody.",
    outcome=Raises(
        RuntimeError, r"A view was created in no_grad mode and is being modified inplace"
    ),
    fix="grad-mode/no-grad-view-modified-in-no-grad",
    see_also=(_GRAD_MODES, "detach/detach-in-place-on-view"),
)
def no_grad_view_modified_with_grad():
    """A view made under no_grad still shares its base's storage, so an in-place change of it
    changes the base; with grad mode back on, autograd cannot tell whether that change should
    be recorded in the base's history, and refuses.

    `w[0:1]` taken under `torch.no_grad()` is a view of `w`: same memory, same version counter,
    `_base is w`. Its creation was not recorded, so it has no `grad_fn`, yet it reports `w`'s
    `requires_grad` (True), and autograd marks it as made in no-grad mode. An in-place op on a
    view in grad mode is normally recorded into the *base's* history, so that gradients through
    `w` account for the change. Here that would record a change made through a slice whose
    creation was deliberately left out of the graph, while not recording it would let `w`'s
    graph miss a change of its values; PyTorch calls the use "ambiguous and error-prone" and
    raises before writing anything (`w` is unchanged). Doing both the view and the change
    inside the no_grad block, or both outside it, is allowed. PyTorch's C++ tests pin this down,
    together with a known oddity of such views: they are leaves, yet a backward through them
    fills no `.grad`.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # the view is created without recording
        first = w[0:1]
    first.mul_(0)  # in-place in grad mode on a no_grad view: ambiguous, refused


@case(
    "grad-mode/no-grad-view-modified-in-no-grad",
    question="How do I change part of a leaf that requires grad in place, through a slice?",
    expect="Any in-place change through a slice of w is refused, as with the grad-mode version.",
    outcome=Returns(
        {"w": torch.tensor([0.0, 2.0]), "w._version": 1, "w.is_leaf": True, "w.grad_fn": None}
    ),
    see_also=(
        _NO_GRAD,
        "grad-mode/no-grad-view-modified-with-grad",
        "grad-mode/leaf-inplace-under-no-grad",
    ),
)
def no_grad_view_modified_in_no_grad():
    """Take the slice and change it inside the same `torch.no_grad()` block: the write is an
    unrecorded in-place change of `w`'s storage, which is exactly what an update of a leaf is.

    The view shares `w`'s storage and version counter, so `w` now holds [0, 2] and `w._version`
    is 1; nothing was recorded, so `w` stays a leaf without `grad_fn`. This is how
    initialisers and optimizers touch parts of parameters (`torch.nn.init` runs under no_grad).
    As with any update, it belongs after the backward that used the old values.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # view and in-place change both unrecorded
        w[0:1].mul_(0)  # in-place through a view: writes w's storage, bumps w's counter
    return {
        "w": w.detach().clone(),
        "w._version": w._version,
        "w.is_leaf": w.is_leaf,
        "w.grad_fn": w.grad_fn,
    }
