"""``rnn-autograd run`` names the exact line of the user's code behind each broken backward.

Each script in examples/broken/ fails on purpose; the diagnosis must name the line that made
the change (or carried the freed graph), found here by its text so the test reads like the script.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnn_autograd.commands.run import run_script

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "examples" / "broken"


# Before torch shows a saved tensor without unpacking it (SavedTensor.data), the diagnosis finds
# it by layout and versions, and names the tensor the changes were made to.
SEES_SAVED = hasattr(torch._C._autograd.SavedTensor, "data")


def named(seen: str, name: str) -> str:
    return seen if SEES_SAVED else f", found by layout and versions: {name}"


def at(script: str, text: str) -> str:
    """``examples/broken/SCRIPT:LINE`` of the first code line (after the docstring) with ``text``."""
    lines = (BROKEN / script).read_text().splitlines()
    after = [i for i, line in enumerate(lines, 1) if line.rstrip().endswith('"""')][0]
    number = next(i for i, line in enumerate(lines, 1) if i > after and text in line)
    return f"examples/broken/{script}:{number}"


@pytest.fixture
def run(monkeypatch, capsys):
    """Run a broken script in-process from the checkout's root; its exit status and stderr."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(BROKEN))  # restored afterwards, with sys.path[0]

    def go(script: str) -> str:
        status = run_script(f"examples/broken/{script}", [])
        err = capsys.readouterr().err
        assert status == 1, err
        assert "Traceback (most recent call last):" in err
        return err

    return go


def test_an_optimizer_step_between_two_backwards_over_one_forward_is_named_at_its_step_line(run):
    err = run("two_optimizers.py")
    seen = named(", a view of D.2.weight", "D.2.weight")
    assert f"AddmmBackward0's `mat2` (float32[8, 1]){seen}\n" in err
    assert f"saved by `linear` at {at('two_optimizers.py', 'g_loss = D(fake)')}" in err
    assert "saved at version 1, now at version 2" in err
    assert f"`Adam.step()` at {at('two_optimizers.py', 'opt_d.step()')} (v1->v2)" in err


def test_an_lstm_carried_with_retain_graph_names_the_weight_and_the_step_between_batches(run):
    err = run("lstm_retain_graph.py")
    assert named(" = lstm.weight_", "lstm.weight_") in err
    assert f"saved by `lstm` at {at('lstm_retain_graph.py', 'out, state = lstm(x, state)')}" in err
    assert f"`SGD.step()` at {at('lstm_retain_graph.py', 'opt.step()')}" in err


def test_an_inplace_activation_inside_a_module_is_named_at_the_line_that_called_the_module(run):
    err = run("inplace_activation.py")
    assert "SigmoidBackward0's `result` (float32[16, 8])" in err
    line = at("inplace_activation.py", "loss = net(x)")
    assert f"`relu(inplace=True) in net.2 (ReLU)` at {line} (v0->v1)" in err


def test_slice_assignment_into_an_activation_is_named_at_the_assignment(run):
    err = run("slice_assignment.py")
    assert "TanhBackward0's `result` (float32[8, 6])" in err
    assert f"saved by `tanh` at {at('slice_assignment.py', 'h = torch.tanh')}" in err
    line = at("slice_assignment.py", "h[:, 0] = 0")
    assert f"`slice assignment (__setitem__)` at {line} (v0->v1)" in err


def test_an_inplace_op_in_a_helper_is_named_at_the_helper_line_and_at_the_callers_line(run):
    err = run("helper_inplace.py")
    helper, caller = at("helpers.py", "t.div_("), at("helper_inplace.py", "unit = normalize_(e)")
    assert f"`div_` at {helper}, called from {caller} (v0->v1)" in err
    assert f"saved by `exp` at {at('helper_inplace.py', 'e = torch.exp(w)')}" in err


def test_a_hidden_state_carried_without_detach_is_named_with_its_line_and_the_freeing_backward(
    run,
):
    err = run("carried_state.py")
    assert "enters a graph an earlier backward freed, through `state`" in err
    assert f"made by `rnn_tanh` at {at('carried_state.py', 'out, state = rnn(x, state)')}" in err
    assert f"freed by the `backward` at {at('carried_state.py', 'loss.backward()')}" in err
    where = at("carried_state.py", "state = train_step(x, y, state)")
    assert f"fix: detach `state` at the boundary, before it is used again at {where}" in err
    assert "retain_graph=True at" in err and "would be the wrong remedy" in err


def test_a_running_total_of_losses_is_named_with_the_sum_line_and_the_fix_is_a_number(run):
    err = run("running_total.py")
    total = at("running_total.py", "total_loss = total_loss + loss")
    assert "enters a graph an earlier backward freed, through `total_loss`" in err
    assert f"`total_loss` was made by `add` at {total}" in err
    assert f"freed by the `backward` at {at('running_total.py', 'total_loss.backward()')}" in err
    assert "fix: accumulate a number, not the graph: `total_loss += loss.item()`" in err
    assert f"at {total}" in err


def test_two_backwards_over_one_forward_are_told_to_retain_the_graph_on_the_first(
    tmp_path, monkeypatch, capsys
):
    script = tmp_path / "two_losses.py"
    script.write_text(
        "import torch\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "h = (w * 2).exp()\n"
        "loss_a, loss_b = h.sum(), h.mean()\n"
        "loss_a.backward()\n"
        "loss_b.backward()\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run_script("two_losses.py", []) == 1
    err = capsys.readouterr().err
    assert "freed by the `backward` at two_losses.py:5" in err
    assert "two backward calls over one forward: pass retain_graph=True to the first" in err
    assert "(two_losses.py:5)" in err


SCRATCH = """\
import torch
import torch.nn.functional as F

