"""Version counters: which in-place change breaks a backward, and what the two numbers mean.

Every tensor has a version counter that each in-place op bumps. A node that saves a tensor for
its backward records the version the tensor had then; unpacking it in the backward compares that
with the version now and raises "one of the variables needed for gradient computation has been
modified by an inplace operation: ... is at version N; expected version M". Whether an in-place
change breaks a backward therefore depends on one thing: did some node *save* that tensor?
"""

from __future__ import annotations

import re

import torch

from ..spec import Close, Raises, Returns, case, snapshot

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_SAVED = "https://pytorch.org/docs/stable/notes/autograd.html#saved-tensors"
_DERIVATIVES = "https://github.com/pytorch/pytorch/blob/main/tools/autograd/derivatives.yaml"
_STALE = r"modified by an inplace operation"
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")


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


_OPS = {
    "exp(a)": lambda a, w: a.exp(),
    "sigmoid(a)": lambda a, w: a.sigmoid(),
    "tanh(a)": lambda a, w: a.tanh(),
    "relu(a)": lambda a, w: a.relu(),
    "sin(a)": lambda a, w: a.sin(),
    "a * w": lambda a, w: a * w,
    "a * 2": lambda a, w: a * 2,
    "a + w": lambda a, w: a + w,
}


def _breaks(op, changed: str) -> bool:
    """Does an in-place change of op's input or output, after the forward, break its backward?"""
    w = torch.tensor([0.5, 1.0], requires_grad=True)
    a = w.clone()  # a non-leaf that requires grad: in-place on it is allowed
    y = op(a, w)
    (a if changed == "input" else y).add_(1)  # in-place: bumps the changed tensor's version
    try:
        y.sum().backward()
    except RuntimeError as exc:
        if re.search(_STALE, str(exc)):
            return True
        raise
    return False


@case(
    "versions/which-ops-save-what",
    question="Which in-place changes after the forward break the backward: of an op's input, or of its output?",
    expect="Any in-place change of a tensor in the graph breaks the backward.",
    outcome=Returns(
        {
            "exp(a)": ["output"],
            "sigmoid(a)": ["output"],
            "tanh(a)": ["output"],
            "relu(a)": ["output"],
            "sin(a)": ["input"],
            "a * w": ["input"],
            "a * 2": [],
            "a + w": [],
        }
    ),
    see_also=(
        _DERIVATIVES,
        _SAVED,
        "versions/inplace-on-saved-output",
        "versions/add-saves-nothing",
    ),
)
def which_ops_save_what():
    """Only a change to a tensor that some node *saved* breaks the backward, and each op saves
    what its derivative formula reads: its output, its inputs, or nothing.

    The formulas are in PyTorch's `derivatives.yaml`. `exp`: `grad * result`; `sigmoid`:
    `sigmoid_backward(grad, result)`; `tanh`: `tanh_backward(grad, result)`; `relu`:
    `threshold_backward(grad, result, 0)`: they read their *output* and save it
    (`grad_fn._saved_result`), so changing the output in place breaks the backward and changing
    the input does not. `sin`: `grad * self.cos()` reads the input (`_saved_self`). `mul`:
    `self: grad * other`, `other: grad * self`: each input is saved for the *other's* gradient,
    so an in-place change of `a` breaks `a * w` (`w`'s gradient needs `a`), while its output is
    saved by no one. `a * 2` saves only the wrapped constant 2 (`a`'s gradient needs `other`),
    and `add` saves no tensor (its gradient is `grad` itself): in-place on input or output is
    safe. The case runs each op twice, once changing `a` and once the output with `add_(1)`,
    and lists which change made the backward raise. For an RNN: the hidden state of an `nn.RNN`
    is a `tanh` output, so modifying it in place before the backward breaks it.
    """
    return {
        name: [changed for changed in ("input", "output") if _breaks(op, changed)]
        for name, op in _OPS.items()
    }


