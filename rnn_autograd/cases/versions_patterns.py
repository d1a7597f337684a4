"""The in-place habits behind "modified by an inplace operation", each with the op it names.

``nn.ReLU(inplace=True)`` on a tensor another layer saved ("output 0 of Relu"); ``torch.relu_``
on the output of ``exp`` ("output 0 of Exp"); a slice assignment into a ``sigmoid`` activation
("output 0 of Sigmoid"); ``clamp_`` through a view of a softmax ("output 0 of Softmax"); and
writing a row of a parameter, which autograd refuses before any backward. The clause names the
saved tensor's node: an output saved by its own node is named after that node, a saved input
after its ``grad_fn`` at the time of the backward (``versions_by_op``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Close, Raises, Returns, case

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_STALE = r"modified by an inplace operation"
_VIEW_OF_LEAF = (
    r"a view of a leaf Variable that requires grad is being used in an in-place operation"
)


class _TwoHeads(nn.Module):
    """One feature tensor read by a linear layer and by an in-place (or not) ReLU."""

    def __init__(self, inplace: bool):
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.gate = nn.Linear(8, 8)
        self.relu = nn.ReLU(inplace=inplace)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        feats = self.body(x)
        gated = self.gate(feats)  # AddmmBackward0 saves feats, for gate.weight's gradient
        return self.head(self.relu(feats) + gated)


@case(
    "versions/relu-inplace-on-saved-input",
    question="Why does nn.ReLU(inplace=True) make backward fail with '... which is output 0 of Relu, is at version 1'?",
    expect="ReLU's backward only needs its own output, so doing it in place is safe.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/activation-out-of-place",
    see_also=(_INPLACE, "versions/which-ops-save-what", "versions/relu-underscore-on-exp-output"),
)
def relu_inplace_on_saved_input():
    """`self.gate(feats)` saved `feats` for the gradient of `gate.weight`; the in-place ReLU then
    overwrote `feats` and bumped it to version 1, so the gate's backward finds it changed.

    `nn.Linear` runs `addmm(bias, feats, weight.t())`, and `AddmmBackward0` saves `mat1 = feats`
    (the weight's gradient is `grad.t() @ feats`). `nn.ReLU(inplace=True)` calls `relu_`, which
    writes the same storage and is recorded on the same tensor: `feats.grad_fn` becomes
    `ReluBackward0`. The backward reaches the gate's node, unpacks its saved `feats`: "which is
    output 0 of Relu, is at version 1; expected version 0". A saved *input* is named after its
    `grad_fn` now, so the clause names the in-place op itself, not the layer that saved it.
    ReLU on its own would be safe in place (it saves only its output, which it writes last);
    what breaks is a second reader of the input: a skip connection, a second head, an
    attention gate. The fix is `inplace=False`, one extra activation tensor of memory.
    """
    model = _TwoHeads(inplace=True)
    model(torch.randn(4, 6)).pow(2).mean().backward()


@case(
    "versions/relu-underscore-on-exp-output",
    question="Why does torch.relu_(scale) after scale = torch.exp(log_scale) break the backward with 'output 0 of Exp'?",
    expect="relu does not change positive values, and exp's output is positive, so nothing changes.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/activation-out-of-place",
    see_also=(_INPLACE, "versions/inplace-on-saved-output", "versions/message-numbers"),
)
def relu_underscore_on_exp_output():
    """`ExpBackward0` saved its output `scale` (exp's gradient is `grad * result`); `relu_` writes
    it in place, and the version check counts writes, not changes of value.

    `torch.relu_` returns the same tensor with every element `max(x, 0)`: for the positive
    values of `exp` it changes nothing, but it is an in-place write, so `scale._version` goes
    from 0 to 1. When the backward reaches `ExpBackward0` it unpacks the saved result and
    raises "which is output 0 of Exp, is at version 1; expected version 0": an output saved by
    its own node keeps that node's name whatever op wrote it afterwards. Any in-place
    activation (`sigmoid_`, `tanh_`, `clamp_`) on the output of `exp`, `sigmoid`, `tanh`,
    `softmax` or `relu` fails the same way; write `scale = torch.relu(scale)`.
    """
    log_scale = torch.randn(5, requires_grad=True)
    x = torch.randn(5)
    scale = torch.exp(log_scale)  # ExpBackward0 saves scale itself, at version 0
    y = x * scale
    torch.relu_(scale)  # in place on exp's saved output: version 1
    (y * scale).sum().backward()


@case(
    "versions/activation-out-of-place",
    question="How do I apply an activation without breaking the backward of the tensor's other readers?",
    expect="The out-of-place version gives different gradients.",
    outcome=Returns(
        {
            "nn.ReLU(): the body got a gradient": True,
            "torch.relu(scale): log_scale.grad": Close(torch.tensor([2.0, 4.0])),
        }
    ),
    see_also=("versions/relu-inplace-on-saved-input", "versions/relu-underscore-on-exp-output"),
)
def activation_out_of_place():
    """Use the out-of-place form (`nn.ReLU()`, `torch.relu(x)`, `x = x.sigmoid()`): it writes a
    new tensor, so every tensor a node saved keeps its values and its version.

    In the two-head model the gate's `AddmmBackward0` unpacks `feats` at version 0 and the
    ReLU's own node saves its new output. For the scale, `scale = torch.relu(scale)` leaves exp's
    saved result untouched: with y·scale = x·scale², d/dlog_scale = 2·x·scale² (here x = 1 and
    scale = [1, √2], so [2, 4]). In-place activations save one tensor's memory and are safe only
    where nothing else reads their input, as in `conv -> bn -> relu(inplace=True)` chains.
    """
    model = _TwoHeads(inplace=False)
    model(torch.randn(4, 6)).pow(2).mean().backward()
    log_scale = torch.log(torch.tensor([1.0, 2.0]) ** 0.5).requires_grad_()
    x = torch.ones(2)
    scale = torch.exp(log_scale)  # saves its output, at version 0
    y = x * scale
    scale = torch.relu(scale)  # out of place: a new tensor, the saved one is untouched
    (y * scale).sum().backward()
    return {
        "nn.ReLU(): the body got a gradient": model.body.weight.grad is not None,
        "torch.relu(scale): log_scale.grad": log_scale.grad,
    }


@case(
    "versions/slice-assign-into-activation",
    question="Why does h[:, 0] = 0 after h = torch.sigmoid(layer(x)) break the backward with 'output 0 of Sigmoid'?",
    expect="Slice assignment is an indexing operation, not an in-place op, so autograd handles it.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/mask-out-of-place",
    see_also=(_INPLACE, "versions/view-shares-counter", "versions/which-ops-save-what"),
)
def slice_assign_into_activation():
    """`h[:, 0] = 0` is `h[:, 0].copy_(0)`, an in-place write through a view of `h`, and
    `SigmoidBackward0` saved `h` itself (sigmoid's gradient is `grad * result * (1 - result)`).

    The view shares `h`'s storage and version counter: the copy bumps `h` to version 1 and
    rebases `h`'s history onto `CopySlices` (which is differentiable: the zeroed column gets
    gradient 0). But the sigmoid's node still holds the saved result at version 0, and its
    values are gone from the storage; unpacking it raises "[torch.FloatTensor [3, 4]], which is
    output 0 of Sigmoid, is at version 1; expected version 0". `h[mask] = v`,
    `h.masked_fill_(...)`, `h.index_put_(...)` and `h[..., i] += v` are the same write. On the
    output of an op that saves nothing (`h = layer(x)`, an `addmm` output nobody saved), the
    same line works.
    """
    layer = nn.Linear(6, 4)
    x = torch.randn(3, 6)
    h = torch.sigmoid(layer(x))  # SigmoidBackward0 saves h, at version 0
    h[:, 0] = 0  # copy_ into a view of h: h._version 0 -> 1
    h.sum().backward()


@case(
    "versions/mask-out-of-place",
    question="How do I zero a column of an activation without breaking the backward?",
    expect="Only slice assignment can set part of a tensor.",
    outcome=Returns(
        {
            "h * mask: column 0 of h": [0.0, 0.0, 0.0],
            "clone, then h[:, 0] = 0: same h": True,
            "layer.weight.grad row 0": [0.0] * 6,
        }
    ),
    see_also=("versions/slice-assign-into-activation",),
)
def mask_out_of_place():
    """Multiply by a mask (`h = h * mask`), build the tensor with `torch.where`/`torch.cat`, or
    assign into a clone (`h = h.clone(); h[:, 0] = 0`): the saved sigmoid output stays as it was.

    `h * mask` is a new tensor: `SigmoidBackward0`'s saved result keeps version 0, and
    `MulBackward0` saves the constant mask, so column 0's gradient is 0 · … = 0 and the first
    unit's weights get no gradient (row 0 of `layer.weight.grad` is zero). A `clone()` is a new
    storage no node saved, so writing into it is the same computation with one copy.
    """
    layer = nn.Linear(6, 4)
    x = torch.randn(3, 6)
    mask = torch.ones(4)
    mask[0] = 0  # a constant: in place on a tensor no graph uses
    h = torch.sigmoid(layer(x)) * mask  # out of place: the saved sigmoid output is untouched
    h.sum().backward()
    row0 = layer.weight.grad[0].tolist()
    h2 = torch.sigmoid(layer(x)).clone()  # new storage: nobody saved it
    h2[:, 0] = 0  # in place on the clone only
    return {
        "h * mask: column 0 of h": h[:, 0].tolist(),
        "clone, then h[:, 0] = 0: same h": torch.equal(h2, h),
        "layer.weight.grad row 0": row0,
    }


@case(
    "versions/inplace-on-view-of-leaf",
    question="Why does emb.weight[0] = 0 raise 'a view of a leaf Variable that requires grad is being used in an in-place operation'?",
    expect="Setting one row of a parameter is an ordinary assignment.",
    outcome=Raises(RuntimeError, _VIEW_OF_LEAF),
    fix="versions/view-of-leaf-under-no-grad",
    see_also=("grad-mode/leaf-inplace-outside-no-grad", "versions/view-shares-counter"),
)
def inplace_on_view_of_leaf():
    """`emb.weight[0]` is a view of a leaf parameter, and writing through a view in grad mode
    would have to record the write on its base, the leaf, which would stop being a leaf.

    An in-place op on a view is recorded by rebasing the base's history (its `grad_fn` becomes
    `CopySlices`). A leaf's edge must end in its `AccumulateGrad` node, so autograd checks,
    before the write, whether the view's base is a leaf that requires grad, and raises; the
    parameter is unchanged. The same happens for `w[:, 0].zero_()`, `w[idx] += 1` and any
    hand-written initialisation of part of a parameter outside `no_grad`. It is the view form of
    `grad-mode/leaf-inplace-outside-no-grad` (`w -= lr * w.grad`).
    """
    emb = nn.Embedding(10, 4)
    emb.weight[0] = 0  # copy_ into a view of a leaf, in grad mode: refused


@case(
    "versions/view-of-leaf-under-no-grad",
    question="How do I set a row of a parameter in place?",
    expect="Under no_grad the row is changed but the parameter then gets no gradient.",
    outcome=Returns(
        {
            "row 0 after the write": [0.0, 0.0, 0.0, 0.0],
            "weight is still a leaf": True,
            "weight._version": 2,
            "padding_idx row 0 after the write": [0.0, 0.0, 0.0, 0.0],
        }
    ),
    see_also=("versions/inplace-on-view-of-leaf", "grad-mode/leaf-inplace-under-no-grad"),
)
def view_of_leaf_under_no_grad():
    """Write it under `torch.no_grad()`: nothing is recorded, the parameter stays a leaf, and the
    write bumps its version (1 for the initialisation, 2 now), which is harmless before a forward.

    This is how `nn.init` functions and optimizers write parameters. For the padding row of an
    embedding, `nn.Embedding(10, 4, padding_idx=0)` zeroes it at construction (under `no_grad`)
    and keeps its gradient at zero, so it stays zero through training.
    """
    emb = nn.Embedding(10, 4)
    with torch.no_grad():  # a write the graph must not record
        emb.weight[0] = 0
    padded = nn.Embedding(10, 4, padding_idx=0)
    return {
        "row 0 after the write": emb.weight[0].tolist(),
        "weight is still a leaf": emb.weight.is_leaf,
        "weight._version": emb.weight._version,
        "padding_idx row 0 after the write": padded.weight[0].tolist(),
    }


@case(
    "versions/inplace-on-view-of-saved-output",
    question="Why does flat = probs.view(-1); flat.clamp_(min=1e-6) break the backward with 'output 0 of Softmax'?",
    expect="flat is a reshaped copy, so clamping it leaves probs alone.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/clamp-out-of-place",
    see_also=(_INPLACE, "versions/view-shares-counter", "versions/who-shares-the-counter"),
)
def inplace_on_view_of_saved_output():
    """`view()` returns a view of `probs`, with its storage and version counter, and
    `SoftmaxBackward0` saved `probs` (softmax's gradient reads its output): the clamp is a write
    into the saved tensor.

    `flat.clamp_` bumps the counter shared by `flat` and `probs` to 1; `probs` gets `CopySlices`
    as its new `grad_fn`, so `probs.log()` is recorded on the changed values. The backward then
    reaches `SoftmaxBackward0` and unpacks its saved result at version 1: "which is output 0 of
    Softmax, is at version 1; expected version 0". `view`, `reshape` (when it can), `t()`,
    `transpose`, `[...]` indexing with slices, `unsqueeze` and `expand` all return views;
    `clone()`, `contiguous()` on a non-contiguous tensor and `reshape` when it must copy do not.
    """
    model = nn.Linear(5, 3)
    x, target = torch.randn(4, 5), torch.tensor([0, 2, 1, 0])
    probs = torch.softmax(model(x), dim=1)  # SoftmaxBackward0 saves probs, at version 0
    flat = probs.view(-1)  # a view: probs' storage and version counter
    flat.clamp_(min=1e-6)  # in place through the view: probs._version 0 -> 1
    nn.functional.nll_loss(probs.log(), target).backward()


@case(
    "versions/clamp-out-of-place",
    question="How do I clamp probabilities before a log without breaking the backward?",
    expect="Clamping out of place costs a copy and gives the same gradient as log_softmax.",
    outcome=Returns(
        {"probs.clamp(min=eps): weight got grad": True, "log_softmax equals log of softmax": True}
    ),
    see_also=("versions/inplace-on-view-of-saved-output",),
)
def clamp_out_of_place():
    """Write `probs.clamp(min=eps)` (out of place), or better, take `log_softmax`, which never
    forms the probabilities and needs no clamp.

    The out-of-place clamp allocates a new tensor: the saved softmax output keeps version 0,
    and `ClampMinBackward0` saves its input for its own mask. `log_softmax` computes log-probs
    directly and stably (its backward saves its own output), and is what `cross_entropy` uses.
    """
    model = nn.Linear(5, 3)
    x, target = torch.randn(4, 5), torch.tensor([0, 2, 1, 0])
    logits = model(x)
    probs = torch.softmax(logits, dim=1)
    loss = nn.functional.nll_loss(probs.clamp(min=1e-6).log(), target)  # out of place
    loss.backward()
    same = torch.allclose(torch.log_softmax(logits, 1), torch.softmax(logits, 1).log(), atol=1e-6)
    return {
        "probs.clamp(min=eps): weight got grad": model.weight.grad is not None,
        "log_softmax equals log of softmax": same,
    }
