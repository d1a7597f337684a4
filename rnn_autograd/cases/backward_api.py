"""The backward/grad API and its arguments: non-scalar outputs, grad_outputs, inputs=."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_BACKWARD = "https://pytorch.org/docs/stable/generated/torch.Tensor.backward.html"
_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"


@case(
    "backward-api/non-scalar-backward",
    question="Why does loss.backward() fail with 'grad can be implicitly created only for scalar outputs'?",
    expect="backward() on a per-sample loss computes the gradient of every sample's loss.",
    outcome=Raises(RuntimeError, r"grad can be implicitly created only for scalar outputs"),
    fix="backward-api/backward-with-gradient",
    see_also=(_BACKWARD,),
)
def non_scalar_backward():
    """Backward computes a vector-Jacobian product `vᵀ·J`, and for an output with more than one
    element nobody said what `v` is.

    `backward()` starts the chain rule from "the gradient of something with respect to this
    output". For a one-element output that something is the output itself and `v = 1`, so
    `torch.autograd`'s `_make_grads` creates `torch.ones_like(out)` for you. For an output of
    shape `(4,)` (a loss with `reduction="none"`, one value per sample) the seed would have to be
    chosen, and `_make_grads` refuses to guess: when `gradient=` is `None` it checks
    `out.numel() == 1` and raises otherwise. The check is on the number of elements, not on the
    number of dimensions: an output of shape `(1, 1)` is accepted (see the fix), a `(2,)` one is
    not. The graph is intact; nothing ran yet, and the same `loss` can still be reduced and
    backpropagated.
    """
    w = torch.tensor([2.0], requires_grad=True)
    x, target = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([2.0, 4.0, 5.0, 9.0])
    loss = torch.nn.functional.mse_loss(w * x, target, reduction="none")  # one loss per sample
    loss.backward()  # four outputs, no gradient= to weight them


@case(
    "backward-api/backward-with-gradient",
    question="How do I backpropagate a per-sample loss, and what does gradient= mean?",
    outcome=Returns(
        {
            "w.grad via backward(ones)": torch.tensor([-2.0]),
            "same as loss.sum().backward()": True,
            "w.grad via backward(weights)": torch.tensor([6.0]),
            "a (1, 1) output needs no gradient=": True,
        }
    ),
    see_also=("backward-api/non-scalar-backward", _BACKWARD),
)
def backward_with_gradient():
    """Reduce the loss to a scalar, or pass `gradient=v` of the output's exact shape: backward
    then accumulates `vᵀ·J`, the gradient of `(v * loss).sum()`.

    With `v = ones`, `loss.backward(torch.ones_like(loss))` gives the gradient of `loss.sum()`.
    Here the per-sample gradients `2·xᵢ·(w·xᵢ - tᵢ)` are `(0, 0, 6, -8)`, so `w.grad` is their
    sum, -2. Any other `v` weights the samples: `v = (1, 1, 1, 0)` drops the last one and gives 6.
    The weights are constants to autograd (they do not require grad), so this is the same as
    multiplying the loss by a mask before summing. `gradient=` is only needed when the output has
    more than one element: a `(1, 1)` output is seeded with ones as a scalar is.
    """
    x, target = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([2.0, 4.0, 5.0, 9.0])
    w = torch.tensor([2.0], requires_grad=True)
    loss = torch.nn.functional.mse_loss(w * x, target, reduction="none")
    loss.backward(torch.ones_like(loss))
    via_ones = w.grad.clone()
    w.grad = None  # leaves accumulate: start the next comparison from no gradient
    torch.nn.functional.mse_loss(w * x, target, reduction="none").sum().backward()
    same = torch.equal(w.grad, via_ones)
    w.grad = None  # again, so the weighted gradient is not added to the previous one
    loss = torch.nn.functional.mse_loss(w * x, target, reduction="none")
    loss.backward(torch.tensor([1.0, 1.0, 1.0, 0.0]))
    via_weights = w.grad.clone()
    one = (w * torch.ones(1, 1)).sum(dim=0, keepdim=True)  # shape (1, 1), one element
    one.backward()
    return {
        "w.grad via backward(ones)": via_ones,
        "same as loss.sum().backward()": same,
        "w.grad via backward(weights)": via_weights,
        "a (1, 1) output needs no gradient=": one.shape == (1, 1) and w.grad is not None,
    }


@case(
    "backward-api/gradient-shape-mismatch",
    question="Why does backward(gradient) fail with 'Mismatch in shape: grad_output[0] has a shape of'?",
    expect="A (3, 1) gradient for a (3,) output broadcasts, as it would in arithmetic.",
    outcome=Raises(RuntimeError, r"Mismatch in shape: grad_output\[0\] has a shape of"),
    fix="backward-api/backward-with-gradient",
    see_also=(_BACKWARD, _GRAD),
)
def gradient_shape_mismatch():
    """The seed `v` of `vᵀ·J` must have exactly the output's shape; it is never broadcast.

    `_make_grads` compares each given gradient with its output by `torch.is_same_size` before
    the engine starts, and raises naming both shapes. Broadcasting would be a guess: a `(3, 1)`
    seed against a `(3,)` output would silently broadcast to `(3, 3)` in arithmetic, a different
    product. The same check runs for `torch.autograd.grad(outputs, inputs, grad_outputs)`; the
    index in `grad_output[i]` is the position in the list of outputs. Reshape the seed
    (`v.view_as(y)`) or build it with `torch.ones_like(y)`.
    """
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.backward(torch.ones(3, 1))  # (3, 1) for a (3,) output: not the same size


@case(
    "backward-api/grad-outputs-count-mismatch",
    question="Why does autograd.grad fail with 'got 2 tensors and 1 gradients'?",
    expect="A gradient given for the first output is enough; the rest default to ones.",
    outcome=Raises(RuntimeError, r"got \d+ tensors and \d+ gradients"),
    fix="backward-api/backward-with-gradient",
    see_also=(_GRAD,),
)
def grad_outputs_count_mismatch():
    """Outputs and their seeds are paired by position, so the two lists must have one entry
    each; the engine checks the counts before pairing anything.

    `torch.autograd.grad([a, b], [x], grad_outputs=[v])` hands the engine two roots and one
    seed; `THPEngine_run_backward` checks `num_tensors == num_gradients` and raises. Nothing is
    defaulted per position (only a whole `grad_outputs=None` means "ones for scalar outputs").
    Pass one seed per output, `None` allowed for a one-element output, or sum the outputs first.
    """
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b = x * 2, x * 3
    torch.autograd.grad([a, b], [x], grad_outputs=[torch.ones(3)])  # two outputs, one seed


@case(
    "backward-api/grad-outputs-not-a-tensor",
    question="Why does grad_outputs=[1.0] fail with 'gradients can be either Tensors or None'?",
    expect="A Python number is accepted as the seed, as it is in arithmetic.",
    outcome=Raises(TypeError, r"gradients can be either Tensors or None, but got"),
    fix="backward-api/backward-with-gradient",
    see_also=(_GRAD,),
)
def grad_outputs_not_a_tensor():
    """Seeds are not converted: `_make_grads` accepts a tensor, or `None` for a one-element
    output, and rejects anything else by its type.

    A seed is a tensor with the output's shape and dtype that the engine feeds to the output's
    `grad_fn`; a Python `1.0` has neither, and converting it would be broadcasting by another
    name (see `backward-api/gradient-shape-mismatch`). Use `torch.ones_like(y)`, or pass `None`
    when `y` has one element.
    """
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    torch.autograd.grad((x * 2).sum(), x, grad_outputs=[1.0])  # a float, not a tensor


@case(
    "backward-api/complex-loss",
    question="Why does backward() on a complex loss fail with 'only for real scalar outputs'?",
    expect="A complex scalar loss backpropagates like a real one.",
    outcome=Raises(RuntimeError, r"grad can be implicitly created only for real scalar outputs"),
    fix="backward-api/complex-loss-made-real",
    see_also=("https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd-doc",),
)
def complex_loss():
    """Minimising needs an order, and complex numbers have none: the implicit seed `1` is only
    defined for a real scalar, and `_make_grads` checks the output's dtype as well as its size.

    PyTorch's complex autograd computes the conjugate Wirtinger derivative of a *real* function
    of complex inputs, which is what gradient descent on a real loss needs. `z.sum()` is a
    complex number; "the gradient of it" has no single meaning, so `backward()` without
    `gradient=` refuses it (a non-scalar complex output fails on the size check first). Reduce to
    a real value first: `z.abs().pow(2).sum()`, `z.real.sum()`, or a real-valued loss of the
    model's output.
    """
    z = torch.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    (z * 2).sum().backward()  # a complex scalar: no implicit real seed


@case(
    "backward-api/complex-loss-made-real",
    question="How do I get gradients of a complex parameter?",
    outcome=Returns({"z.grad": torch.tensor([2 + 4j, 6 - 2j])}),
    see_also=("backward-api/complex-loss",),
)
def complex_loss_made_real():
    """Backpropagate a real loss of the complex values; `z.grad` is then the conjugate
    Wirtinger derivative, the direction of steepest ascent of the real loss.

    For `L = Σ |zᵢ|²`, PyTorch's convention gives `z.grad = 2·z` (for `z = 1+2j`: `2+4j`), so a
    step `z - lr·z.grad` decreases `L` as for a real parameter. `z.abs().pow(2)` is real, its sum
    a real scalar, and the implicit seed `1` is defined.
    """
    z = torch.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    z.abs().pow(2).sum().backward()  # a real loss of complex values
    return {"z.grad": z.grad}


@case(
    "backward-api/backward-on-constant",
    question="Why does loss.backward() fail with 'element 0 of tensors does not require grad and does not have a grad_fn'?",
    expect="backward() computes the gradient of the weights used in the loss.",
    outcome=Raises(
        RuntimeError, r"element 0 of tensors does not require grad and does not have a grad_fn"
    ),
    fix="backward-api/weights-require-grad",
    see_also=("leaves/grad-of-non-leaf-is-none",),
)
def backward_on_constant():
    """Only tensors that require grad are recorded: weights made with `torch.randn` (no
    `requires_grad=True`) make every op on them an untracked constant, so the loss has no
    `grad_fn` and backward has nowhere to start.

    An op records a `grad_fn` node only if one of its inputs requires grad (and grad mode is
    on). Here no input does, so `loss.grad_fn is None` and `loss.requires_grad` is `False`.
    `run_backward` checks each root in order and raises for the first one that neither requires
    grad nor has a `grad_fn`; "element 0" is its position in the list of roots (`element 1` for
    the second of `torch.autograd.backward([a, b])`). The same message comes from every way of
    cutting the graph above the loss: weights created without `requires_grad`, a loss computed
    under `torch.no_grad()`, or rebuilt from `.item()`, `.detach()` or `.numpy()` values.
    """
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = torch.randn(2, 1)  # no requires_grad=True: a constant to autograd
    loss = (x @ w).pow(2).mean()
    loss.backward()


@case(
    "backward-api/weights-require-grad",
    question="How do I create weights that backward() computes gradients for?",
    outcome=Returns({"loss.grad_fn": "MeanBackward0", "w.is_leaf": True, "w.grad.shape": (2, 1)}),
    see_also=("backward-api/backward-on-constant",),
)
def weights_require_grad():
    """Create the weights with `requires_grad=True` (or `nn.Parameter`, or `w.requires_grad_()`
    before the forward): every op on them is recorded and the loss gets a `grad_fn`.

    `w` is a leaf that requires grad; `x @ w` records `MmBackward0`, and so on up to
    `MeanBackward0` at the loss. `backward()` walks that graph and accumulates into `w.grad`, of
    `w`'s shape. Setting `requires_grad` *after* the forward is too late for that forward: the
    ops already ran untracked (see `backward-api/requires-grad-after-forward`).
    """
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    w = torch.randn(2, 1, requires_grad=True)
    loss = (x @ w).pow(2).mean()
    loss.backward()
    return {
        "loss.grad_fn": loss.grad_fn.name(),
        "w.is_leaf": w.is_leaf,
        "w.grad.shape": tuple(w.grad.shape),
    }


@case(
    "backward-api/backward-inputs-empty",
    question="Why does loss.backward(inputs=[...]) fail with '`inputs` argument to `backward()` cannot be empty'?",
    expect="An empty inputs= list means no restriction, like inputs=None.",
    outcome=Raises(RuntimeError, r"[`']inputs[`'] argument to `?backward\(\)`? cannot be empty"),
    fix="backward-api/backward-inputs-only",
    see_also=(_BACKWARD,),
)
def backward_inputs_empty():
    """`inputs=` restricts which leaves receive gradients; an empty list would be a backward
    that computes nothing, and `torch.autograd.backward` rejects it instead of doing nothing.

    `inputs=None` (the default) means "every leaf in the graph"; `inputs=[]` is not the same,
    and a list filtered down to nothing (here: the trainable parameters of a frozen layer) is
    almost always a bug upstream (here the filter ran over the frozen module instead of the one
    to train), so it raises before the engine starts. The check is on the Python side
    (`len(inputs) == 0` in `backward`); `torch.autograd.grad` has its own, with its own message.
    (torch 2.2.2 quotes the names with `'` instead of backticks; the fragment allows both.)
    """
    body, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    head.requires_grad_(False)  # frozen: the filter below leaves nothing of it
    loss = head(body(torch.ones(1, 2))).sum()
    trainable = [p for p in head.parameters() if p.requires_grad]
    loss.backward(inputs=trainable)  # an empty list


@case(
    "backward-api/backward-inputs-only",
    question="What does backward(inputs=[w]) do to the other leaves' .grad?",
    outcome=Returns({"w.grad": torch.tensor([3.0]), "b.grad": None}),
    see_also=("backward-api/backward-inputs-empty", _BACKWARD),
)
def backward_inputs_only():
    """With `inputs=[w]`, the engine runs only the part of the graph that leads to `w` and
    accumulates only into `w.grad`; other leaves' `.grad` stays as it was (`None` here).

    `loss = w * 3 + b` depends on both leaves. `backward(inputs=[w])` turns `w` into the one
    gradient edge the engine must reach; `b`'s `AccumulateGrad` node is not executed, so
    `b.grad` stays `None`. This is how to train one part of a model from a shared loss without
    freezing the other (a GAN's two players, say) — but the graph is freed as usual, so a second
    backward for the other part needs `retain_graph=True` on the first.
    """
    w = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([0.0], requires_grad=True)
    loss = (w * 3 + b).sum()
    loss.backward(inputs=[w])
    return {"w.grad": w.grad, "b.grad": b.grad}
