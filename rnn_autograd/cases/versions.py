"""Version counters: what bumps them, who shares them, and what the two numbers mean.

Every tensor has a version counter that each in-place write bumps: your ``+=``, an optimizer's
``step()``, an initialiser under ``no_grad``, a write through a view. A node that saves a tensor
for its backward records the version the tensor had then; unpacking it in the backward compares
that with the version now and raises "one of the variables needed for gradient computation has
been modified by an inplace operation: ... is at version N; expected version M". Which ops save
which tensors, and so which in-place change breaks a backward, is in ``versions_by_op``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ..spec import ByTorch, Raises, Returns, case, snapshot

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_STALE = r"modified by an inplace operation"
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")
_STEP_VERSIONS = {
    "SGD, _version after 0..3 steps": [0, 1, 2, 3],
    "SGD with momentum": [0, 1, 2, 3],
    "Adam": [0, 1, 2, 3],
    "AdamW (weight_decay=0.01, the default)": [0, 2, 4, 6],
    "AdamW with weight_decay=0": [0, 1, 2, 3],
    "nn.Linear parameters before any step": [1, 1],
}


@case(
    "versions/detach-then-inplace",
    question="What happens to _version and requires_grad when the notebook detaches x1 in place and adds 1, twice?",
    expect="detach_() makes a fresh tensor, so the version starts over, and requires_grad stays as created.",
    outcome=Returns(
        {
            "_version: start, after detach_, after += 1, after requires_grad_/detach_/+= 1": [
                0,
                0,
                1,
                2,
            ],
            "requires_grad after detach_": False,
            "requires_grad after requires_grad_()": True,
            "is_leaf throughout": True,
            "x1": torch.tensor([3.0]),
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/generated/torch.Tensor.detach_.html",
        "detach/detach-in-place-same-object",
        "versions/message-numbers",
    ),
)
def detach_then_inplace():
    """The version counter counts in-place writes to the tensor's data over its whole life;
    `detach_()` and `requires_grad_()` change autograd metadata, not data, so they bump nothing.

    `x1` is a leaf created with `requires_grad=True`: version 0. `x1.detach_()` drops the
    autograd metadata (`requires_grad` becomes False; a leaf stays a leaf) and leaves the data and
    its counter alone: still 0. Only then is `x1 += 1` allowed: on a leaf that requires grad it
    raises "a leaf Variable that requires grad is being used in an in-place operation", which is
    why the notebook detaches first. `+=` on a tensor is `add_`, an in-place op: version 1.
    `requires_grad_()` turns the flag back on (a leaf may require grad again), version unchanged;
    the second `detach_()` and `+= 1` give version 2 and the value 1 + 1 + 1 = 3. The counter
    never resets and no op makes it "1 again": a version is only ever compared with the version
    recorded when a graph saved the tensor (`versions/message-numbers`).
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    versions = [x1._version]
    x1.detach_()  # drops autograd metadata in place; data and counter untouched
    versions.append(x1._version)
    detached_flag = x1.requires_grad
    x1 += 1  # in-place add_: allowed now that x1 no longer requires grad; bumps the counter
    versions.append(x1._version)
    x1.requires_grad_()  # the flag only; no data written
    flag_again = x1.requires_grad
    x1.detach_()  # off again, so that the in-place add is allowed
    x1 += 1  # in-place: second bump
    versions.append(x1._version)
    return {
        "_version: start, after detach_, after += 1, after requires_grad_/detach_/+= 1": versions,
        "requires_grad after detach_": detached_flag,
        "requires_grad after requires_grad_()": flag_again,
        "is_leaf throughout": x1.is_leaf,
        "x1": x1,
    }