@case(
    "versions/inplace-on-saved-output",
    question="Why does y += 1 after y = a.exp() break the backward, when exp's gradient does not depend on the + 1?",
    expect="The += 1 is recorded in the graph like any op, so backward goes through it and then through exp.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/out-of-place-instead",
    see_also=(_INPLACE, "versions/which-ops-save-what"),
)
def inplace_on_saved_output():
    """`ExpBackward0` saved `y` itself (exp's gradient is `grad * result`), at version 0; the
    in-place `+= 1` overwrote those values and bumped `y` to version 1.

    The in-place op *is* recorded: `y`'s `grad_fn` becomes `AddBackward0`, whose input edge
    leads to `ExpBackward0`, so the graph is right. The values are not: `ExpBackward0` would
    multiply by `y` = exp(a) + 1 instead of exp(a). It cannot know that from the graph, only
    from the version counter: the saved `result` recorded version 0, `y._version` is 1, and
    unpacking it raises "... which is output 0 of Exp, is at version 1; expected version 0" (torch
    2.13 names the node without its `Backward0` suffix). An output saved by its own node is named
    after that node, not after the in-place op that followed; a saved *input* is named after
    its current `grad_fn` (`versions/inplace-on-mul-input`). The same happens with `sigmoid`, `tanh`, `relu`, `sqrt`.
    """
    a = torch.tensor([0.0, 1.0], requires_grad=True)
    y = a.exp()  # ExpBackward0 saves its output y, at version 0
    y += 1  # in place on the saved output: y._version 0 -> 1
    snapshot("after the in-place change", y)
    y.sum().backward()


@case(
    "versions/out-of-place-instead",
    question="How do I add 1 to the output of exp without breaking its backward?",
    expect="y = y + 1 is the same operation as y += 1, so it fails the same way.",
    outcome=Returns({"a.grad": Close(torch.tensor([1.0, 2.718282])), "saved result version": 0}),
    see_also=("versions/inplace-on-saved-output",),
)
def out_of_place_instead():
    """Write `y = y + 1`: a new tensor, so the one `ExpBackward0` saved keeps its values and its
    version 0, and the gradient is exp(a) as it should be.

    The out-of-place add allocates a new tensor and rebinds the name `y`; the old tensor (the
    one saved as `_saved_result`) is unchanged and still at version 0. The backward runs
    `AddBackward0` (gradient 1) then `ExpBackward0` (`grad * result` = exp(a) = [1, e]).
    """
    a = torch.tensor([0.0, 1.0], requires_grad=True)
    y = a.exp()  # saves its output at version 0
    y = y + 1  # out of place: a new tensor; the saved one is untouched
    saved_version = y.grad_fn.next_functions[0][0]._saved_result._version
    y.sum().backward()
    return {"a.grad": a.grad, "saved result version": saved_version}


@case(
    "versions/inplace-on-mul-input",
    question="Why does changing a in place after b = a * w break the backward, when b itself is untouched?",
    expect="b was already computed; changing a afterwards cannot matter to b's backward.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/inplace-on-mul-output",
    see_also=(_INPLACE, "versions/which-ops-save-what", "versions/add-saves-nothing"),
)
def inplace_on_mul_input():
    """`MulBackward0` saved `a` to compute `w`'s gradient (d(a·w)/dw = a), at version 0;
    `a.add_(1)` bumps `a` to version 1 and the backward refuses the changed value.

    `mul`'s formula (`derivatives.yaml`: `self: grad * other`, `other: grad * self`) needs each
    operand for the other's gradient, so with both requiring grad the node saves both. The
    backward of `b.sum()` unpacks the saved `a`, sees version 1 against the recorded 0 and
    raises "... which is output 0 of Add, is at version 1; expected version 0": a saved *input*
    is named after its `grad_fn` *now*, and after `add_` that is the in-place add itself. The
    old values are gone (the add overwrote them in the same storage), so raising is the only
    correct answer: the gradient of `w` would silently be a + 1 instead of a.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0, 4.0], requires_grad=True)
    a = w.clone()  # a non-leaf requiring grad: in-place on it is allowed
    b = a * v  # MulBackward0 saves a (for v's gradient) and v (for a's)
    a.add_(1)  # in place on a saved input: a._version 0 -> 1
    snapshot("after the in-place change of a", b)
    b.sum().backward()


@case(
    "versions/inplace-on-mul-output",
    question="Can I change the output of a * w in place before the backward?",
    expect="No: as with a, an in-place change of anything in the graph breaks the backward.",
    outcome=Returns({"w.grad": torch.tensor([3.0, 4.0]), "v.grad": torch.tensor([1.0, 2.0])}),
    see_also=("versions/inplace-on-mul-input", "versions/which-ops-save-what"),
)
def inplace_on_mul_output():
    """Yes: `MulBackward0` saved its inputs, not its output, so an in-place change of `b` bumps
    a counter that no saved tensor recorded.

    `b.add_(1)` rewires `b`'s `grad_fn` to `AddBackward0` (gradient 1) with an edge to
    `MulBackward0`, and bumps `b._version` to 1. No node saved `b`, so the backward checks
    nothing about it: `MulBackward0` unpacks `a` and `v`, both at their recorded version 0, and
    the gradients are the right ones, d/dw = v = [3, 4] and d/dv = a = [1, 2].
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([3.0, 4.0], requires_grad=True)
    a = w.clone()
    b = a * v  # saves a and v, not b
    b.add_(1)  # in place on the output: nobody saved b
    b.sum().backward()
    return {"w.grad": w.grad, "v.grad": v.grad}


