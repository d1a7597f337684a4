"""Tensor hooks: register_hook, what a hook may return, post-accumulate-grad hooks."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_HOOKS = "https://pytorch.org/docs/stable/notes/autograd.html#backward-hooks-execution"
_REGISTER = "https://pytorch.org/docs/stable/generated/torch.Tensor.register_hook.html"


@case(
    "hooks/hook-on-tensor-without-grad",
    question="Why does register_hook fail with 'cannot register a hook on a tensor that doesn't require gradient'?",
    expect="A hook on the input batch is called with its gradient during backward.",
    outcome=Raises(
        RuntimeError, r"cannot register a hook on a tensor that doesn't require gradient"
    ),
    fix="hooks/hook-replaces-gradient",
    see_also=(_REGISTER, "backward-api/grad-wrt-input-not-requiring-grad"),
)
def hook_on_tensor_without_grad():
    """A tensor hook runs when a gradient *for that tensor* is computed; a tensor that does not
    require grad never gets one, so `register_hook` refuses instead of registering a hook that
    can never fire.

    `Tensor.register_hook` checks `requires_grad` first. For a tensor that does require grad it
    attaches the hook to the tensor's gradient edge: a non-leaf's `grad_fn` (run on the
    gradient flowing into that output), a leaf's `AccumulateGrad` node (run before the
    gradient is accumulated). An input batch or a target is plain data: no edge, no hook. Mark
    it with `requires_grad_()` before the forward, or hook the first op's output instead.
    """
    model = torch.nn.Linear(3, 1)
    x = torch.tensor([[1.0, 2.0, 3.0]])  # plain data
    x.register_hook(lambda grad: print(grad))
    model(x).sum().backward()


@case(
    "hooks/hook-replaces-gradient",
    question="What does a tensor hook's return value do to the gradients?",
    outcome=Returns(
        {
            "hook saw": torch.tensor([3.0, -4.0]),
            "x.grad (clamped by the hook)": torch.tensor([2.0, -2.0]),
        }
    ),
    see_also=("hooks/hook-changes-shape", _HOOKS),
)
def hook_replaces_gradient():
    """A hook on `h` is called with the gradient flowing into `h`; if it returns a tensor, that
    tensor replaces the gradient for everything upstream (it must have the same shape and
    dtype), and returning `None` keeps it.

    `h = x * k` with `k = (3, -4)`: the gradient of `h.sum()` flowing into `h` is ones, and
    `MulBackward0` turns it into `k` for `x`. The hook on the leaf `x` runs on that gradient
    before `AccumulateGrad`: it sees `(3, -4)` and returns it clamped to `[-2, 2]`, which is what
    is added into `x.grad`. A hook on a non-leaf (`h.register_hook`) would act one step earlier,
    on the ones, and change what every node upstream of `h` receives. Hooks do not make a
    non-leaf keep its gradient (use `retain_grad` for that). This is how per-tensor gradient
    clipping is written.
    """
    x = torch.tensor([1.0, 1.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()) or g.clamp(-2.0, 2.0))
    h = x * torch.tensor([3.0, -4.0])
    h.sum().backward()
    return {"hook saw": seen[0], "x.grad (clamped by the hook)": x.grad}


@case(
    "hooks/hook-changes-shape",
    question="Why does a gradient hook fail with \"hook '<lambda>' has changed the size of value\"?",
    expect="A hook may return any tensor, e.g. the gradient's norm for logging.",
    outcome=Raises(RuntimeError, r"hook '.*' has changed the size of value"),
    fix="hooks/hook-replaces-gradient",
    see_also=(_REGISTER,),
)
def hook_changes_shape():
    """What a hook returns *is* the new gradient, and the engine checks it against the old one:
    a hook that returns a summary (a norm, a sum) instead of `None` replaces a `(3,)` gradient by
    a 0-dim one, and the check refuses it.

    After calling a tensor hook, autograd's `check_single_result` compares the returned tensor
    with the one passed in: same size, then same type (dtype and device; a `.double()` fails
    with "has changed the type of value"). A Python number fails earlier, with "expected
    Variable, but hook returned 'float'". To log, return nothing: `lambda g: log(g.norm())` where
    `log` returns `None`.
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.norm())  # returns a 0-dim tensor: the new "gradient"
    y.sum().backward()


@case(
    "hooks/hook-changes-dtype",
    question="Why does a gradient hook fail with \"hook '<lambda>' has changed the type of value\"?",
    expect="A hook can compute the gradient in double precision and return it.",
    outcome=Raises(RuntimeError, r"hook '.*' has changed the type of value"),
    fix="hooks/hook-replaces-gradient",
    see_also=("hooks/hook-changes-shape",),
)
def hook_changes_dtype():
    """The gradient returned by a hook replaces the old one in place in the engine's buffer, so
    it must be of the same tensor type (dtype and device) as the one it replaces.

    `check_single_result` checks size first (`hooks/hook-changes-shape`), then the type: a
    `float32` gradient replaced by a `float64` one would make the next node receive a dtype it
    did not produce in the forward. Compute in double inside the hook if you need to, and
    convert back: `lambda g: g.double().clamp(-1, 1).to(g.dtype)`.
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.double())
    y.sum().backward()


@case(
    "hooks/hook-returns-number",
    question="Why does a gradient hook fail with \"expected Variable, but hook returned 'float'\"?",
    expect="A hook returning a number scales the gradient by it.",
    outcome=Raises(TypeError, r"expected Variable, but hook returned"),
    fix="hooks/hook-replaces-gradient",
    see_also=("hooks/hook-changes-shape",),
)
def hook_returns_number():
    """A tensor hook's return value must be `None` or a tensor: the engine puts it in place of
    the gradient tensor, and a Python number is not one.

    The Python wrapper around tensor hooks (`PyFunctionTensorPreHook`) checks the type of what
    the hook returned before any size or dtype check; anything that is not `None` or a tensor
    is a `TypeError` ("Variable" is the old name of a tensor that takes part in autograd). To
    scale the gradient, return `g * 0.5`.
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: 0.5)  # a number, not a tensor
    y.sum().backward()


