"""The flags and attributes around requires_grad: their types, .data, grad_dtype, apply_/map_."""

from __future__ import annotations

import torch

from ..spec import ByTorch, Raises, Returns, Warned, case


@case(
    "requires-grad/flag-not-a-bool",
    question="Why does x.requires_grad = 1 fail with 'requires_grad must be a bool'?",
    expect="1 is truthy, so the tensor requires grad.",
    outcome=Raises(RuntimeError, r"requires_grad must be a bool"),
    fix="requires-grad/float-leaf",
    see_also=("requires-grad/integer-tensor",),
)
def flag_not_a_bool():
    """The `requires_grad` setter takes exactly `True` or `False`; it does not apply Python
    truthiness, so `1`, `None` or a tensor are refused.

    The setter (`THPVariable_set_requires_grad`) checks the Python type first. A config value
    read as an int or a string is the usual source: convert with `bool(...)` deliberately.
    """
    x = torch.ones(3)
    x.requires_grad = 1


@case(
    "requires-grad/set-grad-enabled-not-a-bool",
    question="Why does torch.set_grad_enabled(1) fail with \"argument 'enabled' (position 1) must be bool, not int\"?",
    expect="set_grad_enabled accepts any truthy value, like an if statement.",
    outcome=Raises(
        TypeError, r"set_grad_enabled\(\): argument 'enabled' \(position 1\) must be bool"
    ),
    fix="requires-grad/float-leaf",
    see_also=("https://pytorch.org/docs/stable/generated/torch.set_grad_enabled.html",),
)
def set_grad_enabled_not_a_bool():
    """`torch.set_grad_enabled(mode)` passes `mode` to a C++ function whose argument parser
    accepts a `bool` only: the grad mode is a thread-local boolean, and the parser does not apply
    truthiness.

    `torch.set_grad_enabled(is_train)` with `is_train` a bool is the intended use (e.g. one
    loop for training and evaluation).
    """
    torch.set_grad_enabled(1)


@case(
    "requires-grad/assign-grad-a-number",
    question="Why does p.grad = 0 fail with 'assigned grad expected to be a Tensor or None but got grad of type int'?",
    expect="Setting .grad to 0 zeroes the gradient.",
    outcome=Raises(
        TypeError, r"assigned grad expected to be a Tensor or None but got grad of type"
    ),
    fix="requires-grad/assign-grad-like-the-tensor",
    see_also=("leaves/grad-zero-after-zero-grad",),
)
def assign_grad_a_number():
    """`.grad` holds a tensor of the parameter's shape, or `None`; the setter does not broadcast
    a number into one.

    To reset: `p.grad = None` (what `zero_grad()` does by default) or `p.grad.zero_()` when a
    gradient tensor exists.
    """
    w = torch.ones(3, requires_grad=True)
    w.grad = 0