@case(
    "versions/no-grad-inplace-still-bumps",
    question="Why does updating the weights under torch.no_grad() before backward break it?",
    expect="Under no_grad nothing is recorded, so the update is invisible to autograd.",
    outcome=Raises(RuntimeError, r"modified by an inplace operation"),
    fix="versions/optimizer-step-bumps-version",
    see_also=(_INPLACE, "versions/optimizer-step-bumps-version", "detach/update-after-backward"),
)
def no_grad_inplace_still_bumps():
    """`no_grad` stops ops from being *recorded*; it does not stop the version counter, which
    every in-place write bumps, so the saved weight is found changed.

    `loss = (w * w).sum()` saves `w` (twice, in `MulBackward0`) at version 0. Under `no_grad`,
    `w.sub_(...)` creates no node (a leaf that requires grad may be written in place there; that
    is how optimizers update), but it writes `w`'s storage and bumps `w._version` to 1. The
    backward unpacks the saved `w`: "[torch.FloatTensor [2]] is at version 1; expected version
    0" (no "output of" clause: `w` is a leaf, it has no `grad_fn` to name). The order that works
    is forward, backward, then update (`versions/optimizer-step-bumps-version`).
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()  # saves w at version 0
    with torch.no_grad():  # an update must not be recorded; it is still an in-place write
        w.sub_(0.1 * torch.ones(2))  # bumps w._version to 1
    snapshot("after the update, before backward", loss)
    loss.backward()


@case(
    "versions/optimizer-step-bumps-version",
    question="What does optimizer.step() do to a parameter's _version?",
    expect="The optimizer runs under no_grad, so autograd's counters do not change.",
    outcome=ByTorch(
        {
            "<2.7": Returns({**_STEP_VERSIONS, "AdamW with weight_decay=0": [0, 2, 4, 6]}),
            ">=2.7": Returns(_STEP_VERSIONS),
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/optim.html",
        "rnn-state/retain-graph-versions",
        "versions/no-grad-inplace-still-bumps",
    ),
)
def optimizer_step_bumps_version():
    """Each step bumps a parameter's version once per in-place write of it: one for SGD and
    Adam, two for AdamW with weight decay; a module's parameters start at 1 because their
    initialisation is an in-place write too.

    SGD's update is `param.add_(grad, alpha=-lr)`; with momentum the buffer is updated in place
    and then added to the parameter with one `add_`; Adam ends with one `addcdiv_` on the
    parameter. AdamW first applies its decoupled weight decay, `param.mul_(1 - lr *
    weight_decay)`, then the same `addcdiv_`: two writes per step with its default
    `weight_decay=0.01`, one with `weight_decay=0` (the decay is skipped). The buffers have
    counters of their own (on CPU, the single-tensor path). So the gap between the two numbers
    of "is at version N; expected version M" counts writes, not steps. Training in the right order (forward,
    backward, step) is never affected: each forward saves the parameters at their current
    version. Only a graph kept across a step sees the difference, which is the RNN with
    `retain_graph=True` (`rnn-state/retain-graph-versions`). `nn.Linear` runs
    `init.kaiming_uniform_` and `init.uniform_` under `no_grad` when constructed, hence 1.

    torch 2.2.2's single-tensor AdamW runs `param.mul_(1 - lr * weight_decay)` unconditionally,
    so even `weight_decay=0` writes twice per step (a multiplication by 1 is still a write);
    2.7.1 implements AdamW as Adam with `decoupled_weight_decay=True`, whose step skips the
    decay when `weight_decay == 0`. The skip appeared between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    versions = {}
    for name, make in [
        ("SGD, _version after 0..3 steps", lambda p: torch.optim.SGD(p, lr=0.1)),
        ("SGD with momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("Adam", lambda p: torch.optim.Adam(p, lr=0.1)),
        ("AdamW (weight_decay=0.01, the default)", lambda p: torch.optim.AdamW(p, lr=0.1)),
        ("AdamW with weight_decay=0", lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0)),
    ]:
        w = torch.nn.Parameter(torch.randn(3))
        optimizer = make([w])
        seen = [w._version]
        for _ in range(3):
            optimizer.zero_grad()  # set .grad to None: each step sees only this loss
            (w * w).sum().backward()  # forward then backward: saved w is current
            optimizer.step()  # in place on w: one bump per write
            seen.append(w._version)
        versions[name] = seen
    versions["nn.Linear parameters before any step"] = [
        p._version for p in torch.nn.Linear(3, 3).parameters()
    ]
    return versions


