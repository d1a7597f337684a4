"""Bad input to ``rnn-autograd run``: the script's own behaviour, plus at most one line from us."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_autograd.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _python(script: Path, *args: str) -> subprocess.CompletedProcess:
    kw = dict(capture_output=True, text=True, timeout=120, cwd=script.parent)
    return subprocess.run([sys.executable, script.name, *args], **kw)


def _both(
    script: Path, *args: str
) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """``rnn-autograd run SCRIPT`` and ``python SCRIPT``, each in its own process (end to end)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kw = dict(capture_output=True, text=True, timeout=120, cwd=script.parent, env=env)
    ours = subprocess.run([sys.executable, "-m", "rnn_autograd", "run", script.name, *args], **kw)
    return ours, _python(script, *args)


def _in_process(script: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.chdir(script.parent)
    status = main(["run", script.name])
    return status, capsys.readouterr().err


def test_a_script_runs_as_main_with_its_argv_its_folder_first_and_its_exit_status(tmp_path):
    (tmp_path / "sibling.py").write_text("VALUE = 'imported from the script folder'\n")
    script = tmp_path / "prog.py"
    script.write_text(
        "import sys, sibling\nprint(__name__, sys.argv, sibling.VALUE)\nsys.exit(3)\n"
    )
    ours, theirs = _both(script, "a", "--flag")
    assert (ours.returncode, ours.stdout, ours.stderr) == (3, theirs.stdout, theirs.stderr)
    assert theirs.stdout == "__main__ ['prog.py', 'a', '--flag'] imported from the script folder\n"


def test_a_syntax_error_is_pythons_own_report_and_status_1(tmp_path, monkeypatch, capsys):
    script = tmp_path / "broken_syntax.py"
    script.write_text("x = (\n")
    theirs = _python(script)
    assert _in_process(script, monkeypatch, capsys) == (1, theirs.stderr)


def test_a_non_autograd_error_is_pythons_traceback_plus_one_line(tmp_path, monkeypatch, capsys):
    script = tmp_path / "value_error.py"
    script.write_text("def f():\n    raise ValueError('boom')\n\nf()\n")
    theirs = _python(script)
    status, err = _in_process(script, monkeypatch, capsys)
    assert status == theirs.returncode == 1
    assert err.startswith(theirs.stderr)
    extra = err[len(theirs.stderr) :].splitlines()
    assert extra == [
        "rnn-autograd run: ValueError is not an autograd error this tool knows; nothing to add"
    ]


def test_a_script_that_exits_normally_prints_only_its_own_output(tmp_path, capsys, monkeypatch):
    script = tmp_path / "fine.py"
    script.write_text(
        "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\nprint(x.grad.tolist())\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "fine.py"]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == ("[2.0, 2.0]\n", "")


@pytest.mark.parametrize("make", ["missing", "unreadable", "directory"])
def test_a_script_that_cannot_be_read_is_one_line_and_status_2(tmp_path, capsys, make):
    path = tmp_path / "script.py"
    if make == "unreadable":
        path.write_text("print('never')\n")
        path.chmod(0)
        if os.access(path, os.R_OK):  # root reads anything
            pytest.skip("running as root: every file is readable")
    elif make == "directory":
        path.mkdir()
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"rnn-autograd run: error: can't open file '{path}': [Errno ")
