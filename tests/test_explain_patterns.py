"""``explain`` tells apart errors that share a message, from real tracebacks of user scripts.

Each script in ``tests/data/tracebacks/`` is a failing user program in its smallest realistic
form. It is run here, in this process, on the installed torch (isolated: RNG and grad mode
restored), and its real traceback (or warning line) is what ``explain -`` reads. The case ranked
first must have the same message (the same op in "output N of X"), stand for the same pattern,
and name a fix for that code.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from script_output import output_of

from rnn_autograd.cli import main
from rnn_autograd.diagnose.code_signals import code_signals, fix_adds_trap
from rnn_autograd.diagnose.error_features import SESSION, message_features
from rnn_autograd.diagnose.explain import match_text
from rnn_autograd.spec import get_case

SCRIPTS = Path(__file__).parent / "data" / "tracebacks"

_NO_GRAPH_CASES = {"training-loop/loss-under-no-grad", "training-loop/loss-from-numpy"}
# script -> (the cases that stand for its pattern, the fix that works for its code)
PATTERNS = {
    "gan_step_before_generator_backward": (
        {"training-loop/gan-step-before-generator-backward"},
        "training-loop/gan-generator-backward-before-step",
    ),
    "gan_fake_not_detached": (
        {"training-loop/gan-fake-not-detached"},
        "training-loop/gan-generator-backward-before-step",
    ),
    "lstm_retain_graph_adam": (
        {"training-loop/lstm-retain-graph-adam"},
        "training-loop/repackage-hidden",
    ),
    "gru_retain_graph_adamw": (
        {"training-loop/gru-retain-graph-adamw"},
        "training-loop/repackage-hidden",
    ),
    "relu_inplace_on_saved": (
        {"versions/relu-inplace-on-saved-input"},
        "versions/activation-out-of-place",
    ),
    # Its traceback shows loss.backward() and "output 0 of Exp": either Exp case, each fix
    # writing out of place (pasted code decides: test_pasted_code_names_the_in_place_habit).
    "relu_underscore_on_exp": (
        {"versions/relu-underscore-on-exp-output", "versions/inplace-on-saved-output"},
        {"versions/activation-out-of-place", "versions/out-of-place-instead"},
    ),
    "slice_assign_activation": (
        {"versions/slice-assign-into-activation"},
        "versions/mask-out-of-place",
    ),
    "view_of_leaf_inplace": (
        {"versions/inplace-on-view-of-leaf"},
        "versions/view-of-leaf-under-no-grad",
    ),
    "view_of_saved_inplace": (
        {"versions/inplace-on-view-of-saved-output"},
        "versions/clamp-out-of-place",
    ),
    "manual_sgd_outside_no_grad": (
        {"grad-mode/leaf-inplace-outside-no-grad"},
        "grad-mode/leaf-inplace-under-no-grad",
    ),
    "running_total_backward": (
        {"training-loop/running-total-backward", "training-loop/running-total-inplace"},
        "training-loop/running-total-of-items",
    ),
    "running_total_inplace": (
        {"training-loop/running-total-inplace", "training-loop/running-total-backward"},
        "training-loop/running-total-of-items",
    ),
    "rnn_state_not_detached": ({"rnn-state/no-detach"}, "rnn-state/detach-in-place"),
    # Their tracebacks show one line, loss.backward(), and the same message: either case, one fix
    # (pasted code tells them apart: test_pasted_code_tells_apart_two_losses_without_a_graph).
    "loss_under_no_grad": (_NO_GRAPH_CASES, "training-loop/loss-in-grad-mode"),
    "loss_from_numpy": (_NO_GRAPH_CASES, "training-loop/loss-in-grad-mode"),
    # A per-sample loss (reduction="none") is both cases' code: reducing it, or seeding
    # backward with gradient=torch.ones_like(loss) (its sum's gradient), works for the script.
    "non_scalar_backward": (
        {"training-loop/non-scalar-backward", "backward-api/non-scalar-backward"},
        {"training-loop/reduce-before-backward", "backward-api/backward-with-gradient"},
    ),
    "autograd_grad_unused_input": (
        {"training-loop/grad-of-unused-parameter"},
        "training-loop/grad-allow-unused",
    ),
    "hook_on_tensor_without_grad": (
        {"training-loop/hook-on-input-without-grad"},
        "training-loop/hook-after-requires-grad",
    ),
    # The traceback shows only the optimizer's line; the cast before it is an op after
    # requires_grad=True in both cases, and both fixes (cast first, then require grad) work.
    "cast_after_requires_grad": (
        {"training-loop/cast-after-requires-grad-to-optimizer", "optimizers/non-leaf-parameter"},
        {"training-loop/cast-then-requires-grad", "optimizers/scaled-init-as-leaf"},
    ),
    "nonleaf_grad_warning": ({"leaves/grad-of-non-leaf-is-none"}, "leaves/retain-grad"),
}


def _output_of(script: str) -> str:
    """What the user sees: the script's warning lines, then its traceback (run once)."""
    return output_of(SCRIPTS / f"{script}.py")