@case(
    "hooks/post-accumulate-hook-on-non-leaf",
    question="Why does register_post_accumulate_grad_hook fail with 'cannot be registered on non-leaf tensors'?",
    expect="The hook runs once the tensor's gradient is ready, for any tensor.",
    outcome=Raises(
        RuntimeError, r"post accumulate grad hooks cannot be registered on non-leaf tensors"
    ),
    fix="hooks/post-accumulate-hook-steps-in-backward",
    see_also=(_HOOKS,),
)
def post_accumulate_hook_on_non_leaf():
    """ "Post accumulate" means after `AccumulateGrad` has added into `.grad`, and only leaves
    have an `AccumulateGrad` node: a non-leaf's gradient flows on to its `grad_fn` and is never
    accumulated anywhere.

    `register_post_accumulate_grad_hook` exists to act on a parameter as soon as its `.grad` is
    final (an optimizer step inside backward, to free each gradient early). A parameter moved
    or cast after creation (`w = torch.randn(3, requires_grad=True).double()`) is such a
    non-leaf too: the leaf is the float tensor behind it. Hook the leaf, or make the cast
    before `requires_grad_()`.
    """
    w = torch.randn(3, requires_grad=True).double()  # the cast is an op: w is not a leaf
    w.register_post_accumulate_grad_hook(lambda p: None)


@case(
    "hooks/post-accumulate-hook-returns-value",
    question="Why does a post-accumulate-grad hook fail with 'Tensor post accumulate grad hooks should return None'?",
    expect="Returning the modified gradient from the hook replaces p.grad.",
    outcome=Raises(RuntimeError, r"Tensor post accumulate grad hooks should return None"),
    fix="hooks/post-accumulate-hook-steps-in-backward",
    see_also=("hooks/post-accumulate-hook-on-non-leaf",),
)
def post_accumulate_hook_returns_value():
    """A post-accumulate hook is called with the *parameter*, after its `.grad` is final; there
    is no gradient left to replace, so anything but `None` is rejected.

    Unlike `register_hook` (called with the gradient, may return a replacement), this hook gets
    the leaf tensor itself and works through side effects: read or change `p.grad` in place, or
    step `p` under `no_grad`. Returning `p.grad` looks harmless but is refused by the check that
    runs after the hook.
    """
    w = torch.ones(3, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda p: p.grad)
    (w * 2).sum().backward()


@case(
    "hooks/post-accumulate-hook-steps-in-backward",
    question="How do I update each parameter as soon as its gradient is ready, inside backward?",
    outcome=Returns({"w after backward": torch.tensor([0.8, 0.8, 0.8]), "w.grad": None}),
    see_also=("hooks/post-accumulate-hook-on-non-leaf", _HOOKS),
)
def post_accumulate_hook_steps_in_backward():
    """Register the hook on the leaf; inside it, update the parameter under `no_grad` and drop
    its gradient: the step happens during backward, and no `.grad` outlives it.

    The engine runs `AccumulateGrad` for `w` (here `.grad = 2` per element), then the hook with
    `w` itself. The in-place update must run under `no_grad`: `w` is a leaf that requires grad
    (see `grad-mode/leaf-inplace-outside-no-grad`). Setting `p.grad = None` frees the gradient
    at once, which is what makes this pattern save memory in large models.
    """
    w = torch.ones(3, requires_grad=True)

    def sgd_step(p):
        with torch.no_grad():  # an update of a leaf is not part of any graph
            p.sub_(0.1 * p.grad)  # in-place on the leaf: the update itself
        p.grad = None  # the gradient is used: free it now

    w.register_post_accumulate_grad_hook(sgd_step)
    (w * 2).sum().backward()
    return {"w after backward": w.detach().clone(), "w.grad": w.grad}


@case(
    "hooks/node-hook-invents-gradient",
    question='Why does a grad_fn hook fail with "can\'t replace a None gradient with a non-None value"?',
    expect="A grad_fn hook returns one gradient per input of the operation, here x and 2.",
    outcome=Raises(RuntimeError, r"can't replace a None gradient with a non-None value"),
    fix="hooks/hook-replaces-gradient",
    see_also=(_HOOKS,),
)
def node_hook_invents_gradient():
    """A hook on a `grad_fn` node receives the node's gradients for each of its inputs, with
    `None` where an input needs none; it may change the defined ones, never turn a `None` into a
    tensor.

    `y = x * 2` records `MulBackward0` with two inputs: `x` and the wrapped number `2`, which
    does not require grad, so the node computes `grad_inputs = (grad·2, None)`. The hook returns
    a tensor in both places, and the engine's check refuses to invent a gradient for an input
    that has no edge to send it along. Return `(new, None)` — or hook the tensor instead.
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0], grad_inputs[0]))
    y.sum().backward()
