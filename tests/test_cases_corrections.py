"""The variations behind the review's corrections: each explanation predicts what these run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

STALE = r"modified by an inplace operation"


def test_a_hand_written_tanh_state_changed_in_place_is_named_after_tanh():
    w = torch.randn(2, 2, requires_grad=True)
    h = torch.tanh(torch.randn(1, 2) @ w)  # TanhBackward0 saves h itself
    h.mul_(0.5)
    with pytest.raises(RuntimeError, match=STALE + r".*output 0 of Tanh"):
        h.sum().backward()


def test_nn_rnn_state_changed_in_place_still_backpropagates():
    out, h_n = nn.RNN(2, 2)(torch.randn(3, 1, 2))
    h_n.add_(1)  # StackBackward0 saved nothing this invalidates
    out.mul_(2)
    (out.sum() + h_n.sum()).backward()


def test_mul_saves_a_for_the_other_operands_gradient_only():
    w, v = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0])
    a = w.clone()
    b = a * v  # v needs no gradient: a is not saved
    a.add_(1)
    b.sum().backward()
    torch.testing.assert_close(w.grad, v)


def test_mul_input_changed_in_place_is_named_after_its_grad_fn_now():
    w, v = (
        torch.tensor([1.0, 2.0], requires_grad=True),
        torch.tensor([3.0, 4.0], requires_grad=True),
    )
    a = w.clone()
    b = a * v  # saves a, for v's gradient
    a.add_(1)
    with pytest.raises(RuntimeError, match=r"output 0 of Add"):
        b.sum().backward()


def test_requires_grad_true_on_a_non_leaf_is_a_no_op_by_method_but_refused_by_setter():
    y = torch.tensor([3.0], requires_grad=True) * 2
    assert y.requires_grad_(True) is y and not y.is_leaf
    with pytest.raises(RuntimeError, match=r"you can only change requires_grad flags of leaf"):
        y.requires_grad = True


def test_a_retained_grad_is_replaced_by_a_new_tensor_and_a_leafs_is_updated_in_place():
    x = torch.tensor([1.0], requires_grad=True)
    y = 2 * x
    y.retain_grad()
    (3 * y).backward(retain_graph=True)  # keep the graph for a second backward
    g, leaf_g = y.grad, x.grad
    (3 * y).backward()
    assert y.grad is not g and g.item() == 3.0 and y.grad.item() == 6.0
    assert x.grad is leaf_g and leaf_g.item() == 12.0


def test_an_inference_tensor_enters_a_graph_when_nothing_saves_it():
    with torch.inference_mode():  # the tensor under test
        X = torch.ones(2)
    w = torch.ones(2, requires_grad=True)
    (w + X).sum().backward()  # AddBackward0 saves nothing
    torch.testing.assert_close(w.grad, torch.ones(2))
    with pytest.raises(RuntimeError, match=r"Inference tensors cannot be saved for backward"):
        w * X  # MulBackward0 would save X for w's gradient
