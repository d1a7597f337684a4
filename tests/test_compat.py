"""Every torch release the project claims: the records, their freshness, and the user's suite.

- the records of ``docs/compat/`` (made by ``tools/compat.sh``) are fresh: every current case
  is in each, with the declaration it has now; a stale one fails naming the command to re-record;
- ``pyproject.toml``'s torch range is exactly oldest .. newest record, and each record matched;
- ``rnn-autograd check --json`` / ``--junit-xml``; the pytest suite inside the package, run from
  an installed (non-editable) copy, one test per case with the case id as its id.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import torch
from packaging.specifiers import SpecifierSet

from rnn_autograd.cli import main
from rnn_autograd.spec import Returns, all_cases, families, get_case
from rnn_autograd.spec.case import _REGISTRY

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
from compat_matrix import (  # noqa: E402 - docs/_ext is not a package
    DIFFERENT,
    MATCH,
    cell,
    load_records,
    rerecord_command,
    stale_reasons,
)

RECORDS = load_records()
# The releases the project claims to have checked (issue 12): oldest kept, one between 2.5 and
# 2.9, the CI release, the newest the build machines offer.
REQUIRED = {"2.2.2", "2.7.1", "2.13.0", "2.14.1"}


def test_the_required_releases_are_recorded():
    assert {r["torch_release"] for r in RECORDS} >= REQUIRED


@pytest.mark.parametrize("record", RECORDS, ids=[r["torch_release"] for r in RECORDS])
def test_each_record_is_fresh_for_the_current_cases_and_declarations(record):
    reasons = stale_reasons(record)
    assert not reasons, (
        f"docs/compat/{record['_path'].name} (torch {record['torch_release']}) is stale; "
        f"re-record it from the checkout's root with:\n    {rerecord_command(record)}\n"
        "(or tools/compat-again.sh to re-record every release). Why:\n  - " + "\n  - ".join(reasons)
    )


@pytest.mark.parametrize("record", RECORDS, ids=[r["torch_release"] for r in RECORDS])
def test_each_record_matched_when_it_was_made_and_says_how_it_was_made(record):
    assert record["summary"]["mismatch"] == 0, [
        c["id"] for c in record["cases"] if c["verdict"] != "match"
    ]
    made = record["recorded"]
    assert made["command"].endswith(f"tools/compat.sh {record['torch_release']}")
    assert made["date"] and made["venv"] and record["python"] and record["platform"]
    assert record["torch"].split("+")[0] == record["torch_release"]
    assert re.match(r"\d+ passed$", made["pytest --pyargs rnn_autograd"]), made


def test_a_missing_case_or_a_changed_declaration_makes_a_record_stale(monkeypatch):
    record = RECORDS[-1]
    fresh = {**record, "_by_id": dict(record["_by_id"])}
    some = all_cases()[0]
    del fresh["_by_id"][some.id]
    assert any(some.id in r and "not in the record" in r for r in stale_reasons(fresh))
    changed = type(some)(**{**some.__dict__, "outcome": Returns({"x": 1})})
    monkeypatch.setitem(_REGISTRY, some.id, changed)
    assert any(r.startswith(f"{some.id}: recorded declaration") for r in stale_reasons(record))


def test_the_declared_torch_range_is_exactly_the_recorded_releases():
    declared = re.search(r'^\s*"torch([<>=!~][^"]*)"', (ROOT / "pyproject.toml").read_text(), re.M)
    spec = SpecifierSet(declared.group(1))
    releases = [r["torch_release"] for r in RECORDS]
    assert str(spec) == f"<={releases[-1]},>={releases[0]}" or set(map(str, spec)) == {
        f">={releases[0]}",
        f"<={releases[-1]}",
    }
    assert "2.13.0" in spec, "CI installs torch==2.13.0 first"


def test_the_detach_warning_is_declared_differently_before_2_7():
    case = get_case("detach/torch-tensor-of-a-tensor")
    by_release = {r["torch_release"]: cell(case, r, RECORDS[-1]) for r in RECORDS}
    assert by_release["2.2.2"] == DIFFERENT and by_release["2.14.1"] == MATCH


def test_clone_then_detach_records_a_clone_node_that_detach_first_does_not():
    # The explanation of detach/torch-tensor-of-a-tensor: both spellings copy, one records more.
    state = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    cloned = state.clone()
    assert cloned.grad_fn.name() == "CloneBackward0"
    assert cloned.detach().grad_fn is None and state.detach().clone().grad_fn is None


def test_check_json_is_one_document_with_every_field(capsys):
    ids = ["graph/backward-through-freed-graph", "detach/torch-tensor-of-a-tensor"]
    assert main(["check", "--json", *ids]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["torch"] == torch.__version__ and doc["python"] and doc["platform"]
    assert [c["id"] for c in doc["cases"]] == ids
    assert {"id", "declared", "observed", "verdict", "mismatches"} <= set(doc["cases"][0])
    assert doc["summary"] == {"cases": 2, "match": 2, "mismatch": 0}
    assert doc["cases"][1]["declared_for_torch"] == ">=2.7"


def test_check_junit_xml_has_one_test_per_case_and_a_failure_for_a_mismatch(
    tmp_path, monkeypatch, capsys
):
    good = get_case("graph/retain-graph-shared-subgraph")
    monkeypatch.setitem(
        _REGISTRY, good.id, type(good)(**{**good.__dict__, "outcome": Returns({"x1.grad": 0})})
    )
    out = tmp_path / "spec.xml"
    assert (
        main(["check", "--junit-xml", str(out), good.id, "graph/backward-through-freed-graph"]) == 1
    )
    suite = ET.parse(out).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failed = [tc for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert [tc.get("name") for tc in failed] == [good.id]
    text = failed[0].find("failure").text
    assert "declared: returns x1.grad = 0" in text and "observed: returns" in text


def test_the_package_suite_shows_declared_and_observed_side_by_side(monkeypatch):
    from rnn_autograd.cases.test_cases_on_this_torch import test_case

    good = get_case("graph/retain-graph-shared-subgraph")
    monkeypatch.setitem(
        _REGISTRY, good.id, type(good)(**{**good.__dict__, "outcome": Returns({"x1.grad": 0})})
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        test_case(good.id)
    lines = str(failed.value).splitlines()
    assert lines[2].startswith("declared: returns x1.grad = 0")
    assert lines[3].startswith("observed: returns x1.grad = tensor(")


_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def test_the_suite_runs_every_case_from_an_installed_copy(tmp_path):
    """``pip install`` (not editable) into a folder, then pytest --pyargs from elsewhere."""
    site = tmp_path / "site"
    # A clean copy of what a release holds: an in-tree build/ could carry stale modules along.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "rnn_autograd", src / "rnn_autograd", ignore=_BYTECODE)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # Offline and quick with the venv's own setuptools; where it has none (Python 3.12+ venvs),
    # pip builds in an isolated environment of its own.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation]
        + ["--no-compile", "--target", str(site), str(src)],
        check=True,
        capture_output=True,
    )
    assert (site / "rnn_autograd" / "cases" / "test_cases_on_this_torch.py").exists()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "rnn_autograd", "-q", "-p", "no:cacheprovider"]
        + ["-rN", "--junit-xml", str(tmp_path / "suite.xml")],
        cwd=tmp_path,  # not the checkout: only the installed copy can be imported
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{len(all_cases())} passed" in run.stdout
    names = [tc.get("name") for tc in ET.parse(tmp_path / "suite.xml").getroot().iter("testcase")]
    assert sorted(names) == sorted(f"test_case[{c.id}]" for c in all_cases())
    where = subprocess.run(
        [sys.executable, "-c", "import rnn_autograd; print(rnn_autograd.__file__)"],
        **{"cwd": tmp_path, "env": env, "capture_output": True, "text": True},
    )
    assert Path(where.stdout.strip()).is_relative_to(site), "the installed copy is what ran"


def test_the_matrix_folds_a_family_unless_one_of_its_cells_is_wrong(monkeypatch):
    import compat_matrix

    folded = compat_matrix.matrix_markdown()
    assert folded.count('<details class="compat-family">') == len(families())
    assert " open>" not in folded  # every record matches: every family folded
    first = all_cases()[0]
    real = compat_matrix.cell
    monkeypatch.setattr(
        compat_matrix,
        "cell",
        lambda c, r, n=None: compat_matrix.MISMATCH if c.id == first.id else real(c, r, n),
    )
    shown = compat_matrix.matrix_markdown()
    opened = re.search(r'<details class="compat-family" open><summary>([^<]*)</summary>', shown)
    assert opened and opened.group(1).startswith(first.family + ":")
    assert "NOT MATCHING OR NOT RECORDED" in opened.group(1)
    assert f"| `{first.id}` | MISMATCH" in shown
