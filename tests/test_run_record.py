"""``rnn_autograd.record()``: the same recording as ``rnn-autograd run``, as a context manager.

The exception propagates unchanged and carries the diagnosis as a PEP 678 note, which
``diagnose()`` inside the block uses too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnn_autograd import diagnose, record
from rnn_autograd.diagnose.context import NOTE_PREFIX

HERE = "tests/test_run_record.py"


def _line(marker: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}"))


def _stale(w: torch.Tensor) -> None:
    h = torch.tanh(w * 2)  # made
    h.add_(1)  # changed
    h.sum().backward()


def _notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


def test_the_error_carries_the_recorded_lines_as_one_note_and_is_otherwise_unchanged(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info, record():
        _stale(w)
    notes = _notes(info.value)
    assert len(notes) == 1 and notes[0].startswith(NOTE_PREFIX)
    assert f"saved by `tanh` at {HERE}:{_line('made')}" in notes[0]
    assert f"`add_` at {HERE}:{_line('changed')}" in notes[0]
    assert "versions/" in notes[0]  # then the cases that explain it, as explain ranks them


def test_diagnose_inside_record_uses_the_recording_in_its_single_note():
    w = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as info, record(), diagnose():
        _stale(w)
    notes = _notes(info.value)
    assert len(notes) == 1
    assert "changed in place since by:" in notes[0] and "`add_` at" in notes[0]


def test_record_is_also_a_decorator_and_nested_blocks_record_once():
    @record()
    def step(w):
        with record():
            y = (w * w).sum()
            y.backward()  # frees the graph, on purpose: the second backward below fails
            y.backward()

    with pytest.raises(RuntimeError, match="backward through the graph a second time") as info:
        step(torch.ones(2, requires_grad=True))
    (note,) = _notes(info.value)
    assert "two backward calls over one forward: pass retain_graph=True to the first" in note


def test_a_backward_through_torch_autograd_backward_is_recorded_where_torch_allows_it():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as info, record():
        total = 0
        for _ in range(2):
            total = total + (w * w).sum()
            torch.autograd.backward(total)
    (note,) = _notes(info.value)
    import inspect

    if "handle_torch_function" in inspect.getsource(torch.autograd.backward):
        assert "through `total`" in note
    else:  # older torch: one line says so, the cases still follow
        assert "does not show torch.autograd.backward(...) calls to the recorder" in note


def test_a_non_autograd_error_gets_no_note():
    with pytest.raises(KeyError) as info, record():
        {}["missing"]
    assert _notes(info.value) == []
