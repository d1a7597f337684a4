"""``explain`` and ``run`` on failing user scripts written after the tools, not tuned to them.

Each script in ``tests/data/unseen/`` is a failing program in the style of a forum post or an
issue (a seq2seq with its state on ``self``, REINFORCE with a list never cleared, attention with
an in-place mask, ...). For each, what a right diagnosis must say is written here, from the
script's bug, not from what the tools answered: the cases whose fix is the remedy for that
code, and the words the ``run`` diagnosis must contain (the variable and the line to change).

``explain`` reads the plain Python traceback, as a user pastes it. Where a traceback cannot tell
the cause (it shows only ``loss.backward()`` and the message is shared by several causes), the
test is marked ``xfail(strict=True)`` with the reason: a known limit, checked to stay one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from script_output import output_of

from rnn_autograd.commands.run import run_script
from rnn_autograd.diagnose.code_signals import code_signals
from rnn_autograd.diagnose.explain import match_text
from rnn_autograd.spec import get_case, isolated

ROOT = Path(__file__).resolve().parents[1]
UNSEEN = ROOT / "tests" / "data" / "unseen"


def _detaches(case_id: str) -> bool:
    """The case's fix cuts a carried tensor out of the graph (detach, repackage, a number)."""
    fix = get_case(get_case(case_id).fix)
    found = code_signals(fix.source.splitlines())
    return "detach" in found or "values" in found


_NO_GRAPH = {"training-loop/loss-under-no-grad", "training-loop/loss-from-numpy"}
_TOTAL = {"training-loop/running-total-inplace", "training-loop/running-total-backward"}
_SAVED_OUTPUT = {"versions/inplace-on-view-of-saved-output", "versions/inplace-on-saved-output"}
# script -> (the first case must be one of these, or a callable on its id), run must say these.
EXPECT = {
    "seq2seq_hidden_on_self": (_detaches, ["through `self.hidden`", "detach `self.hidden`"]),
    "detach_result_discarded": (
        _detaches,
        ["through `hidden`", "`hidden.detach()` at tests/data/unseen/"],
    ),
    "lstm_detach_only_h": (_detaches, ["through `c_n`", "fix: detach `c_n`"]),
    "reinforce_log_probs_not_cleared": (
        _detaches,
        ["a tensor kept in `policy.saved_log_probs`", "`policy.saved_log_probs.clear()`"],
    ),
    "trainer_total_loss_attribute": (
        _TOTAL,
        ["through `self.epoch_loss`", "`self.epoch_loss += loss.item()`"],
    ),
    "attention_masked_fill_inplace": (
        _SAVED_OUTPUT,
        ["SoftmaxBackward0's `result`", "`masked_fill_` at tests/data/unseen/"],
    ),
    "preallocated_states_in_place": (
        {"versions/slice-assign-into-activation", "versions/view-shares-counter"},
        ["a view of states", "`slice assignment (__setitem__)` at tests/data/unseen/"],
    ),
    "step_between_two_backwards": (
        {
            "training-loop/gan-step-before-generator-backward",
            "versions/optimizer-step-bumps-version",
        },
        ["a view of encoder.2.weight", "`SGD.step()` at tests/data/unseen/"],
    ),
    "actor_critic_two_backwards": (
        {"graph/backward-through-freed-graph"},
        ["two backward calls over one forward"],
    ),
    "accuracy_loss_from_argmax": (
        _NO_GRAPH,
        ["a result of `argmax` at tests/data/unseen/accuracy_loss_from_argmax.py:13"],
    ),
    "train_loop_inside_no_grad": (
        {"training-loop/loss-under-no-grad"},
        ["`linear` ran with grad mode off", "fix: compute the training loss outside"],
    ),
    "weights_cast_after_requires_grad": (
        {"leaves/to-dtype-makes-non-leaf"},
        [
            "`weights` is not a leaf (its grad_fn is ToCopyBackward0): it was made by `double`"
            " at tests/data/unseen/weights_cast_after_requires_grad.py:9",
            "cast or move first, then require grad",
        ],
    ),
    "gradient_penalty_without_create_graph": (
        {"higher-order/grad-of-grad-without-create-graph"},
        ["a result of `autograd.grad` at tests/data/unseen/", "pass create_graph=True"],
    ),
    # No case shows a detach before the loss; the two no-graph cases' fix (a loss computed by
    # torch ops from the model's output) is the remedy, the run names the detach.
    "loss_through_detaching_helper": (
        _NO_GRAPH,
        ["a result of `detach` at tests/data/unseen/lib/postprocess.py:7, called from"],
    ),
    "dcgan_batchnorm_fake_reused": (
        {"training-loop/gan-fake-not-detached"},
        ["goes through `fake` again", "give that loss `fake.detach()`"],
    ),
    "metric_numpy_on_output": ({"conversions/numpy-of-requires-grad"}, []),
    "maml_grad_unused_head": (
        {"training-loop/grad-of-unused-parameter", "backward-api/grad-of-unused-input"},
        [],
    ),
    "init_leaf_in_place": ({"grad-mode/leaf-inplace-outside-no-grad"}, []),
    "squared_error_not_reduced": (
        {"training-loop/non-scalar-backward", "backward-api/non-scalar-backward"},
        [],
    ),
}
# The traceback shows one line (loss.backward()) and a message several causes share.
_TRACEBACK_CANNOT_TELL = {
    "actor_critic_two_backwards": "the other backward is not in the traceback",
    "step_between_two_backwards": "the optimizer step is not in the traceback",
    "preallocated_states_in_place": "the slice assignment is not in the traceback",
    "weights_cast_after_requires_grad": "the cast is not in the traceback",
    "gradient_penalty_without_create_graph": "the autograd.grad call is not in the traceback",
}


