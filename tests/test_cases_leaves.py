"""The detach, leaves and grad-mode families: their registry contract, and the variations their
explanations predict, run as plain torch code so that a wrong prediction fails here.

``tests/test_cases.py`` already checks every case against its declaration; this file checks what
the explanations *claim beyond* the case itself ("predict a variation: ...").
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnn_autograd.spec import all_cases, check, get_case

FAMILIES = ("detach", "leaves", "grad-mode")
OWN = [c for family in FAMILIES for c in all_cases(family)]
RAISING = [c for c in OWN if c.fails_on_purpose]


def test_the_notebook_question_why_y1_requires_grad_is_a_case_that_matches():
    verdict = check(get_case("leaves/requires-grad-propagates"))
    assert verdict.ok, verdict.mismatches
    assert verdict.observation.values["y1.requires_grad"] is True


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_holds_enough_cases(family):
    minimum = {"detach": 8, "leaves": 8, "grad-mode": 4}[family]
    assert len(all_cases(family)) >= minimum


@pytest.mark.parametrize("case", RAISING, ids=[c.id for c in RAISING])
def test_every_deliberate_failure_is_fixed_by_a_passing_case_of_these_families(case):
    assert case.fix is not None
    fix = get_case(case.fix)
    assert fix.family in FAMILIES
    assert not fix.fails_on_purpose
    assert check(fix).ok


@pytest.mark.parametrize("case", OWN, ids=[c.id for c in OWN])
def test_every_case_links_a_pytorch_doc_and_a_related_case(case):
    urls = [s for s in case.see_also if s.startswith("https://pytorch.org/docs/")]
    related = [get_case(s) for s in case.see_also if not s.startswith("http")]
    assert urls and related


@pytest.mark.parametrize("case", OWN, ids=[c.id for c in OWN])
def test_every_case_says_what_a_user_might_naively_expect(case):
    assert case.expect.strip()


def test_the_lstm_case_and_its_fix_differ_only_in_detaching_c():
    broken = get_case("detach/lstm-tuple-state").source
    fixed = get_case("detach/lstm-tuple-state-both").source
    assert "(h.detach(), c)" in broken
    assert "tuple(s.detach() for s in state)" in fixed


def test_an_inplace_change_through_data_goes_unseen_while_through_detach_it_is_caught():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x**2).sum()
    x.data.add_(1)  # bypasses x's version counter
    assert x._version == 0
    loss.backward()  # no error, wrong gradient
    torch.testing.assert_close(x.grad, torch.tensor([4.0, 6.0]))

    y = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (y**2).sum()
    y.detach().add_(1)  # shares y's version counter
    assert y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_a_change_through_detach_passes_when_no_node_saved_the_tensor():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * 2).sum()  # multiplication by a Python scalar saves no tensor
    x.detach().add_(1)  # bumps the version nobody recorded
    loss.backward()
    torch.testing.assert_close(x.grad, torch.tensor([2.0, 2.0]))


def test_detach_in_place_refuses_a_slice_of_a_tensor_that_never_required_grad():
    plain = torch.zeros(3)
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        plain[0:1].detach_()  # the check is about being a view


def test_a_view_gets_a_regenerated_grad_fn_when_its_base_is_changed_in_place():
    out = torch.ones(3, requires_grad=True) * 2
    last = out[-1]
    assert type(last.grad_fn).__name__ == "SelectBackward0"
    out.mul_(2)  # in-place on the base: the view's history is rebuilt from the base's
    assert type(last.grad_fn).__name__ == "AsStridedBackward0"


def test_a_gru_state_is_one_tensor_so_detaching_it_is_enough():
    gru = nn.GRU(input_size=2, hidden_size=3)
    batches = torch.randn(2, 4, 1, 2)
    out, h = gru(batches[0])
    out.sum().backward()
    out, h = gru(batches[1], h.detach())  # the whole state: nothing leads to batch 1
    out.sum().backward()
    assert gru.weight_hh_l0.grad is not None


def test_an_operation_on_tensors_that_all_do_not_require_grad_records_nothing():
    state = torch.tensor([4.0])
    product = state * torch.tensor([2.0])
    assert not product.requires_grad
    assert product.is_leaf
    assert product.grad_fn is None


def test_a_retained_gradient_accumulates_like_a_leafs():
    x = torch.tensor([1.0], requires_grad=True)
    y = 2 * x
    y.retain_grad()
    (3 * y).backward(retain_graph=True)  # keep the graph for the second backward below
    (3 * y).backward()
    torch.testing.assert_close(y.grad, torch.tensor([6.0]))


def test_module_to_converts_parameters_in_place_so_they_stay_leaves():
    model = nn.Linear(2, 1)
    weight = model.weight
    model.to(torch.float64)
    assert model.weight is weight
    assert model.weight.is_leaf
    assert model.weight.dtype == torch.float64


def test_an_inference_tensor_may_enter_an_operation_that_saves_nothing():
    with torch.inference_mode():  # create an inference tensor for the check
        t = torch.ones(2)
    w = torch.ones(2, requires_grad=True)
    (w + t).sum().backward()  # addition saves neither input
    torch.testing.assert_close(w.grad, torch.ones(2))
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        w * t  # multiplication saves t for w's gradient


def test_set_grad_enabled_called_as_a_function_stays_in_effect_until_changed_back():
    before = torch.is_grad_enabled()
    try:
        torch.set_grad_enabled(False)  # as a function: no exit to restore the mode
        assert not (torch.ones(1, requires_grad=True) * 2).requires_grad
    finally:
        torch.set_grad_enabled(before)


def test_an_inplace_change_under_inference_mode_still_bumps_a_normal_tensors_version():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w**2).sum()
    with torch.inference_mode():  # the mode that skips version counting, for its own tensors
        w.add_(1)  # in-place on a normal tensor: counted all the same
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_a_view_taken_under_no_grad_reports_its_bases_requires_grad_without_history():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.no_grad():  # the view's creation is not recorded
        first = w[0:1]
    assert first.requires_grad
    assert first.grad_fn is None
    assert first._base is w