def _observed(case_id: str) -> str:
    return SESSION.message(get_case(case_id)) or ""


def test_every_script_is_a_pattern_and_every_pattern_a_script():
    assert {p.stem for p in SCRIPTS.glob("*.py")} == set(PATTERNS)


@pytest.mark.parametrize("script", sorted(PATTERNS))
def test_explain_names_first_the_pattern_of_a_real_traceback_and_a_fix_for_it(script):
    text = _output_of(script)
    assert text.strip(), f"{script} neither raised nor warned"
    first = match_text(text)[0]
    cases, fix = PATTERNS[script]
    assert first.tier == "declared"
    assert first.case.id in cases, f"{first.case.id} ranked first: {first.reasons}"
    assert first.case.fix in ({fix} if isinstance(fix, str) else fix)


@pytest.mark.parametrize(
    "script",
    [
        s
        for s in sorted(PATTERNS)
        if s.startswith(("relu", "slice", "view_of_saved", "gan_step", "gru", "lstm"))
    ],
)
def test_the_first_case_names_the_same_op_as_the_users_message(script):
    text = _output_of(script)
    first = match_text(text)[0]
    user = message_features(text.strip().splitlines()[-1])
    own = message_features(_observed(first.case.id))
    assert (own.names_op, own.op) == (user.names_op, user.op)


_STALE = (
    "RuntimeError: one of the variables needed for gradient computation has been modified by an "
    "inplace operation: [torch.FloatTensor [{shape}]]{clause}, is at version {now}; expected "
    "version {expected} instead. Hint: enable anomaly detection to find the operation that "
    "failed to compute its gradient, with torch.autograd.set_detect_anomaly(True)."
)


@pytest.mark.parametrize(
    "clause, op",
    [
        (", which is output 0 of ExpBackward0", "Exp"),  # the wording of torch < 2.4
        (", which is output 0 of SigmoidBackward0", "Sigmoid"),
        (", which is output 0 of Sigmoid", "Sigmoid"),
        (", which is output 0 of AsStridedBackward0", "AsStrided"),
        (", which is output 0 of ReluBackward0", "Relu"),
        ("", None),
    ],
)
def test_a_bare_message_is_matched_by_the_op_it_names(clause, op):
    text = _STALE.format(shape="3, 4", clause=clause, now=1, expected=0)
    first = match_text(text)[0]
    own = message_features(_observed(first.case.id))
    assert own.op == op and own.names_op == (op is not None)


def test_a_parameter_saved_directly_after_steps_points_to_a_carried_state():
    text = _STALE.format(shape="1024, 256", clause="", now=2, expected=1)
    assert match_text(text)[0].case.id == "training-loop/lstm-retain-graph-adam"


def test_a_gap_of_two_on_a_view_of_a_weight_points_to_adamw():
    text = _STALE.format(
        shape="256, 768", clause=", which is output 0 of AsStrided", now=5, expected=3
    )
    assert match_text(text)[0].case.id == "training-loop/gru-retain-graph-adamw"


