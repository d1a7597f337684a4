"""Which tensors each op saves, and so which in-place change after the forward breaks backward.

A node saves what its derivative formula (PyTorch's ``derivatives.yaml``) reads: its output
(``exp``, ``sigmoid``, ``tanh``, ``relu``), its inputs (``mul``, ``sin``, ``pow``) or nothing
(``add``, ``sum``). Only an in-place change of a *saved* tensor trips the version check, and
two context managers change the rules: ``allow_mutation_on_saved_tensors`` (clone on write) and
``saved_tensors_hooks`` (no check at all).
"""

from __future__ import annotations

import re

import torch

from ..spec import Close, Raises, Returns, case, snapshot

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks"
_SAVED = "https://pytorch.org/docs/stable/notes/autograd.html#saved-tensors"
_DERIVATIVES = "https://github.com/pytorch/pytorch/blob/main/tools/autograd/derivatives.yaml"
_STALE = r"modified by an inplace operation"


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
    and lists which change made the backward raise. For an RNN, this depends on who computed
    the state: a hand-written `h = torch.tanh(...)` is a saved `tanh` output, and changing it in
    place breaks the backward; an `nn.RNN` returns `output` and `h_n` through `StackBackward0`,
    a copy of the per-step `tanh` results that saves nothing, so changing them in place does
    not (`versions/rnn-outputs-inplace`).
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
    question="Why does changing a in place after b = a * v break the backward, when b itself is untouched?",
    expect="b was already computed; changing a afterwards cannot matter to b's backward.",
    outcome=Raises(RuntimeError, _STALE),
    fix="versions/inplace-on-mul-output",
    see_also=(_INPLACE, "versions/which-ops-save-what", "versions/add-saves-nothing"),
)
def inplace_on_mul_input():
    """`MulBackward0` saved `a` to compute `v`'s gradient (d(a·v)/dv = a), at version 0;
    `a.add_(1)` bumps `a` to version 1 and the backward refuses the changed value.

    `mul`'s formula (`derivatives.yaml`: `self: grad * other`, `other: grad * self`) needs each
    operand for the other's gradient, so with both requiring grad the node saves both. The
    backward of `b.sum()` unpacks the saved `a`, sees version 1 against the recorded 0 and
    raises "... which is output 0 of Add, is at version 1; expected version 0": a saved *input*
    is named after its `grad_fn` *now*, and after `add_` that is the in-place add itself. The
    old values are gone (the add overwrote them in the same storage), so raising is the only
    correct answer: `v.grad` would silently be a + 1 instead of a. Predict the variation: with
    a `v` that does not require grad, `MulBackward0` does not save `a` at all (only `v`, for
    `a`'s gradient), and the same `a.add_(1)` breaks nothing.
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
    question="Can I change the output of a * v in place before the backward?",
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
    expect="As with a * v, the input a changed after the forward, so the backward raises.",
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
