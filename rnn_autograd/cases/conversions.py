"""Leaving autograd: numpy(), Python numbers, deepcopy of tensors that are part of a graph."""

from __future__ import annotations

import copy

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case


@case(
    "conversions/numpy-of-requires-grad",
    question='Why does tensor.numpy() fail with "Can\'t call numpy() on Tensor that requires grad"?',
    expect="numpy() gives the values, for plotting or metrics.",
    outcome=Raises(RuntimeError, r"Can't call numpy\(\) on Tensor that requires grad"),
    fix="conversions/detach-then-numpy",
    see_also=("https://pytorch.org/docs/stable/generated/torch.Tensor.numpy.html",),
)
def numpy_of_requires_grad():
    """`numpy()` returns an array that *shares memory* with the tensor; NumPy would then be able
    to change values autograd depends on without any version bump, so PyTorch refuses it for a
    tensor that requires grad and makes you detach explicitly.

    `.detach().numpy()` shares memory as well, but says in the code that the result is outside
    autograd; an in-place NumPy write through it would still corrupt a saved tensor silently
    (the version counter only counts torch ops). `np.asarray(t)` calls the same method and
    fails the same way. Since torch 1.13, `t.numpy(force=True)` detaches (and copies to the CPU)
    for you.
    """
    w = torch.ones(3, requires_grad=True)
    (w * 2).numpy()  # an output of a recorded op requires grad too


@case(
    "conversions/detach-then-numpy",
    question="How do I get a tensor that requires grad into NumPy?",
    outcome=Returns({"values": [2.0, 2.0, 2.0], "shares memory": True}),
    see_also=("conversions/numpy-of-requires-grad",),
)
def detach_then_numpy():
    """`.detach().numpy()`: a view without history, then an array over the same memory (so
    writes into the array show in the tensor: copy it, `.copy()`, if you mean to modify it).

    Observed: the array's values, and that it shares memory with the tensor (its data pointer
    is the tensor's).
    """
    y = torch.ones(3, requires_grad=True) * 2
    arr = y.detach().numpy()
    return {
        "values": arr.tolist(),
        "shares memory": arr.__array_interface__["data"][0] == y.data_ptr(),
    }


@case(
    "conversions/float-of-requires-grad-warns",
    question="Why does float(loss) warn 'Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior'?",
    outcome=ByTorch(
        {
            "<2.13": Returns({"float(y)": 2.0, "y.item()": 2.0}),
            ">=2.13": Returns(
                {"float(y)": 2.0, "y.item()": 2.0},
                warns=(
                    Warned(
                        UserWarning,
                        r"Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior",
                    ),
                ),
            ),
        }
    ),
    see_also=("backward-api/backward-on-constant",),
)
def float_of_requires_grad_warns():
    """A Python number has no history: whatever is computed from it is a constant to autograd.
    `float(t)` on a tensor that requires grad warns about that; `t.item()` (the spelling meant
    for "I want the value") does not.

    This is how a loss built from `float(...)` or `.item()` values silently loses its graph
    (and fails at `backward` with "does not require grad"). Observed: one warning, for `float`
    only — an extra warning from `.item()` would fail this case. For logging, `loss.item()` is
    the idiom; keep the tensor for anything that must be differentiated.

    torch 2.2.2 and 2.7.1 do not warn at all: `float(y)` drops the graph there just as silently.
    The warning appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    # The C++ side warns once per process (TORCH_WARN_ONCE); warn-always makes each run see it.
    torch.set_warn_always(True)
    y = torch.ones(1, requires_grad=True) * 2
    return {"float(y)": float(y), "y.item()": y.item()}


@case(
    "conversions/deepcopy-non-leaf",
    question="Why does copy.deepcopy fail with 'Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol'?",
    expect="deepcopy copies any tensor, history and all.",
    outcome=Raises(
        RuntimeError,
        r"Only Tensors created explicitly by the user \(graph leaves\) support the deepcopy protocol",
    ),
    fix="conversions/deepcopy-detached",
    see_also=("leaves/manual-update-makes-non-leaf",),
)
def deepcopy_non_leaf():
    """A non-leaf's value is tied to its `grad_fn`, and copying a graph is not defined (which
    saved tensors, which leaves?), so `Tensor.__deepcopy__` refuses every tensor that is not a
    leaf.

    The common way here: deep-copying a model (for an EMA or a target network) whose attributes
    hold non-leaf tensors — a weight computed from a parameter (weight norm), or a tensor
    cached from the last forward. Leaves (parameters, buffers, plain data) copy fine. Detach
    cached tensors, or recompute derived weights in `forward`.
    """
    model = torch.nn.Linear(2, 2)
    model.cached = model.weight * 2  # a non-leaf kept on the module
    copy.deepcopy(model)


@case(
    "conversions/deepcopy-detached",
    question="How do I deep-copy a model that keeps tensors computed in the forward?",
    outcome=Returns({"copy shares no memory": True, "copied cache is a leaf": True}),
    see_also=("conversions/deepcopy-non-leaf",),
)
def deepcopy_detached():
    """Keep only leaves on the module: a detached cache is a leaf (no history), and the deep
    copy gets its own parameters and its own copy of the cache.

    `Tensor.__deepcopy__` copies a leaf's data (and, for a leaf that requires grad, the flag);
    the copy has no history shared with the original, so training the twin never touches the
    original's parameters.
    """
    model = torch.nn.Linear(2, 2)
    model.cached = (model.weight * 2).detach()  # a leaf: copyable
    twin = copy.deepcopy(model)
    return {
        "copy shares no memory": twin.weight.data_ptr() != model.weight.data_ptr(),
        "copied cache is a leaf": twin.cached.is_leaf,
    }
