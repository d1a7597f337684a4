"""Nothing is lost: one training per folder, no silent replacement, no NaN checkpoint, valid JSON.

Covers the run folder's lock (a second training into the same --out is refused while the first
holds it; a lock left by a dead process is no lock), ``--overwrite`` and ``--resume`` (which
options a resumed run takes from its checkpoint, which it may change and says so), stale
temporary files of killed checkpoint writes, weights that turn non-finite on an epoch's last
step, and metrics written as valid JSON whatever the numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from rnn_autograd.cli import main
from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline import RNNModel, load_checkpoint, save_checkpoint, sequential_batches
from rnn_autograd.pipeline.checkpoint import remove_stale_temps
from rnn_autograd.pipeline.outputs import LOCK_NAME, RunLock, json_safe, write_json
from rnn_autograd.pipeline.training import NonFiniteLossError, train

QUICK = ["--epochs", "1", "--hidden", "8", "--runs", "100", "--quiet", "--threads", "1"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # waited for: no process has this id now (reuse within the test is remote)


def _files(folder) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_second_training_into_a_locked_folder_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock(out):  # another training holds the folder
        assert main(["train", "--out", str(out), *QUICK]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"process {os.getpid()} is training into it" in err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    assert not (out / LOCK_NAME).exists(), "the lock is removed on release"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    assert not (out / LOCK_NAME).exists()


def test_a_lock_file_left_by_a_dead_process_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_NAME).write_text(f"{_dead_pid()}\n")
    with RunLock(folder):  # flock: nobody holds the kernel lock on that file
        assert (folder / LOCK_NAME).read_text().strip() == str(os.getpid())
    # the O_EXCL fallback, for systems without flock: the PID in the file decides
    (folder / LOCK_NAME).write_text(f"{_dead_pid()}\n")
    fallback = RunLock(folder)._acquire_excl()
    assert (folder / LOCK_NAME).read_text().strip() == str(os.getpid())
    fallback.release()
    (folder / LOCK_NAME).write_text(f"{os.getppid()}\n")  # a live process holds it
    with pytest.raises(UsageError, match=f"process {os.getppid()} is training into it"):
        RunLock(folder)._acquire_excl()


def test_training_into_a_folder_with_a_run_needs_overwrite_or_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    before = _files(out)
    assert main(["train", "--out", str(out), *QUICK]) == 2
    assert "already holds a run" in capsys.readouterr().err and _files(out) == before
    assert main(["train", "--out", str(out), *QUICK, "--overwrite", "--seed", "3"]) == 0
    assert load_checkpoint(out / "checkpoint.pt")["config"]["seed"] == 3


def test_resume_applies_a_new_lr_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    capsys.readouterr()
    resume = ["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]
    assert main([*resume, "--lr", "0.25", "--clip", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "rnn-autograd train: resuming with --lr 0.25 (the run had 1.0)" in err
    assert "rnn-autograd train: resuming with --clip 0 (the run had 1.0)" in err
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["config"]["lr"] == 0.25 and ckpt["config"]["clip"] is None
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 0.25
    assert json.loads((out / "metrics.json").read_text())["config"]["lr"] == 0.25


def test_resume_to_the_epochs_already_done_says_there_is_nothing_to_do(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    before = _files(out)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--epochs", "1"]) == 0
    assert "has already trained 1 epochs (--epochs 1); nothing to do" in capsys.readouterr().err
    assert _files(out) == before


def test_stale_temporary_files_of_killed_writes_are_removed_at_the_next_write(tmp_path):
    target = tmp_path / "checkpoint.pt"
    dead, alive = _dead_pid(), os.getppid()
    names = {
        ".checkpoint.pt.k3j_x9q2.tmp": False,  # the older naming, no PID: left by a kill
        f".checkpoint.pt.{dead}-a8d7f6g5.tmp": False,  # its writer is gone
        f".checkpoint.pt.{alive}-a8d7f6g5.tmp": True,  # a live writer: not ours to remove
        ".other.pt.k3j_x9q2.tmp": True,  # another file's temporary
        "notes.tmp": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x" * 100)
    save_checkpoint(target, {"epoch": 0})
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"checkpoint.pt", *(n for n, keep in names.items() if keep)}
    assert remove_stale_temps(target) == []


def test_weights_that_turn_non_finite_on_the_last_step_are_never_saved(tmp_path):
    ckpt = tmp_path / "c.pt"
    batches = sequential_batches(list(range(20)) * 20, 4, 5)
    last = len(batches) - 1

    def poison(i, info):  # after the optimizer step of epoch 2's last batch: the loss was finite
        if info["epoch"] == 1 and i == last:
            with torch.no_grad():  # a test's own write into a weight, outside any graph
                model.linear.weight.fill_(math.nan)

    torch.manual_seed(0)
    model = RNNModel(20, 8)
    with pytest.raises(NonFiniteLossError, match="weights became inf or nan in the last step"):
        train(model, batches, epochs=3, lr=0.5, checkpoint_path=ckpt, on_batch=poison)
    saved = load_checkpoint(ckpt)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in saved["model"].values())


def test_metrics_are_valid_json_with_null_and_the_reason_for_non_finite_numbers(tmp_path):
    data = {"perplexity": math.inf, "epochs": [{"loss": math.nan}, {"loss": 1.5}], "ok": 2}
    path = write_json(tmp_path / "metrics.json", data)

    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    loaded = json.loads(path.read_text(), parse_constant=refuse)
    assert loaded["perplexity"] is None and loaded["epochs"][0]["loss"] is None
    assert loaded["non_finite"]["values"] == {"perplexity": "inf", "epochs.0.loss": "nan"}
    assert "written as null" in loaded["non_finite"]["reason"]
    assert json_safe({"a": [1.0]}) == ({"a": [1.0]}, {})


def test_a_diverging_run_fails_with_advice_and_leaves_no_non_finite_file(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *QUICK, "--optimizer", "adam", "--lr", "1000"]
    assert main([*args, "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "try a smaller learning rate (--lr)" in err
    assert not (out / "metrics.json").exists() and not (out / "checkpoint.pt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for argv in (
            ["train", "--out", str(ro / "run"), *QUICK],
            ["bench", "--quick", "--out", str(ro)],
            ["graph", "graph/backward-through-freed-graph", "-o", str(ro / "g.svg")],
        ):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"cannot create files in {ro}" in err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)