@case(
    "versions/view-shares-counter",
    question="Why does changing one row of a in place break the backward of a.pow(2)?",
    expect="The row is a separate tensor (a[0]); a itself was not modified.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/who-shares-the-counter",
    see_also=(_INPLACE, "versions/who-shares-the-counter", "detach/detach-in-place-on-view"),
)
def view_shares_counter():
    """`a[0]` is a view: it shares `a`'s storage *and* `a`'s version counter, so writing through
    it is writing to `a`, and `PowBackward0` finds its saved `a` at version 1.

    `y = a.pow(2)` saves `a` at version 0. `row = a[0]` makes a view (no copy). `row.mul_(3)`
    bumps the counter shared by every view of the same base: `row._version` and `a._version`
    are both 1. Autograd also rebases `a`'s history (its `grad_fn` becomes `CopySlices`, which
    the message names: "output 0 of torch::autograd::CopySlices"), and unpacking the saved `a`
    fails. In an RNN, `out[-1]` (the last time step) is such a view of `out`; writing into it
    in place breaks any node that saved `out`.
    """
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = w.clone()
    y = a.pow(2)  # PowBackward0 saves a at version 0
    row = a[0]  # a view: same storage, same version counter
    row.mul_(3)  # bumps the shared counter: a._version is 1 too
    snapshot("after writing through the view", y)
    y.sum().backward()


@case(
    "versions/who-shares-the-counter",
    question="Which tensors derived from a share its version counter: a view, detach(), .data, clone()?",
    expect="detach() and .data are the same thing, and neither shares anything with a but storage.",
    outcome=Returns(
        {
            "a._version after an in-place add through a[0:1]": 1,
            "... through a.detach()": 1,
            "... through a.data": 0,
            "... through a.clone()": 0,
            "backward after changing the clone": "ok",
        }
    ),
    see_also=(
        "versions/view-shares-counter",
        "detach/inplace-on-detached-breaks-backward",
        "detach/data-inplace-silently-wrong-grad",
    ),
)
def who_shares_the_counter():
    """Views and `detach()` share the counter (and the storage); `.data` shares the storage but
    *not* the counter; `clone()` shares neither, which is the fix for changing a copy safely.

    A version counter belongs to the storage family that autograd knows about: a view and a
    detached tensor are created *by* autograd-aware code that hands them the base's counter, so
    their in-place writes are seen. `.data` is the legacy escape hatch: same storage, fresh
    counter, so a write through it changes the values a node saved without any bump. The check
    is bypassed and the backward silently uses the new values
    (`detach/data-inplace-silently-wrong-grad`). `clone()` copies the data into new storage with
    its own counter: changing the clone touches nothing any node saved, so a backward through
    `a.pow(2)` still works.
    """
    observed = {}
    for label, derive in [
        ("a._version after an in-place add through a[0:1]", lambda a: a[0:1]),
        ("... through a.detach()", lambda a: a.detach()),
        ("... through a.data", lambda a: a.data),
        ("... through a.clone()", lambda a: a.clone()),
    ]:
        a = torch.tensor([1.0, 2.0], requires_grad=True).clone()
        with torch.no_grad():  # write through the derived tensor without recording it
            derive(a).add_(1)  # in place: bumps whichever counter the derived tensor has
        observed[label] = a._version
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    a = w.clone()
    y = a.pow(2)  # saves a
    copy = a.clone()
    copy.add_(1)  # in place on new storage with its own counter: a is untouched
    y.sum().backward()
    observed["backward after changing the clone"] = "ok"
    return observed


