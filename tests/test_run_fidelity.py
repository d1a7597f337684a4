"""Recording changes nothing the program computes: same values, same errors, same warnings.

And it keeps nothing alive: tensors and graphs die when the program drops them, as without it.
"""

from __future__ import annotations

import gc
import runpy
import warnings
import weakref
from pathlib import Path

import pytest
import torch
from torch import nn

from rnn_autograd import record

BROKEN = Path(__file__).resolve().parents[1] / "examples" / "broken"


def _train(steps: int = 4) -> tuple[list[float], list[torch.Tensor]]:
    torch.manual_seed(0)
    lstm, head = nn.LSTM(3, 6), nn.Linear(6, 3)
    params = [*lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=0.01)
    state, losses = None, []
    for _ in range(steps):
        x = torch.randn(5, 2, 3)
        out, state = lstm(x, state)
        loss = (head(nn.functional.relu(out)) - x).pow(2).mean()
        opt.zero_grad()  # zero_grad: each step's gradient alone
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        state = tuple(s.detach() for s in state)  # detach: the next batch starts a new graph
        losses.append(loss.item())
    return losses, [p.detach().clone() for p in params]


def test_a_training_loop_computes_the_same_losses_and_parameters_bit_for_bit():
    plain_losses, plain_params = _train()
    with record():
        rec_losses, rec_params = _train()
    assert rec_losses == plain_losses
    for a, b in zip(plain_params, rec_params, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _error_of(script: Path) -> BaseException:
    with pytest.raises(BaseException) as info:
        runpy.run_path(str(script), run_name="__main__")
    return info.value


@pytest.mark.parametrize(
    "script", sorted(p.name for p in BROKEN.glob("*.py") if p.name != "helpers.py")
)
def test_each_broken_script_raises_the_same_exception_type_and_message(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BROKEN))
    plain = _error_of(BROKEN / script)
    with record():
        recorded = _error_of(BROKEN / script)
    assert (type(recorded), str(recorded)) == (type(plain), str(plain))


def test_run_prints_the_traceback_python_prints_without_recording(monkeypatch, capsys):
    import traceback

    from rnn_autograd.commands.run import run_script

    script = BROKEN / "two_optimizers.py"
    plain = _error_of(script)
    lines = traceback.format_exception(type(plain), plain, plain.__traceback__)
    start = next(i for i, line in enumerate(lines) if str(script) in line)
    expected = "Traceback (most recent call last):\n" + "".join(lines[start:])
    assert run_script(str(script), []) == 1
    assert capsys.readouterr().err.startswith(expected)


def _warned(action: str) -> list[tuple]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        for _ in range(3):
            x = torch.ones(2, requires_grad=True)
            y = x * 2
            _ = y.grad  # the .grad of a non-leaf: torch warns (C++, the innermost frame's line)
            nn.functional.softmax(y)  # no dim: torch warns (Python, stacklevel=2: this line)
    return [(w.category, str(w.message), w.filename, w.lineno) for w in caught]


@pytest.mark.parametrize("action", ["always", "default"])
def test_the_same_warnings_are_raised_from_the_same_lines_as_often(action):
    # "default": once per line (the module's registry); "always": every time.
    plain = _warned(action)
    with record():
        recorded = _warned(action)
    assert len(plain) == (6 if action == "always" else 2)
    assert recorded == plain


def test_a_warning_turned_into_an_error_is_still_raised_with_recording():
    x = torch.ones(2, requires_grad=True)
    with warnings.catch_warnings(), record():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="Implicit dimension choice for softmax"):
            nn.functional.softmax(x * 2)


def test_tensors_and_their_graphs_die_when_the_program_drops_them():
    with record():
        x = torch.ones(3, requires_grad=True)
        hidden = x * 2
        hidden.mul_(3)  # in place, on purpose: recorded as a change (nothing saved it yet)
        loss = hidden.sin().sum()
        alive = weakref.ref(hidden), weakref.ref(loss)
        loss.backward()
        del hidden, loss
        gc.collect()
        assert [r() for r in alive] == [None, None]


def test_outside_the_block_nothing_is_recorded():
    with record():
        pass
    y = torch.ones(2, requires_grad=True) * 2
    assert y.grad_fn.metadata == {}
    assert not torch._C._is_torch_function_mode_enabled()


def test_saved_tensors_hooks_are_not_used_because_they_switch_the_version_check_off():
    """Why record() is a TorchFunctionMode: with any saved_tensors_hooks, this error vanishes."""
    a = torch.ones(3, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        b = a.sigmoid()
    b.mul_(2)  # in place on sigmoid's saved output, on purpose
    b.sum().backward()  # no error: SavedVariable::unpack skips the version check under hooks
    c = a.sigmoid()
    c.mul_(2)  # the same change, without hooks
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_a_compiled_function_computes_the_same_under_recording():
    def f(x):
        return (x.sin() * 2).sum()

    compiled = torch.compile(f, backend="eager")  # eager: no compiler toolchain needed
    x = torch.ones(3, requires_grad=True)
    with record():
        y = compiled(x)
        y.backward()
    torch.testing.assert_close(x.grad, 2 * torch.ones(3).cos())