@case(
    "versions/add-saves-nothing",
    question="Why does changing a in place after c = a + w not break the backward?",
    expect="As with a * w, the input a changed after the forward, so the backward raises.",
    outcome=Returns(
        {"a._version": 1, "saved tensors of AddBackward0": [], "w.grad": torch.tensor([2.0, 2.0])}
    ),
    see_also=("versions/which-ops-save-what", "versions/inplace-on-mul-input"),
)
def add_saves_nothing():
    """The gradient of a sum does not depend on the summands' values, so `AddBackward0` saves
    no tensor, and no version is ever compared.

    `add`'s formula is `self: grad`, `other: grad` (times `alpha`, a Python scalar kept as is).
    `a.add_(1)` still bumps `a` to version 1, but the counter is only read when a saved tensor
    is unpacked, and this node has none. `w` reaches the sum twice, once through `a` (a clone:
    gradient 1) and once directly: `w.grad` = 1 + 1 = 2. Whether an in-place change is safe is a
    property of the *nodes that consumed the tensor*, not of the tensor.
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    a = w.clone()
    c = a + w  # AddBackward0: needs no values from the forward
    a.add_(1)  # in place on an input nobody saved: bumps a's counter, harmless here
    node = c.grad_fn
    saved = [k for k in dir(node) if k.startswith("_saved_") and torch.is_tensor(getattr(node, k))]
    c.sum().backward()
    return {"a._version": a._version, "saved tensors of AddBackward0": saved, "w.grad": w.grad}


@case(
    "versions/no-grad-inplace-still-bumps",
    question="Why does updating the weights under torch.no_grad() before backward break it?",
    expect="Under no_grad nothing is recorded, so the update is invisible to autograd.",
    outcome=Raises(RuntimeError, r"is at version 1; expected version 0"),
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
    outcome=Returns(
        {
            "SGD, _version after 0..3 steps": [0, 1, 2, 3],
            "SGD with momentum": [0, 1, 2, 3],
            "Adam": [0, 1, 2, 3],
            "nn.Linear parameters before any step": [1, 1],
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/optim.html",
        "rnn-state/retain-graph-versions",
        "versions/no-grad-inplace-still-bumps",
    ),
)
def optimizer_step_bumps_version():
    """Each step writes each parameter in place once, so each step bumps its version by one; a
    module's parameters start at 1 because their initialisation is an in-place write too.

    SGD's update is `param.add_(grad, alpha=-lr)`; with momentum the buffer is updated in place
    and then added to the parameter with one `add_`; Adam ends with one `addcdiv_` on the
    parameter. The buffers have counters of their own; the parameter's counter moves by one per
    step in all three (on CPU, the single-tensor path). Training in the right order (forward,
    backward, step) is never affected: each forward saves the parameters at their current
    version. Only a graph kept across a step sees the difference, which is the RNN with
    `retain_graph=True` (`rnn-state/retain-graph-versions`). `nn.Linear` runs
    `init.kaiming_uniform_` and `init.uniform_` under `no_grad` when constructed, hence 1.
    """
    versions = {}
    for name, make in [
        ("SGD, _version after 0..3 steps", lambda p: torch.optim.SGD(p, lr=0.1)),
        ("SGD with momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("Adam", lambda p: torch.optim.Adam(p, lr=0.1)),
    ]:
        w = torch.nn.Parameter(torch.randn(3))
        optimizer = make([w])
        seen = [w._version]
        for _ in range(3):
            optimizer.zero_grad()  # set .grad to None: each step sees only this loss
            (w * w).sum().backward()  # forward then backward: saved w is current
            optimizer.step()  # in place on w: one bump
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


@case(
    "versions/allow-mutation-on-saved-tensors",
    question="Can I keep the in-place y += 1 after y = a.exp() and still get the right gradient?",
    expect="No: an in-place change of a saved tensor always breaks the backward.",
    outcome=Returns({"a.grad": Close(torch.tensor([1.0, 2.718282]))}),
    see_also=(
        "https://pytorch.org/docs/stable/autograd.html#torch.autograd.graph.allow_mutation_on_saved_tensors",
        "versions/inplace-on-saved-output",
        "versions/saved-tensor-hooks-skip-the-check",
    ),
)
def allow_mutation_on_saved_tensors():
    """Yes, inside `torch.autograd.graph.allow_mutation_on_saved_tensors()`: a tensor saved for
    backward is *cloned* just before an in-place op mutates it, and the backward uses the clone.

    The context installs saved-tensor hooks (each saved tensor is packed as a handle to the
    original, keyed by its storage and version) and a dispatch mode that sees every op: before
    an op that writes one of its arguments runs on a tensor that was saved, it clones the
    original and points the handle at the clone. `ExpBackward0` then
    unpacks the copy, exp(a) = [1, e], not y = exp(a) + 1, so the gradient is right. The price is
    one copy per mutated saved tensor, and both the forward and the backward must run inside the
    context. It is the explicit, memory-costing version of `y = y + 1`
    (`versions/out-of-place-instead`).
    """
    a = torch.tensor([0.0, 1.0], requires_grad=True)
    with torch.autograd.graph.allow_mutation_on_saved_tensors():  # forward and backward inside
        y = a.exp()  # saves y
        y += 1  # in place on the saved y: the context clones the original first
        y.sum().backward()
    return {"a.grad": a.grad}


@case(
    "versions/saved-tensor-hooks-skip-the-check",
    question="Why does an in-place change of a saved tensor not raise under saved_tensors_hooks?",
    expect="The hooks only change how the tensor is stored; the version check still protects the backward.",
    outcome=Returns(
        {
            "raised": False,
            "a._version": 1,
            "w.grad": torch.tensor([4.0, 6.0]),
            "the right gradient 2·w": torch.tensor([2.0, 4.0]),
        }
    ),
    see_also=(
        "https://pytorch.org/docs/stable/notes/autograd.html#saved-tensors-hooks-doc",
        "versions/allow-mutation-on-saved-tensors",
        "detach/data-inplace-silently-wrong-grad",
    ),
)
def saved_tensor_hooks_skip_the_check():
    """With a pack hook, autograd stores whatever the hook returns, and it checks versions only
    for tensors it stored itself: an identity hook hands the backward the mutated tensor, unchecked.

    `SavedVariable::unpack` in PyTorch compares the saved version with the current one "only in
    the case without hooks" (the comment in `saved_variable.cpp`): once a pack hook has turned
    the tensor into an arbitrary object, autograd cannot know what a version of it would mean.
    The identity hooks here return the very tensor `a`; `a.add_(1)` bumps its counter to 1 and
    nobody looks. `PowBackward0` computes 2·a with the new a = w + 1, so `w.grad` is [4, 6]
    instead of [2, 4], silently: the same failure mode as writing through `.data`. Hooks that
    *copy* when packing (to a GPU's host memory, to disk) are immune to later writes; hooks that
    keep a reference are not, and that includes `torch.autograd.graph.save_on_cpu()` for a
    tensor already on the CPU: its pack hook returns `tensor.cpu()`, which for a CPU tensor is
    the tensor itself (the project's tests show the same [4, 6] under it).
    """
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    raised = False
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):  # identity hooks
        a = w.clone()
        y = a.pow(2)  # the pack hook receives a and returns it: a reference, no version kept
    a.add_(1)  # in place on the saved tensor: bumps a's counter, which nobody will compare
    try:
        y.sum().backward()
    except RuntimeError:
        raised = True
    return {
        "raised": raised,
        "a._version": a._version,
        "w.grad": w.grad,
        "the right gradient 2·w": 2 * w.detach(),
    }
