"""Locations in the user's code: which files are the user's, how lines print, what a line carries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rnn_autograd.diagnose.locations import carried_names, format_chain, is_user_file


def test_torch_the_stdlib_and_this_project_are_not_user_code_but_a_script_and_a_cell_are(
    tmp_path,
):
    import json

    import rnn_autograd

    assert not is_user_file(torch.__file__)
    assert not is_user_file(json.__file__)
    assert not is_user_file(rnn_autograd.__file__)
    assert not is_user_file("<frozen importlib._bootstrap>")
    assert is_user_file(str(tmp_path / "train.py"))
    assert is_user_file("<ipython-input-3-abc>")


@pytest.mark.parametrize(
    ("line", "names", "summing"),
    [
        ("out, state = model(x, state)", ["state"], False),
        ("total_loss = total_loss + loss", ["total_loss"], True),
        ("total_loss += loss", ["total_loss"], True),
        ("h = torch.tanh(x @ w + h @ u)", ["h"], False),
        ("loss = criterion(y_hat, y)", [], False),
        ("for x, y in batches:", [], False),
    ],
    ids=["state", "running-sum", "aug-assign", "recurrence", "no-carry", "not-an-assignment"],
)
def test_the_carried_variable_is_the_one_a_line_reads_and_assigns(tmp_path, line, names, summing):
    script = tmp_path / "loop.py"
    script.write_text(line + "\n")
    assert carried_names((str(script), 1, "<module>")) == (names, summing)


def test_lines_print_relative_to_the_current_directory_with_callers_up_to_the_script(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    home = str(tmp_path / "train.py")
    helper = (str(tmp_path / "lib" / "helpers.py"), 7, "normalize_")
    middle = (str(tmp_path / "lib" / "steps.py"), 3, "step")
    script = (home, 12, "<module>")
    assert format_chain((helper, middle, script), home) == (
        f"lib{os.sep}helpers.py:7, called from lib{os.sep}steps.py:3, called from train.py:12"
    )
    assert format_chain((script,), home) == "train.py:12"
    inside = (home, 20, "sgd")
    assert format_chain((inside, script), home) == "train.py:20"
    assert (
        format_chain((inside, script), home, caller=True) == "train.py:20, called from train.py:12"
    )
    elsewhere = (str(Path("/") / "elsewhere.py"), 1, "<module>")
    assert format_chain((elsewhere,), home) == f"{Path('/') / 'elsewhere.py'}:1"
