"""Variations the training-loop explanations predict, run beside the cases themselves."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

STALE = r"modified by an inplace operation"


def _carried_lstm_with_adam():
    lstm = nn.LSTM(8, 8, batch_first=True)
    optimizer = torch.optim.Adam(lstm.parameters())
    hidden = (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))
    for _ in range(3):
        out, hidden = lstm(torch.randn(2, 5, 8), hidden)  # no detach: carried graph
        optimizer.zero_grad()  # each step sees only this batch's gradient
        out.sum().backward(retain_graph=True)  # the broken loop under test
        optimizer.step()


def test_an_lstm_on_onednn_saves_its_weight_itself_and_names_no_op():
    with pytest.raises(RuntimeError, match=STALE + r": \[torch.FloatTensor \[32, 8\]\] is at"):
        _carried_lstm_with_adam()


def test_an_lstm_without_onednn_saves_a_transposed_view_named_as_strided():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the flags context warns about TF32 on Intel GPUs
        no_onednn = torch.backends.mkldnn.flags(enabled=False)
        stale = pytest.raises(RuntimeError, match=r"\[8, 32\]\], which is output 0 of AsStrided")
        with no_onednn, stale:
            _carried_lstm_with_adam()


def test_an_optimizer_accepts_a_non_leaf_that_retains_its_grad():
    w = torch.randn(3, requires_grad=True).double()
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor"):
        torch.optim.SGD([w], lr=0.1)
    w.retain_grad()  # Optimizer.add_param_group checks is_leaf or retains_grad
    torch.optim.SGD([w], lr=0.1)


def test_a_one_element_loss_of_any_shape_needs_no_reduction():
    w = torch.ones(1, 1, 1, requires_grad=True)
    (w * 3).backward()
    torch.testing.assert_close(w.grad, torch.full((1, 1, 1), 3.0))


def test_a_loss_rebuilt_from_item_values_reaches_no_parameter():
    model = nn.Linear(2, 1)
    loss = torch.tensor(model(torch.ones(1, 2)).sum().item(), requires_grad=True)
    loss.backward()
    assert model.weight.grad is None and loss.grad.item() == 1.0
