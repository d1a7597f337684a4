"""Every case can be copied and run as it stands: its script needs torch and nothing of ours.

``rnn_autograd.spec.script.case_script`` gathers a case's imports and helpers; the docs show
that script and offer each page's cases as a notebook executed at build time (checked against
the declarations there) and as a ``.py`` file. Here: every script names nothing it does not
define, carries no lint markers, and two of them, run by a bare Python outside this repository,
print what the case observes. The notebooks the built site offers (``make docs``; skipped when
absent) are well-formed nbformat 4.5 with outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_autograd.spec import all_cases, check, get_case
from rnn_autograd.spec.script import _free_names, case_script, strip_lint_markers

DOWNLOADS = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html" / "downloads"


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_the_script_of_every_case_defines_every_name_it_uses(case):
    script = case_script(case).text
    compile(script, case.id, "exec")
    assert _free_names(script) == []
    assert "noqa" not in script and "rnn_autograd" not in script


def test_lint_markers_are_dropped_and_the_code_kept():
    line = "    l = loss(y_hat, y)  # noqa: E741 (the notebook's name)\nx = 1\n"
    assert strip_lint_markers(line) == "    l = loss(y_hat, y)\nx = 1\n"


def test_helpers_come_before_what_uses_them():
    script = case_script(get_case("rnn-state/detach-in-place"))
    setup = script.setup
    assert setup.index("NUM_STEPS, BATCH, EPOCHS =") < setup.index("BATCHES_PER_EPOCH =")
    assert setup.index("BATCHES_PER_EPOCH =") < setup.index("def epoch_means(")
    assert setup.index("def loader(") < setup.index("def notebook(")
    assert script.uses[:2] == ["notebook", "BATCH"]
    probe = case_script(get_case("rnn-state/no-detach")).setup
    assert "def snapshot(label, *tensors):" in probe  # the machinery's probe, as a no-op


@pytest.mark.parametrize(
    "case_id", ["rnn-state/detach-rebinding", "versions/inplace-on-saved-output"]
)
def test_a_script_run_by_a_bare_python_prints_what_the_case_observes(case_id, tmp_path):
    case = get_case(case_id)
    path = tmp_path / "case.py"
    path.write_text(case_script(case).text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(
        [sys.executable, "-I", str(path)], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    observation = check(case).observation
    if observation.raised is not None:
        assert done.stdout.startswith(f"{observation.raised_text()}")
    else:
        for name in observation.values:
            assert repr(name) in done.stdout


def _notebooks() -> list[Path]:
    return sorted(DOWNLOADS.glob("*.ipynb")) if DOWNLOADS.exists() else []


@pytest.mark.skipif(not _notebooks(), reason="the built site is absent; run `make docs` first")
@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_every_notebook_the_site_offers_is_nbformat_4_with_its_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 2
    for cell in nb["cells"]:
        assert set(cell) >= {"cell_type", "id", "metadata", "source"}
        assert all(isinstance(line, str) for line in cell["source"])
    for cell in code[1:]:  # each case's cell ran and printed its outcome, no error
        assert isinstance(cell["execution_count"], int)
        assert [o["output_type"] for o in cell["outputs"]] == ["stream"], cell["source"][:1]
    assert path.with_suffix(".py").exists()
    compile(path.with_suffix(".py").read_text(encoding="utf-8"), path.name, "exec")
