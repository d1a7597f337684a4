"""The inspector on a torch whose SavedTensor shows no ``.data`` (2.2.2, 2.7.1): read by unpacking.

Forced here on any torch by making ``saved_tensor_record_is_readable`` answer False, so the
fallback path runs in CI (2.13.0) as it does on the older releases.
"""

from __future__ import annotations

import pytest
import torch

import rnn_autograd.spec.torch_private as torch_private
from rnn_autograd.diagnose.inspector import inspect_graph


@pytest.fixture
def unreadable(monkeypatch):
    monkeypatch.setattr(torch_private, "saved_tensor_record_is_readable", lambda: False)


def test_current_saved_tensors_are_named_with_equal_versions(unreadable):
    x = torch.ones(2, requires_grad=True)
    h = torch.ones(2, requires_grad=True) * 2
    y = (x * h).sum()
    report = inspect_graph(y, names={"x": x, "h": h})
    saved = {s.attr: s for s in report.saved if s.node_name == "MulBackward0" and s.shape == (2,)}
    assert (saved["other"].name, saved["other"].saved_version, saved["other"].current_version) == (
        "h",
        0,
        0,
    )
    assert saved["self"].name == "x" and not saved["self"].stale


def test_a_stale_tensor_gets_both_versions_but_no_name_and_the_report_says_why(unreadable):
    x = torch.ones(2, requires_grad=True)
    h = torch.ones(2, requires_grad=True) * 2
    y = (x * h).sum()
    with torch.no_grad():
        h.add_(1)  # in place on a saved tensor: h._version 0 -> 1
    report = inspect_graph(y, names={"x": x, "h": h})
    stale = report.stale
    assert [(s.attr, s.saved_version, s.current_version, s.name) for s in stale] == [
        ("other", 0, 1, None)
    ]
    assert report.will_fail
    assert "note: torch" in report.summary() and "by unpacking" in report.summary()
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        y.backward()  # what the report predicted


def test_freed_saved_tensors_are_reported_freed(unreadable):
    x = torch.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    report = inspect_graph(y)
    assert report.freed and report.will_fail


def test_the_fallback_agrees_with_the_saved_tensor_record_where_both_work(monkeypatch):
    if not torch_private.saved_tensor_record_is_readable():
        pytest.skip(f"torch {torch.__version__} shows no SavedTensor.data")
    x = torch.ones(3, requires_grad=True)
    h = torch.tanh(x * 2)  # saves its output
    y = (h * x).sin().sum()
    names = {"x": x, "h": h}
    read = inspect_graph(y, names=names).saved
    monkeypatch.setattr(torch_private, "saved_tensor_record_is_readable", lambda: False)
    assert inspect_graph(y, names=names).saved == read


def test_no_note_where_saved_tensors_can_be_read():
    if not torch_private.saved_tensor_record_is_readable():
        pytest.skip(f"torch {torch.__version__} shows no SavedTensor.data")
    x = torch.ones(2, requires_grad=True)
    assert "note:" not in inspect_graph((x * x).sum()).summary()


def test_a_torch_without_the_saved_tensor_class_reads_by_unpacking(monkeypatch):
    monkeypatch.delattr(torch._C._autograd, "SavedTensor")
    assert not torch_private.saved_tensor_record_is_readable()
    assert torch_private.private_api_report()["torch._C._autograd.SavedTensor.data"] is False