@case(
    "requires-grad/grad-dtype-on-non-leaf",
    question="Why does setting grad_dtype fail with 'grad_dtype can only be set on leaf tensors'?",
    expect="grad_dtype chooses the dtype of any tensor's gradient.",
    outcome=ByTorch(
        {
            "<2.13": Returns({"torch.Tensor has grad_dtype": False}),
            ">=2.13": Raises(
                RuntimeError,
                r"grad_dtype can only be (set|accessed) on leaf tensors",
                warns=(
                    Warned(
                        UserWarning,
                        r"\.grad attribute of a Tensor that is not a leaf Tensor",
                    ),
                ),
            ),
        }
    ),
    fix="requires-grad/assign-grad-like-the-tensor",
    see_also=("requires-grad/assign-grad-of-other-dtype",),
)
def grad_dtype_on_non_leaf():
    """`grad_dtype` is the dtype in which a *leaf* accumulates its `.grad`; a non-leaf
    accumulates nothing (its gradient flows on to its `grad_fn`), so the attribute exists only
    on leaves.

    Set it on the parameter, if at all (mixed-precision schemes that keep `float32` gradients
    for `bfloat16` weights). On the way the setter reads the non-leaf's gradient through the C++
    `Tensor::grad()` accessor, which emits the non-leaf `.grad` warning before the error.

    torch 2.2.2 and 2.7.1 have no `grad_dtype`: the assignment makes an ordinary Python
    attribute of that name on the tensor object, which nothing reads, and nothing is refused.
    The property appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    x = torch.ones(3, requires_grad=True)
    (x * 2).grad_dtype = torch.float64
    # Reached only where Tensor has no grad_dtype property: the line above made a plain attribute.
    return {"torch.Tensor has grad_dtype": hasattr(torch.Tensor, "grad_dtype")}


@case(
    "requires-grad/data-set-to-integers",
    question="Why does p.data = int_tensor fail with 'data set to a tensor that requires gradients must be floating point or complex dtype'?",
    expect=".data swaps the values of a parameter for anything of the right shape.",
    outcome=Raises(
        RuntimeError,
        r"data set to a tensor that requires gradients must be floating point or complex dtype",
    ),
    fix="modules/replace-parameter-values",
    see_also=("requires-grad/integer-tensor",),
)
def data_set_to_integers():
    """Assigning `.data` swaps the tensor's storage and metadata while keeping its autograd
    identity; a tensor that requires grad must stay floating point, so an integer replacement
    is refused (the same rule as for `requires_grad_()`).

    Loading integer (e.g. quantized) weights into a float parameter: convert first
    (`q.float() * scale`) and copy under `no_grad` (`modules/replace-parameter-values`).
    """
    w = torch.ones(3, requires_grad=True)
    w.data = torch.arange(3)


@case(
    "requires-grad/apply-on-requires-grad",
    question='Why does tensor.apply_(fn) fail with "Can\'t call apply_() on Variable that requires grad"?',
    expect="apply_ maps a Python function over the elements, like numpy.vectorize.",
    outcome=Raises(RuntimeError, r"Can't call apply_\(\) on Variable that requires grad"),
    fix="requires-grad/python-function-on-detached",
    see_also=("conversions/numpy-of-requires-grad",),
)
def apply_on_requires_grad():
    """`apply_` runs a Python function element by element, in place; autograd cannot
    differentiate an arbitrary Python function, so the op is refused on a tensor that requires
    grad (`map_` likewise: "Can't call map_() on Variable that requires grad").

    Express the function in torch ops (differentiable), or apply it to `t.detach()` when no
    gradient should flow.
    """
    w = torch.ones(3, requires_grad=True)
    w.apply_(lambda v: v * 2)


@case(
    "requires-grad/map-on-requires-grad",
    question='Why does tensor.map_(other, fn) fail with "Can\'t call map_() on Variable that requires grad"?',
    expect="map_ combines two tensors element by element with a Python function.",
    outcome=Raises(RuntimeError, r"Can't call map_\(\) on Variable that requires grad"),
    fix="requires-grad/python-function-on-detached",
    see_also=("requires-grad/apply-on-requires-grad",),
)
def map_on_requires_grad():
    """`map_` is `apply_` for two tensors: a Python function per element pair, in place, with no
    derivative, refused on a tensor that requires grad for the same reason.

    Like `apply_`, `map_` works on `t.detach()` (sharing memory, so the change is visible in `t`
    without being recorded) or better on a clone (`requires-grad/python-function-on-detached`).
    """
    w = torch.ones(3, requires_grad=True)
    w.map_(torch.ones(3), lambda a, b: a + b)


@case(
    "requires-grad/python-function-on-detached",
    question="How do I apply a Python function to the values of a tensor that requires grad?",
    outcome=Returns(
        {
            "values": torch.tensor([2.0, 2.0, 2.0]),
            "w unchanged": True,
            "torch-op version differentiable": True,
        }
    ),
    see_also=("requires-grad/apply-on-requires-grad",),
)
def python_function_on_detached():
    """Apply it to a detached copy (`w.detach().clone().apply_(fn)`): the values leave the graph
    explicitly. If the result must be differentiated, write the function with torch ops.

    The clone keeps `w` itself unchanged (`detach()` alone would share its memory and version
    counter); `w * 2` is the differentiable equivalent.
    """
    w = torch.ones(3, requires_grad=True)
    values = w.detach().clone().apply_(lambda v: v * 2)  # outside the graph, on a copy
    return {
        "values": values,
        "w unchanged": torch.equal(w.detach(), torch.ones(3)),
        "torch-op version differentiable": (w * 2).grad_fn is not None,
    }
