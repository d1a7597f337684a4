"""Inference mode: tensors made without autograd's bookkeeping, and what they cannot do later."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case

_INFERENCE = (
    "https://pytorch.org/docs/stable/generated/torch.autograd.grad_mode.inference_mode.html"
)


@case(
    "inference-mode/inference-tensor-updated-outside",
    question="Why does an in-place op fail with 'Inplace update to inference tensor outside InferenceMode is not allowed'?",
    expect="A tensor made under inference_mode is an ordinary tensor once the block ends.",
    outcome=Raises(
        RuntimeError, r"Inplace update to inference tensor outside InferenceMode is not allowed"
    ),
    fix="inference-mode/clone-inference-tensor",
    see_also=("grad-mode/inference-tensor-in-autograd", _INFERENCE),
)
def inference_tensor_updated_outside():
    """A tensor created under `torch.inference_mode()` is an *inference tensor* for life: it has
    no version counter, so outside the mode (where autograd may have saved it or a view of it)
    an in-place change could not be detected, and it is refused.

    Inference mode is cheaper than `no_grad` precisely because its tensors skip the autograd
    bookkeeping (version counter, view tracking). Inside the mode they can be modified freely;
    outside, only read. Typical case: a running statistic or cache filled under
    `inference_mode` during evaluation and updated later in training. `t._version` outside the
    mode raises too ("Inference tensors do not track version counter").
    """
    with torch.inference_mode():
        running = torch.zeros(3)  # an inference tensor
    running.add_(1)


@case(
    "inference-mode/requires-grad-on-inference-tensor",
    question="Why does requires_grad_() fail with 'Setting requires_grad=True on inference tensor outside InferenceMode is not allowed'?",
    expect="Tensors from inference_mode can be turned into trainable weights.",
    outcome=Raises(
        RuntimeError,
        r"Setting requires_grad=True on inference tensor outside InferenceMode is not allowed",
    ),
    fix="inference-mode/clone-inference-tensor",
    see_also=("inference-mode/inference-tensor-updated-outside",),
)
def requires_grad_on_inference_tensor():
    """A leaf that requires grad must be saveable and versioned (backward checks the versions
    of saved tensors); an inference tensor is neither, so it cannot become one.

    Typical case: weights loaded or initialised inside `inference_mode`, then made trainable.
    Clone outside the mode first: the clone is a normal tensor.
    """
    with torch.inference_mode():
        w = torch.randn(3)
    w.requires_grad_()


@case(
    "inference-mode/clone-inference-tensor",
    question="How do I train or update a tensor that was created under inference_mode?",
    outcome=Returns(
        {
            "is_inference": False,
            "w.grad": torch.tensor([1.0, 1.0, 1.0]),
            "version bumped by the update": 1,
        }
    ),
    see_also=(
        "inference-mode/inference-tensor-updated-outside",
        "inference-mode/requires-grad-on-inference-tensor",
    ),
)
def clone_inference_tensor():
    """`t.clone()` outside the mode makes a normal tensor with the same values: versioned,
    saveable, allowed to require grad and to be modified in place.

    Observed on the clone: not an inference tensor, a gradient after backward, and a version
    counter that one in-place update under `no_grad` bumps by one.
    """
    with torch.inference_mode():
        loaded = torch.ones(3)
    w = loaded.clone().requires_grad_()  # a normal tensor, outside the mode
    w.sum().backward()
    version = w._version
    with torch.no_grad():  # the update of a leaf is not part of any graph
        w.sub_(0.1 * w.grad)  # in place on a normal tensor: versioned
    return {
        "is_inference": w.is_inference(),
        "w.grad": w.grad,
        "version bumped by the update": w._version - version,
    }
