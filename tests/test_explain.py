"""``explain``: every raising case is found from its own error, by its own declaration."""

from __future__ import annotations

import io
import re
import traceback
from dataclasses import replace

import pytest

from rnn_autograd.cli import main
from rnn_autograd.diagnose.explain import match_error, match_exception, match_text, parse_error_text
from rnn_autograd.spec import ByTorch, Case, Raises, Returns, all_cases, run_case

RAISING = [c for c in all_cases() if c.fails_on_purpose]
_OBSERVED: dict[str, BaseException] = {}


def _raised(case: Case) -> BaseException:
    """The exception the case raises on the installed torch (each case run once per session)."""
    if case.id not in _OBSERVED:
        observation = run_case(case)
        assert observation.exception is not None, f"{case.id} declared a raise but returned"
        _OBSERVED[case.id] = observation.exception
    return _OBSERVED[case.id]


def _declared(case: Case) -> tuple[type, str]:
    d = case.outcome.resolve()
    return d.exc_type, d.pattern


def _traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _assert_ranked_first(case: Case, text: str) -> None:
    matches = match_text(text)
    own = next(m for m in matches if m.case.id == case.id)
    first = matches[0]
    assert own.tier == "declared"
    # The rule: this case, or a case declaring the same exception (type and pattern),
    # comes first. Cases whose messages are identical declare the same stable fragment.
    assert first.case.id == case.id or _declared(first.case) == _declared(case), (
        f"{first.case.id} ranked before {case.id}"
    )


@pytest.mark.parametrize("case", RAISING, ids=[c.id for c in RAISING])
def test_a_raising_case_is_ranked_first_from_its_full_traceback(case):
    _assert_ranked_first(case, _traceback_text(_raised(case)))


@pytest.mark.parametrize("case", RAISING, ids=[c.id for c in RAISING])
def test_a_raising_case_is_ranked_first_from_its_message(case):
    exc = _raised(case)
    _assert_ranked_first(case, f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("case", RAISING, ids=[c.id for c in RAISING])
def test_the_raised_exception_itself_matches_its_case_by_exact_type(case):
    exc = _raised(case)
    matches = match_exception(exc)
    assert any(m.case.id == case.id and m.tier == "declared" for m in matches)


def test_a_message_without_its_type_still_matches_by_pattern():
    matches = match_text("Trying to backward through the graph a second time (or directly ...)")
    assert matches and matches[0].tier == "pattern"
    assert "graph/backward-through-freed-graph" in {m.case.id for m in matches}


def test_the_raised_exception_of_a_chained_traceback_is_matched_before_its_cause():
    text = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 3, in <module>\n'
        "    p.grad.zero_()\n"
        "AttributeError: 'NoneType' object has no attribute 'zero_'\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 5, in <module>\n'
        "    loss.backward()\n"
        "RuntimeError: Trying to backward through the graph a second time (or directly access\n"
        "saved tensors after they have already been freed).\n"
    )
    errors = parse_error_text(text)
    assert [e.type_name for e in errors] == ["RuntimeError", "AttributeError"]
    assert errors[0].message.endswith("have already been freed).")
    assert errors[0].context == ("loss.backward()",)
    matches = match_text(text)
    assert matches[0].declared.pattern == "backward through the graph a second time"
    assert "leaves/grad-zero-after-zero-grad" in {m.case.id for m in matches}


def test_a_message_wrapped_by_a_terminal_still_matches():
    text = "RuntimeError: Trying to backward through the graph a\nsecond time"
    assert match_text(text)[0].tier == "declared"


def test_torch_frames_do_not_count_as_the_users_code():
    text = (
        "Traceback (most recent call last):\n"
        '  File "/site-packages/torch/_tensor.py", line 1, in backward\n'
        "    torch.autograd.backward(self)\n"
        "RuntimeError: boom\n"
    )
    assert parse_error_text(text)[0].context == ()


def _fake_case(outcome, question="Why does the frobnicator fail?") -> Case:
    return Case(
        id="fake/case",
        func=lambda: None,
        question=question,
        outcome=outcome,
        explanation="A made-up case for the matcher.",
    )


def test_a_declaration_for_another_torch_release_matches_after_the_installed_one():
    other = _fake_case(ByTorch({"<1.0": Raises(RuntimeError, "frobnicator"), ">=1.0": Returns()}))
    [m] = match_error("RuntimeError", "the frobnicator broke", cases=[other])
    assert m.tier == "declared" and m.other_torch == "<1.0"