params = [torch.randn(10, 8) * 0.01, torch.randn(8, 8) * 0.01, torch.zeros(8)]
for param in params:
    param.requires_grad_(True)


def rnn(inputs, state):
    W_xh, W_hh, b_h = params
    (H,) = state
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
    return H, (H,)


def sgd(lr):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad
            param.grad.zero_()


state = (torch.zeros(2, 8),)
for step in range(3):
    X = F.one_hot(torch.randint(0, 10, (5, 2)), 10).float()
    out, state = rnn(X, state)
    out.pow(2).mean().backward(retain_graph=True)
    sgd(0.1)
"""


def test_a_hand_written_sgd_on_a_list_of_parameters_is_named_with_its_caller(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "scratch.py").write_text(SCRATCH)
    monkeypatch.chdir(tmp_path)
    assert run_script("scratch.py", []) == 1
    err = capsys.readouterr().err
    lines = SCRATCH.splitlines()
    step_line = lines.index("            param -= lr * param.grad") + 1
    call_line = lines.index("    sgd(0.1)") + 1
    mm_line = lines.index("        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)") + 1
    assert named(" = params[1]", "params[1]") in err
    assert f"saved by `mm` at scratch.py:{mm_line}" in err
    assert f"`sub_` at scratch.py:{step_line}, called from scratch.py:{call_line} (v0->v1)" in err


# The script's warning is a warning, as under python (pytest records it instead of showing it).
@pytest.mark.filterwarnings("default")
def test_an_autograd_warning_gets_the_cases_that_declare_it_after_the_run(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "peek.py").write_text(
        "import torch\nx = torch.ones(2, requires_grad=True)\ny = x * 2\n"
        "y.sum().backward()\nprint(y.grad)\n"
    )
    monkeypatch.chdir(tmp_path)
    assert run_script("peek.py", []) == 0
    out = capsys.readouterr()
    assert out.out == "None\n"
    assert "rnn-autograd: the warning at peek.py:5 (UserWarning: The .grad attribute" in out.err
    assert "  leaves/grad-of-non-leaf-is-none: " in out.err