def _traceback_of(script: str) -> str:
    """What ``python SCRIPT`` prints: its warnings, then its traceback (run once, isolated)."""
    return output_of(UNSEEN / f"{script}.py")


def test_every_unseen_script_has_its_expected_diagnosis():
    assert {p.stem for p in UNSEEN.glob("*.py")} == set(EXPECT)


def _mark(script: str):
    reason = _TRACEBACK_CANNOT_TELL.get(script)
    return pytest.param(
        script, marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    )


@pytest.mark.parametrize("script", [_mark(s) for s in sorted(EXPECT)])
def test_explain_puts_first_a_case_whose_fix_fits_the_script(script):
    text = _traceback_of(script)
    assert "Traceback (most recent call last)" in text, f"{script} did not raise"
    first = match_text(text)[0]
    want = EXPECT[script][0]
    ok = want(first.case.id) if callable(want) else first.case.id in want
    assert first.tier == "declared" and ok, f"{first.case.id} first: {first.reasons}"


@pytest.mark.parametrize("script", sorted(s for s, (_, said) in EXPECT.items() if said))
def test_run_names_the_variable_and_the_line_to_change(script, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(UNSEEN))
    with isolated():
        status = run_script(f"tests/data/unseen/{script}.py", [])
    err = capsys.readouterr().err
    assert status == 1, err
    for words in EXPECT[script][1]:
        assert words in err, err


# Even with the code: limits of the case library and of the signals, checked to stay known.
_CODE_CANNOT_TELL = {
    "actor_critic_two_backwards": "the only cases of two losses over one graph are a GAN's",
    "preallocated_states_in_place": "no case writes each step's state into a preallocated tensor;"
    " the AsStrided op of its message is a carried state's",
}


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(s, marks=[pytest.mark.xfail(strict=True, reason=_CODE_CANNOT_TELL[s])])
        if s in _CODE_CANNOT_TELL
        else s
        for s in sorted(_TRACEBACK_CANNOT_TELL)
    ],
)
def test_the_script_pasted_above_its_traceback_tells_what_the_traceback_cannot(script):
    # A forum post: the code, then the traceback. The code's lines are read as context.
    code = (UNSEEN / f"{script}.py").read_text()
    first = match_text(code + "\n" + _traceback_of(script))[0]
    want = EXPECT[script][0]
    ok = want(first.case.id) if callable(want) else first.case.id in want
    assert first.tier == "declared" and ok, f"{first.case.id} first: {first.reasons}"


def test_a_grad_read_on_a_weight_rebuilt_from_itself_is_told_to_update_in_place(
    tmp_path, monkeypatch, capsys
):
    script = tmp_path / "manual_sgd.py"
    script.write_text(
        "import torch\n"
        "w = torch.randn(3, requires_grad=True)\n"
        "x = torch.randn(5, 3)\n"
        "for _ in range(2):\n"
        "    (x @ w).pow(2).mean().backward()\n"
        "    print(w.grad)\n"
        "    w = w - 0.1 * w.grad\n"
    )
    monkeypatch.chdir(tmp_path)
    with isolated():
        assert run_script("manual_sgd.py", []) == 1  # w.grad is None on the second pass
    err = capsys.readouterr().err
    assert "`w` is not a leaf (its grad_fn is SubBackward0): it was made by `sub`" in err
    assert "update it in place under torch.no_grad() (`w -= ...`)" in err


def test_a_cut_of_the_models_output_is_named_before_targets_made_from_numbers(
    tmp_path, monkeypatch, capsys
):
    script = tmp_path / "eval_as_train.py"
    script.write_text(
        "import torch\n"
        "model = torch.nn.Linear(3, 1)\n"
        "x = torch.randn(4, 3)\n"
        "print(model(x).sum().item())\n"
        "labels = torch.tensor([1.0, 0.0, 1.0, 0.0])\n"
        "with torch.no_grad():\n"
        "    pred = model(x).squeeze(1)\n"
        "loss = torch.nn.functional.mse_loss(labels, pred)\n"
        "loss.backward()\n"
    )
    monkeypatch.chdir(tmp_path)
    with isolated():
        assert run_script("eval_as_train.py", []) == 1
    err = capsys.readouterr().err
    assert "a result of `linear` at eval_as_train.py:7" in err
    assert "ran with grad mode off" in err
