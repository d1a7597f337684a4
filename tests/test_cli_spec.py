"""The command line for the spec: list, check, show, and one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnn_autograd.cli import main
from rnn_autograd.spec import all_cases


def test_list_prints_one_line_per_case_with_its_question(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(all_cases())
    first = all_cases()[0]
    assert lines[0].startswith(first.id) and lines[0].endswith(first.question)


def test_list_filters_by_family(capsys):
    assert main(["list", "--family", "graph"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(line.startswith("graph/") for line in lines)


def test_check_prints_a_table_and_a_summary_with_the_torch_version(capsys):
    import torch

    assert (
        main(["check", "graph/backward-through-freed-graph", "graph/retain-graph-shared-subgraph"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["id", "verdict", "declared,"]
    row = out.splitlines()[1].split()
    assert row[:3] == ["graph/backward-through-freed-graph", "match", "declared:"]
    assert out.splitlines()[2].split()[0] == "observed:", "observed in full under declared"
    assert f"2 of 2 cases match their declarations on torch {torch.__version__}" in out


def test_check_exits_1_on_a_mismatch(capsys, monkeypatch):
    from rnn_autograd.spec import Returns, get_case
    from rnn_autograd.spec.case import _REGISTRY

    good = get_case("graph/retain-graph-shared-subgraph")
    wrong = type(good)(**{**good.__dict__, "outcome": Returns({"x1.grad": 0})})
    monkeypatch.setitem(_REGISTRY, good.id, wrong)
    assert main(["check", good.id]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out and "0 of 1 cases match" in captured.out
    assert "x1.grad" in captured.err


def test_show_prints_question_code_outcome_explanation_and_fix(capsys):
    assert main(["show", "graph/backward-through-freed-graph"]) == 0
    out = capsys.readouterr().out
    for part in (
        "Code:",
        "Observed on torch",
        "Why:",
        "Do this instead: graph/retain-graph-shared-subgraph",
    ):
        assert part in out
    assert "y2.backward()" in out
    assert '"""' not in out, "the docstring is shown as the explanation, not inside the code"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["show", "graph/backward-through-freed-grph"],
            "closest: graph/backward-through-freed-graph",
        ),
        (
            ["check", "grahp/backward-through-freed-graph"],
            "closest: graph/backward-through-freed-graph",
        ),
        (["list", "--family", "grpah"], "unknown family 'grpah'; closest: graph"),
    ],
    ids=["show-typo", "check-typo", "family-typo"],
)
def test_an_unknown_id_or_family_is_one_line_naming_the_closest_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_a_bad_option_is_one_line_exit_2_without_usage_dump():
    proc = subprocess.run(
        [sys.executable, "-m", "rnn_autograd", "check", "--no-such-flag"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "unrecognized arguments" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run(
        [sys.executable, "-m", "rnn_autograd", "list"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "graph/" in proc.stdout
