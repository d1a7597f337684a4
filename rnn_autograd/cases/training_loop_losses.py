"""The loss of a training loop: carried across iterations, cut from the graph, or not a scalar.

A running total of tensor losses (``total = total + loss``, ``total_loss += loss``) carries
every earlier batch's graph into the next backward: "backward through the graph a second time",
fixed by summing ``loss.item()`` instead. A loss computed under ``no_grad`` or rebuilt from
``.item()``/``.detach()``/``.numpy()`` values has no graph at all: "element 0 of tensors does not
require grad and does not have a grad_fn", fixed by computing it from the model's output in grad
mode, not by ``requires_grad=True``. A per-sample loss needs a reduction before ``backward()``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec import Raises, Returns, Satisfies, case

_FREED = r"backward through the graph a second time"
_NO_GRAPH = r"element 0 of tensors does not require grad and does not have a grad_fn"
_SCALAR = r"grad can be implicitly created only for scalar outputs"
_BACKWARD = "https://pytorch.org/docs/stable/generated/torch.autograd.backward.html"


def _regression():
    """A linear model, SGD, and five small batches of a regression task."""
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    batches = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(5)]
    return model, optimizer, batches


@case(
    "training-loop/running-total-backward",
    question="Why does total_loss.backward() fail at the second batch when I sum the losses with total_loss = total_loss + loss?",
    expect="Each batch's loss is new, so each backward only sees this batch's graph.",
    outcome=Raises(RuntimeError, _FREED),
    fix="training-loop/running-total-of-items",
    see_also=(
        _BACKWARD,
        "graph/backward-through-freed-graph",
        "training-loop/running-total-inplace",
    ),
)
def running_total_backward():
    """`total_loss` after batch 2 is `loss₁ + loss₂`: its graph contains batch 1's graph, whose
    saved tensors batch 1's backward freed, so batch 2's backward cannot get through it.

    `total_loss = total_loss + loss` records an `AddBackward0` whose edges lead to the previous
    total and to this batch's loss. The first backward (of `0 + loss₁`) runs batch 1's
    `MseLossBackward0`/`AddmmBackward0` and frees what they saved. The second total is
    `(0 + loss₁) + loss₂`; its backward reaches batch 1's nodes again and raises, at the second
    batch, whatever the model. It is the hidden-state bug with a loss in place of the state:
    a tensor carried across iterations carries its graph. `retain_graph=True` would make each
    backward recompute every earlier batch's gradients (and the step's in-place writes would
    then break it the other way); the fix is to backpropagate `loss` and keep the total as a
    number, `loss.item()`.
    """
    model, optimizer, batches = _regression()
    total_loss = 0
    for x, y in batches:
        loss = nn.functional.mse_loss(model(x), y)
        total_loss = total_loss + loss  # a tensor: carries every batch's graph
        optimizer.zero_grad()  # each step sees only this backward's gradient
        total_loss.backward()


@case(
    "training-loop/running-total-inplace",
    question="Why does (total_loss / step).backward() fail after total_loss += loss?",
    expect="+= updates total_loss in place, so there is only one tensor and no old graph.",
    outcome=Raises(RuntimeError, _FREED),
    fix="training-loop/running-total-of-items",
    see_also=("training-loop/running-total-backward", "versions/add-saves-nothing"),
)
def running_total_inplace():
    """`total_loss += loss` is `add_`, and an in-place op is recorded like any op: the one
    tensor's `grad_fn` becomes an `AddBackward0` chained to every earlier batch's loss.

    `total_loss` starts as a zero tensor that needs no grad. The first `+=` writes `loss₁`'s
    value into it and, because `loss₁` requires grad, gives it `grad_fn = AddBackward0` with an
    edge to batch 1's graph. `(total_loss / 1).backward()` frees that graph. The second `+=`
    records another `AddBackward0` on the same tensor, whose first edge is the previous one: the
    chain still leads into batch 1's freed nodes, and the backward raises. In place or not, a
    running total that is a tensor keeps the history of every batch it has summed (and the
    memory of their saved tensors, if nothing frees them); the fix is the same: `loss.item()`.
    """
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    total_loss = torch.zeros(())
    for step in range(1, 6):
        x, y = torch.randn(8, 4), torch.randn(8, 1)
        loss = nn.functional.mse_loss(model(x), y)
        total_loss += loss  # in place, recorded: the chain reaches batch 1's graph
        optimizer.zero_grad()  # each step sees only this backward's gradient
        (total_loss / step).backward()
        optimizer.step()


@case(
    "training-loop/running-total-of-items",
    question="How do I keep the epoch's total loss without breaking the next backward?",
    expect="Summing loss.item() loses the gradient, so the model stops learning.",
    outcome=Returns(
        {
            "total is a": "float",
            "steps per epoch": 5,
            "loss fell": Satisfies(lambda pair: pair[1] < pair[0], "last epoch below the first"),
        }
    ),
    see_also=("training-loop/running-total-backward", "training-loop/running-total-inplace"),
)
def running_total_of_items():
    """Backpropagate each batch's `loss` and add `loss.item()`, a Python float with no graph, to
    the total: the total is for reporting, the gradient comes from `loss` alone.

    `loss.item()` copies the scalar's value out of the tensor; nothing links it to any node, so
    the total holds no graph and no saved tensors, and each backward covers exactly one batch.
    The gradient the optimizer uses is unchanged: it never came from the total (the gradient of
    a sum of earlier, already-stepped losses is not what SGD wants anyway). Here two epochs over
    the same five batches: the second epoch's total is below the first.
    """
    model, optimizer, batches = _regression()
    epochs, trained = [], 0
    for _epoch in range(2):
        total_loss = 0.0
        for x, y in batches:
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()  # each step sees only this batch's gradient
            loss.backward()
            optimizer.step()
            total_loss += loss.item()  # a number: no graph carried to the next batch
            trained += 1
        epochs.append(total_loss)
    return {
        "total is a": type(total_loss).__name__,
        "steps per epoch": trained // 2,
        "loss fell": epochs,
    }


def _classifier():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, optimizer, torch.randn(8, 4), torch.randint(0, 2, (8,))


@case(
    "training-loop/loss-under-no-grad",
    question="Why does loss.backward() say 'element 0 of tensors does not require grad and does not have a grad_fn' when my model has parameters?",
    expect="The parameters require grad, so any loss computed from the model does too.",
    outcome=Raises(RuntimeError, _NO_GRAPH),
    fix="training-loop/loss-in-grad-mode",
    see_also=("grad-mode/no-grad-outputs", "grad-mode/no-grad-decorator"),
)
def loss_under_no_grad():
    """The forward ran under `@torch.no_grad()`, so nothing was recorded: the logits, and the
    loss computed from them, are tensors without a `grad_fn` that do not require grad.

    In no-grad mode no op is recorded, so no output requires grad, whatever its inputs:
    `model(batch)` inside the decorated helper returns plain values. `CrossEntropyLoss` of plain
    values is plain too, so `loss.backward()` finds a root that is a leaf without
    `requires_grad` and refuses ("element 0 of tensors": the first of the tensors passed to
    `backward`). A helper written for evaluation and reused for training, a `with
    torch.no_grad():` around the forward of a validation loop that also trains, or
    `torch.inference_mode()` all do this. The fix is to run the training forward in grad mode.
    """
    model, optimizer, x, y = _classifier()

    @torch.no_grad()  # written for evaluation: nothing recorded
    def forward(batch):
        return model(batch)

    loss = nn.functional.cross_entropy(forward(x), y)
    optimizer.zero_grad()
    loss.backward()


@case(
    "training-loop/loss-from-numpy",
    question="Why does backward fail with 'does not require grad and does not have a grad_fn' on my loss computed in NumPy?",
    expect="torch.tensor(...) turns the NumPy result back into a tensor, which backward accepts.",
    outcome=Raises(RuntimeError, _NO_GRAPH),
    fix="training-loop/loss-in-grad-mode",
    see_also=("training-loop/requires-grad-on-rebuilt-loss", "detach/torch-tensor-of-a-tensor"),
)
def loss_from_numpy():
    """`pred.detach().numpy()` leaves autograd (NumPy records nothing), and `torch.tensor(...)`
    of the result is a new leaf with no history: there is no graph back to the model.

    Autograd only records operations on tensors. `.detach()` (needed before `.numpy()` on a
    tensor that requires grad), `.numpy()`, `.item()` and `.tolist()` all hand out values;
    whatever is computed from them, in NumPy or Python, is invisible to the graph, and
    `torch.tensor(value)` starts a new leaf that does not require grad. Its backward raises,
    which is the helpful outcome: adding `requires_grad=True` silences it and trains nothing
    (`training-loop/requires-grad-on-rebuilt-loss`). Compute the loss with torch operations on
    `pred` itself.
    """
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    pred = model(x)
    loss = torch.tensor(np.mean(np.abs(pred.detach().numpy() - y.numpy())))  # values only
    optimizer.zero_grad()
    loss.backward()


@case(
    "training-loop/requires-grad-on-rebuilt-loss",
    question="If I add requires_grad=True to a loss rebuilt from .item() values, does the model train?",
    expect="Yes: backward runs without the error now.",
    outcome=Returns({"raised": False, "weight.grad": None, "loss.grad": torch.tensor(1.0)}),
    see_also=("training-loop/loss-from-numpy", "training-loop/loss-in-grad-mode"),
)
def requires_grad_on_rebuilt_loss():
    """No: the rebuilt loss is a leaf of its own, so its backward writes `1` into its own
    `.grad` and stops; no edge leads to the model, whose `.grad` stays None.

    `torch.tensor(value, requires_grad=True)` makes a leaf that requires grad. The backward
    starts there, finds no `grad_fn` to go through and runs only its `AccumulateGrad`:
    `loss.grad` is 1 (dloss/dloss) and that is all. The error is gone and so is the training:
    `optimizer.step()` skips every parameter whose `.grad` is None, silently.
    """
    model = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    value = (model(x) - y).abs().mean().item()  # a Python float: the graph stays behind
    loss = torch.tensor(value, requires_grad=True)  # a new leaf, linked to nothing
    loss.backward()
    return {"raised": False, "weight.grad": model.weight.grad, "loss.grad": loss.grad}


@case(
    "training-loop/loss-in-grad-mode",
    question="How do I compute a training loss that backward can differentiate?",
    expect="Wrapping the loss with requires_grad=True is enough.",
    outcome=Returns(
        {
            "loss.grad_fn": "NllLossBackward0",
            "every parameter got .grad": True,
            "L1 via torch": "MeanBackward0",
        }
    ),
    see_also=("training-loop/loss-under-no-grad", "training-loop/loss-from-numpy"),
)
def loss_in_grad_mode():
    """Run the forward in grad mode and compute the loss with torch operations on the model's
    output: every op is recorded, so the loss's `grad_fn` leads back to the parameters.

    Keep `no_grad` for evaluation only (and put the evaluation loop in a function of its own);
    write a NumPy-style loss in torch (`(pred - y).abs().mean()` for the L1 above), and take
    `.item()` only for logging, after the backward. Both losses here have a `grad_fn`
    (`NllLossBackward0` under `cross_entropy`, `MeanBackward0` for the L1) and their backward
    fills every parameter's `.grad`.
    """
    model, optimizer, x, y = _classifier()
    loss = nn.functional.cross_entropy(model(x), y)  # grad mode: recorded
    optimizer.zero_grad()  # only this loss's gradient
    loss.backward()
    got = all(p.grad is not None for p in model.parameters())
    reg = nn.Linear(3, 1)
    pred, target = reg(torch.randn(16, 3)), torch.randn(16, 1)
    l1 = (pred - target).abs().mean()  # the NumPy loss, in torch
    l1.backward()
    got = got and all(p.grad is not None for p in reg.parameters())
    return {
        "loss.grad_fn": type(loss.grad_fn).__name__,
        "every parameter got .grad": got,
        "L1 via torch": type(l1.grad_fn).__name__,
    }


@case(
    "training-loop/non-scalar-backward",
    question="Why does loss.backward() say 'grad can be implicitly created only for scalar outputs'?",
    expect="backward() differentiates each element of the loss and sums the gradients.",
    outcome=Raises(RuntimeError, _SCALAR),
    fix="training-loop/reduce-before-backward",
    see_also=(_BACKWARD,),
)
def non_scalar_backward():
    """`backward()` without an argument seeds the graph with dloss/dloss = 1, which is only
    defined for a tensor of one element; a per-sample loss of 16 needs to be told how to combine.

    `torch.autograd.backward` builds the missing `grad_tensors` in `_make_grads`: for an output
    that requires grad and has `numel() == 1` it uses `ones_like(output)`, and otherwise raises
    this message. So the check is on the number of elements, not the shape: a loss of shape
    `[1, 1]` works, a `[16, 1]` loss from `MSELoss(reduction="none")` does not. Reduce it
    (`.mean()`, `.sum()`), or pass the weights of the vector-Jacobian product yourself:
    `loss.backward(torch.ones_like(loss))` is the gradient of `loss.sum()`.
    """
    model = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    loss = nn.MSELoss(reduction="none")(model(x), y)  # (16, 1): one loss per sample
    loss.backward()


@case(
    "training-loop/reduce-before-backward",
    question="How do I backpropagate a per-sample loss?",
    expect="Only a mean works; summing or seeding with ones gives different, wrong gradients.",
    outcome=Returns(
        {
            "mean()'s gradient × 16 equals sum()'s": True,
            "backward(ones_like) equals sum()": True,
            "a [1, 1] loss: backward filled weight.grad": True,
        }
    ),
    see_also=("training-loop/non-scalar-backward",),
)
def reduce_before_backward():
    """Reduce it to one number first (`loss.mean()` is what `reduction="mean"` does), or give
    `backward` the weights of each element: `backward(torch.ones_like(loss))` equals `sum()`.

    A reduction is part of the graph (`MeanBackward0` divides the incoming 1 by the count, 16
    here), so the forms differ only by that factor. A loss with a single element, whatever its
    shape, is seeded with `ones_like` and needs neither.
    """
    model = nn.Linear(3, 1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    loss = nn.MSELoss(reduction="none")(model(x), y)  # (16, 1): one loss per sample
    loss.mean().backward()  # one number: backward seeds it with 1
    mean_grad = model.weight.grad
    model.zero_grad()  # the next gradient from None, not accumulated
    # A fresh graph for each variant: the backward above freed the last one.
    loss = nn.MSELoss(reduction="none")(model(x), y)
    loss.sum().backward()
    summed = model.weight.grad
    model.zero_grad()  # the next gradient from None
    loss = nn.MSELoss(reduction="none")(model(x), y)  # (16, 1): one loss per sample
    loss.backward(torch.ones_like(loss))  # the vector-Jacobian product with ones
    seeded = model.weight.grad
    model.zero_grad()  # the last check starts from None
    one = nn.MSELoss(reduction="none")(model(x[:1]), y[:1])  # shape [1, 1], one element
    one.backward()
    return {
        "mean()'s gradient × 16 equals sum()'s": torch.allclose(mean_grad * 16, summed),
        "backward(ones_like) equals sum()": torch.allclose(seeded, summed),
        "a [1, 1] loss: backward filled weight.grad": model.weight.grad is not None,
    }