_FREED = (
    "RuntimeError: Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph are "
    "freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need "
    "to backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
_CARRIED_LOOP = (
    "for inputs, targets in loader:\n"
    "    output, hidden = model(inputs, hidden)\n"
    "    loss = criterion(output, targets)\n"
    "    optimizer.zero_grad()\n"
    "    loss.backward()\n"
    "    optimizer.step()\n\n"
    "Traceback (most recent call last):\n"
    '  File "train.py", line 31, in <module>\n'
    "    loss.backward()\n"
    '  File "/usr/lib/python3/site-packages/torch/_tensor.py", line 626, in backward\n'
    "    torch.autograd.backward(\n"
)


def _fix_retains(case_id: str) -> bool:
    c = get_case(case_id)
    return fix_adds_trap(c, get_case(c.fix))


@pytest.mark.parametrize(
    "text",
    [_FREED, _CARRIED_LOOP + _FREED, "Trying to backward through the graph a second time"],
    ids=["bare message", "pasted loop and traceback", "fragment without type"],
)
def test_a_freed_graph_is_never_headed_by_a_retain_graph_fix_unless_the_code_asks_for_one(text):
    matches = match_text(text)
    assert not _fix_retains(matches[0].case.id), matches[0].case.id
    assert any(_fix_retains(m.case.id) and m.trap for m in matches)


def test_a_carried_hidden_state_leads_to_the_detach_case():
    first = match_text(_CARRIED_LOOP + _FREED)[0]
    fix = get_case(first.case.fix)
    assert "detach" in code_signals(fix.source.splitlines()), first.case.id
    assert any("hidden" in r for r in first.reasons)


def test_a_retain_graph_fix_is_a_trap_where_the_user_already_retains_and_steps():
    text = _output_of("lstm_retain_graph_adam")
    trapped = [m for m in match_text(text) if _fix_retains(m.case.id)]
    assert all(m.trap for m in trapped)


def test_a_warning_line_finds_the_case_that_declares_it():
    line = (
        "train.py:12: UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is "
        "being accessed. Its .grad attribute won't be populated during autograd.backward().\n"
        "  print(h.grad)\n"
    )
    matches = match_text(line)
    assert matches and matches[0].tier == "declared"
    assert matches[0].case.id in {
        "leaves/grad-of-non-leaf-is-none",
        "leaves/to-dtype-makes-non-leaf",
    }


@pytest.mark.parametrize(
    "text",
    [
        "UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed.",
        "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed",
    ],
    ids=["warning raised as an error", "bare warning text"],
)
def test_a_warning_without_its_file_line_is_matched_too(text):
    assert match_text(text)[0].case.id in {
        "leaves/grad-of-non-leaf-is-none",
        "leaves/to-dtype-makes-non-leaf",
    }


def test_an_exception_in_a_log_with_warnings_is_ranked_before_the_warnings_cases():
    log = _output_of("nonleaf_grad_warning") + _output_of("non_scalar_backward")
    assert match_text(log)[0].case.id in PATTERNS["non_scalar_backward"][0]


def test_the_command_shows_why_each_case_matched_and_the_line_to_change(monkeypatch, capsys):
    monkeypatch.setenv("RNN_AUTOGRAD_CACHE", "off")
    monkeypatch.setattr("sys.stdin", io.StringIO(_output_of("running_total_backward")))
    assert main(["explain", "-n", "2", "-"]) == 0
    out = capsys.readouterr().out
    assert "change: total_loss" in out and "to: total_loss += loss.item()" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(_output_of("lstm_retain_graph_adam")))
    assert main(["explain", "-n", "1", "-"]) == 0
    out = capsys.readouterr().out
    assert "Matched: no 'output N of' clause" in out
    assert "add: hidden = repackage_hidden(hidden)" in out
    assert "change: loss.backward(retain_graph=True)  (your line)" in out


def test_observed_messages_are_cached_on_disk_and_rerun_when_the_case_changes(tmp_path):
    from rnn_autograd.diagnose.error_features import ObservedMessages

    path = tmp_path / "observed.json"
    first = ObservedMessages(path)
    case = get_case("versions/inplace-on-saved-output")
    message = first.message(case)
    first.save()
    assert "output 0 of Exp" in message and path.is_file()
    again = ObservedMessages(path)
    again._disk = {case.id: {"key": "stale", "message": "something else"}}
    assert again.message(case) == message  # a stale key runs the case again


@pytest.mark.parametrize(
    "code, case_id",
    [
        (
            "loss = torch.tensor(np.mean(np.abs(pred.detach().numpy() - y.numpy())))",
            "training-loop/loss-from-numpy",
        ),
        ("with torch.no_grad():\n    out = model(x)", "training-loop/loss-under-no-grad"),
    ],
)
def test_pasted_code_tells_apart_two_losses_without_a_graph(code, case_id):
    text = code + "\n\n" + _output_of("loss_from_numpy")
    first = match_text(text)[0]
    assert first.case.id == case_id, first.reasons


@pytest.mark.parametrize(
    "code, case_id",
    [
        ("    torch.relu_(scale)", "versions/relu-underscore-on-exp-output"),
        ("    scale += 1", "versions/inplace-on-saved-output"),
    ],
)
def test_pasted_code_names_the_in_place_habit(code, case_id):
    text = "def scaled(x):\n    scale = torch.exp(log_scale)\n" + code + "\n\n"
    first = match_text(text + _output_of("relu_underscore_on_exp"))[0]
    assert first.case.id == case_id, first.reasons


def test_a_torch_1_message_on_a_cuda_tensor_still_reads_its_view_and_versions():
    text = _STALE.format(
        shape="64, 1", clause=", which is output 0 of TBackward", now=2, expected=1
    )
    text = text.replace("torch.FloatTensor", "torch.cuda.FloatTensor")
    features = message_features(text)
    assert (features.op, features.now, features.expected, features.rank) == ("T", 2, 1, 2)
    first = match_text(text)[0]
    assert message_features(_observed(first.case.id)).op == "AsStrided"


def test_the_anomaly_mode_hint_tells_apart_cases_that_share_the_rest_of_the_message():
    off = _observed("versions/inplace-on-saved-output")
    on = _observed("anomaly/version-error-under-anomaly-mode")
    assert message_features(off).anomaly is False and message_features(on).anomaly is True
    assert match_text(f"RuntimeError: {on}")[0].case.id.startswith("anomaly/")
    assert not match_text(f"RuntimeError: {off}")[0].case.id.startswith("anomaly/")
