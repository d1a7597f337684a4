"""``diagnose()``: the same exception propagates, with a note naming its case, fix and culprit."""

from __future__ import annotations

import re
import traceback
import weakref

import pytest
import torch

import rnn_autograd.diagnose.context as diagnose_module
from rnn_autograd.diagnose.context import NOTE_PREFIX, diagnose
from rnn_autograd.diagnose.explain import match_exception
from rnn_autograd.spec import get_case
from rnn_autograd.spec.torch_private import saved_tensor_record_is_readable

# torch 2.2.2 and 2.7.1 show no SavedTensor.data: the inspector reads versions by unpacking there,
# which cannot name a stale tensor nor keep an unpack hook from running (tests/test_inspector_fallback.py).
needs_saved_tensor_data = pytest.mark.skipif(
    not saved_tensor_record_is_readable(),
    reason=f"torch {torch.__version__} shows no SavedTensor.data (the fallback is tested apart)",
)


def _notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


def _stale_backward():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    state = torch.zeros(2)
    loss = (x * state).sin().sum()  # MulBackward0 saves `state`
    state.add_(1)  # in place after it was saved, on purpose: the backward below fails
    loss.backward()


def _freed_pair():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()  # no retain_graph, on purpose: frees MulBackward0's saved tensors
    return x, y * 2


def test_the_exception_keeps_its_identity_type_message_and_traceback():
    inside = {}
    with pytest.raises(RuntimeError) as info, diagnose():
        try:
            _stale_backward()
        except RuntimeError as exc:
            inside.update(exc=exc, message=str(exc), tb=traceback.extract_tb(exc.__traceback__))
            raise
    exc = info.value
    assert exc is inside["exc"] and type(exc) is RuntimeError
    assert str(exc) == inside["message"]
    assert traceback.extract_tb(exc.__traceback__)[-len(inside["tb"]) :] == inside["tb"]


def _named_cases(notes: str) -> list[str]:
    return re.findall(r"^  ([a-z][a-z0-9-]*/[a-z0-9-]+): ", notes, flags=re.M)


def test_the_note_names_cases_that_declare_this_error_each_with_its_fix():
    expected = pytest.raises(RuntimeError, match="modified by an inplace operation")
    with expected as info, diagnose():
        _stale_backward()
    exc, notes = info.value, _notes(info.value)
    assert notes.startswith(NOTE_PREFIX)
    named = _named_cases(notes)
    assert named
    for case_id in named:
        case = get_case(case_id)
        assert case.outcome.resolve().matches_exception(type(exc), str(exc))
        assert f"    fix: {case.fix}: {get_case(case.fix).question}" in notes


@needs_saved_tensor_data
def test_the_stale_saved_tensor_is_named_from_the_users_own_variables():
    expected = pytest.raises(RuntimeError, match="modified by an inplace operation")
    with expected as info, diagnose():
        _stale_backward()
    assert (
        "stale: MulBackward0's saved `other` = state (float32[2]) was saved at version 0 "
        "and is now at version 1" in _notes(info.value)
    )


@needs_saved_tensor_data
def test_a_watched_loss_is_inspected_with_the_names_given():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = torch.zeros(2)
    loss = (x * h).sum()
    with pytest.raises(RuntimeError) as info, diagnose(watch=loss, names={"hidden state": h}):
        h.mul_(2)  # in place after MulBackward0 saved it, on purpose
        loss.backward()
    assert "MulBackward0's saved `other` = hidden state" in _notes(info.value)


def test_watching_before_backward_tells_which_saved_tensors_were_already_freed():
    x, y2 = _freed_pair()
    expected = pytest.raises(RuntimeError, match="backward through the graph a second time")
    with expected as info, diagnose().watch(y2):
        y2.backward()
    notes = _notes(info.value)
    assert "graph/backward-through-freed-graph" in [m.case.id for m in match_exception(info.value)]
    assert _named_cases(notes)
    assert "freed before this backward: MulBackward0's saved `other`" in notes
    assert "freed before this backward: MulBackward0's saved `self`" in notes


def test_without_a_watch_the_freed_note_says_how_to_get_one():
    x, y2 = _freed_pair()
    with pytest.raises(RuntimeError) as info, diagnose():
        y2.backward()
    assert "diagnose(watch=loss)" in _notes(info.value)


def test_as_a_decorator_it_annotates_the_functions_error():
    @diagnose()
    def step(p: torch.nn.Parameter) -> None:
        p.grad.zero_()  # p.grad is None: no backward has run yet

    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'zero_'") as info:
        step(torch.nn.Parameter(torch.ones(2)))
    assert "leaves/grad-zero-after-zero-grad" in _named_cases(_notes(info.value))


def test_an_error_no_case_declares_passes_through_without_a_note():
    with pytest.raises(KeyError) as info, diagnose():
        raise KeyError("vocab")
    assert not hasattr(info.value, "__notes__")


def test_nested_blocks_add_one_note():
    @diagnose()
    def outer() -> None:
        with diagnose():
            _stale_backward()

    with pytest.raises(RuntimeError) as info:
        outer()
    assert sum(n.startswith(NOTE_PREFIX) for n in info.value.__notes__) == 1


def test_a_diagnosis_that_fails_leaves_the_error_untouched(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("matcher bug")

    monkeypatch.setattr(diagnose_module, "match_exception", broken)
    expected = pytest.raises(RuntimeError, match="modified by an inplace operation")
    with expected as info, diagnose():
        _stale_backward()
    assert not hasattr(info.value, "__notes__")


def test_a_watched_graph_is_released_when_the_block_ends():
    x = torch.ones(2, requires_grad=True)
    loss = (x * 2).sum()
    ref = weakref.ref(loss)
    d = diagnose(watch=loss)
    del loss
    with d:
        pass
    assert ref() is None


def test_the_block_returns_normally_when_nothing_is_raised():
    x = torch.ones(2, requires_grad=True)
    with diagnose():
        (x * 2).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((2,), 2.0))