def test_the_exact_exception_type_is_required_for_the_declared_tier():
    fake = _fake_case(Raises(RuntimeError, "frobnicator"))
    [m] = match_exception(ValueError("the frobnicator broke"), cases=[fake])
    assert m.tier == "pattern"


def test_words_in_common_are_only_a_hint():
    fake = _fake_case(Raises(RuntimeError, r"frobnicator \d+ exploded"))
    [m] = match_error("RuntimeError", "the frobnicator exploded", cases=[fake])
    assert m.tier == "hint" and m.score >= 0.5


def _run(argv, stdin="", monkeypatch=None, capsys=None):
    monkeypatch.setenv("RNN_AUTOGRAD_CACHE", "off")  # the tests leave no cache in $HOME
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_cases_with_question_fix_and_where_to_read_more(monkeypatch, capsys):
    code, out, _ = _run(
        ["explain", "AttributeError: 'NoneType' object has no attribute 'zero_'"],
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0
    assert "1. leaves/grad-zero-after-zero-grad" in out
    assert "Fix: leaves/zero-grad-keep-zeros:" in out
    assert "rnn-autograd show leaves/grad-zero-after-zero-grad" in out


def test_the_command_reads_a_traceback_from_standard_input(monkeypatch, capsys):
    case = next(c for c in RAISING if c.id == "graph/saved-tensor-after-backward")
    code, out, _ = _run(
        ["explain", "-"],
        stdin=_traceback_text(_raised(case)),
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0
    assert re.search(r"^1\. graph/saved-tensor-after-backward ", out, flags=re.M)


def test_the_command_exits_1_and_points_to_list_when_no_case_declares_the_error(
    monkeypatch, capsys
):
    code, out, _ = _run(["explain", "KeyError: 'vocab'"], monkeypatch=monkeypatch, capsys=capsys)
    assert code == 1
    assert "No case declares this error" in out and "rnn-autograd list" in out


def test_empty_input_is_a_one_line_usage_error(monkeypatch, capsys):
    code, out, err = _run(["explain", "-"], stdin="  \n", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "empty" in err


def test_a_jupyter_traceback_is_read_with_its_arrowed_line_as_code():
    text = (
        "RuntimeError                              Traceback (most recent call last)\n"
        "Cell In[3], line 7\n"
        "      6 loss.backward()\n"
        "----> 7 h.grad_fn._saved_result\n"
        "\n"
        "RuntimeError: Trying to backward through the graph a second time (or directly access "
        "saved tensors after they have already been freed).\n"
    )
    [error] = parse_error_text(text)
    assert error.type_name == "RuntimeError"
    assert error.context == ("loss.backward()", "h.grad_fn._saved_result")
    assert match_text(text)[0].case.id == "graph/saved-tensor-after-backward"


def test_a_pytest_failure_is_read_without_its_e_prefixes():
    text = (
        ">       loss.backward()\n"
        "E       RuntimeError: one of the variables needed for gradient computation has been\n"
        "E       modified by an inplace operation: [torch.FloatTensor [2]] is at version 1\n"
    )
    [error] = parse_error_text(text)
    assert (error.type_name, error.context) == ("RuntimeError", ("loss.backward()",))
    assert match_text(text)[0].declared.pattern == "modified by an inplace operation"


def _backward_of_a_loss(loss):
    loss.backward()


def _hooks_on_a_saved_tensor(node):
    node.register_hooks()


def test_a_pattern_in_the_first_sentence_outranks_one_found_in_the_advice_after_it():
    # The freed-graph case's code shows the user's line, a loss's backward: still ranked after.
    freed = replace(
        _fake_case(Raises(RuntimeError, "backward through the graph a second time")),
        func=_backward_of_a_loss,
    )
    hooks = replace(
        _fake_case(Raises(RuntimeError, "register_hooks on")),
        id="fake/hooks",
        func=_hooks_on_a_saved_tensor,
    )
    message = (
        "Calling register_hooks on a saved tensor after it has been freed. Specify"
        " retain_graph=True if you need to backward through the graph a second time."
    )
    ranked = match_error("RuntimeError", message, ("loss.backward()",), cases=[freed, hooks])
    assert [m.case.id for m in ranked] == ["fake/hooks", "fake/case"]
    assert ranked[1].fit > ranked[0].fit
    assert ranked[1].tail and not ranked[0].tail
