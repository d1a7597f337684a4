"""The examples run: ``examples/notebook.py --quick`` end to end, as CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_notebook_example_runs_quickly_end_to_end():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "notebook.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "state.requires_grad before detach_(), 38 batches: False, True x37" in out
    assert "predict('1 2 3', 3)  -> [1, 2, 3, " in out
    assert "predict('1 2 3', 10) -> [1, 2, 3, " in out
    for kind, batch in [("windows", 50), ("windows", 48), ("sequential", 10)]:
        assert any(line.split()[:2] == [kind, str(batch)] for line in out.splitlines())
    assert done.stderr == ""