@case(
    "versions/message-numbers",
    question="What are the two numbers in 'is at version N; expected version M'?",
    expect="M is always 0 (or 1) and N is M + 1.",
    outcome=Returns({"is at version": 3, "expected version": 1, "a._version now": 3}),
    see_also=(_INPLACE, "rnn-state/retain-graph-versions", "rnn-state/retain-graph-after-39-steps"),
)
def message_numbers():
    """M is the version the tensor had when the node saved it, N its version when the backward
    unpacked it; N − M is the number of in-place writes in between, and neither has to be 0 or 1.

    `a` is written once before the forward (version 1), so `PowBackward0` records 1. Two more
    in-place ops (`add_`, `mul_`) bring it to 3. The backward raises "is at version 3; expected
    version 1", which the case reads back from the message. Any in-place op counts, whatever its
    effect on the values (`mul_(1)` would count too): the counter tracks writes, not changes.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    a = w.clone()
    a.add_(1)  # before the forward: version 1, which is what gets recorded
    y = a.pow(2)  # PowBackward0 saves a at version 1
    a.add_(1)  # version 2
    a.mul_(2)  # version 3
    try:
        y.sum().backward()
    except RuntimeError as exc:
        now, saved = (int(n) for n in _VERSIONS.search(str(exc)).groups())
    return {"is at version": now, "expected version": saved, "a._version now": a._version}


def _state_change_breaks(make) -> bool:
    """Does an in-place change of the state ``make`` returns, before the backward, break it?"""
    x = torch.randn(3, 1, 2)  # (T, B, input)
    out, h = make(x)
    h.mul_(0.5)  # in place on the returned state: bumps its version
    try:
        (out.sum() + h.sum()).backward()
    except RuntimeError as exc:
        if re.search(_STALE, str(exc)):
            return True
        raise
    return False


def _hand_written(x):
    w = torch.randn(2, 2, requires_grad=True)
    h = torch.zeros(1, 2)
    outs = []
    for x_t in x:
        h = torch.tanh(x_t @ w + h)  # TanhBackward0 saves this h, its output
        outs.append(h)
    return torch.stack(outs), h


@case(
    "versions/rnn-outputs-inplace",
    question="Does changing the hidden state an RNN returned in place break the backward?",
    expect="The state is a tanh output, and tanh saves its output, so it always breaks.",
    outcome=Returns(
        {
            "nn.RNN: h_n changed in place": False,
            "nn.RNN: h_n's grad_fn": "StackBackward0",
            "hand-written tanh cell: h changed in place": True,
        }
    ),
    see_also=("versions/which-ops-save-what", "versions/inplace-on-saved-output"),
)
def rnn_outputs_inplace():
    """Only when the state *is* the saved `tanh` output: a hand-written cell returns it, but
    `nn.RNN` returns `h_n` (and `output`) through `StackBackward0`, a copy that saves nothing.

    `nn.RNN` (CPU, tanh) computes each step's `tanh(...)` and then stacks the steps into
    `output` and the last step of each layer into `h_n`. `stack` writes the values into a new
    tensor, and its derivative (`derivatives.yaml`: the incoming gradient unbound along the
    stacked dimension) needs no values, so `StackBackward0` saves no tensor. `h_n.mul_(0.5)`
    bumps `h_n`'s version, which no node recorded; the `TanhBackward0` nodes inside saved their
    own per-step outputs, which the stack copied and nobody changed. The hand-written loop
    returns the last `tanh` output itself, the tensor its `TanhBackward0` saved, and the same
    `mul_` raises "which is output 0 of Tanh". Whether a change is safe is a property of the
    nodes that saved the tensor, not of what it means.
    """
    rnn = nn.RNN(2, 2)
    out, h_n = rnn(torch.randn(3, 1, 2))
    return {
        "nn.RNN: h_n changed in place": _state_change_breaks(lambda x: nn.RNN(2, 2)(x)),
        "nn.RNN: h_n's grad_fn": type(h_n.grad_fn).__name__,
        "hand-written tanh cell: h changed in place": _state_change_breaks(_hand_written),
    }
