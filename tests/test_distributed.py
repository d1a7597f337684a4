"""Training on several processes: 2 ranks of B/2 rows train as 1 process of B rows; bad input.

Every test that starts processes bounds its wait (``timeout=``) and, past it, kills the whole
process group it started; the ranks a launcher starts stop by themselves when it is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rnn_autograd.cli import main
from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline import distributed

ROOT = Path(__file__).resolve().parents[1]
# the seed data, small: 400 runs of 5 tokens, 4 rows of 20 steps a batch, 25 batches an epoch
TRAIN = ["train", "--runs", "400", "--hidden", "32", "--batch-size", "4", "--quiet"]
DEADLINE = 120  # seconds for one multi-process run on a busy 2-core machine


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GLOO_SOCKET_IFNAME": "lo"}


def _run(cmd: list[str], timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a session of its own; past ``timeout`` kill that whole group and fail."""
    proc = subprocess.Popen(
        cmd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{cmd} ran past {timeout} s and was killed")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _launch(args: list[str]) -> subprocess.CompletedProcess:
    """``rnn-autograd ARGS`` (with --nproc) as a process of its own, bounded; it must succeed."""
    done = _run([sys.executable, "-m", "rnn_autograd", *args])
    assert done.returncode == 0, done.stderr
    return done


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoint.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    """The reference: one process, batch 4, 2 epochs of detach."""
    out = tmp_path_factory.mktemp("one") / "run"
    assert main([*TRAIN, "--epochs", "2", "--out", str(out)]) == 0
    return out


def test_two_processes_of_2_rows_under_torchrun_equal_one_process_of_4_rows(one_process, tmp_path):
    out = tmp_path / "torchrun"
    port = distributed.free_port()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    rendezvous = ["--master-addr", "127.0.0.1", "--master-port", str(port)]
    done = _run(
        [*torchrun, *rendezvous, "-m", "rnn_autograd", *TRAIN, "--epochs", "2", "--out", str(out)]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("wrote ") == 1, "rank 0 alone prints"
    metrics = json.loads((out / "metrics.json").read_text())
    one = json.loads((one_process / "metrics.json").read_text())
    assert metrics["processes"] == 2
    assert metrics["epochs"][-1]["tokens"] == one["epochs"][-1]["tokens"], "the same rows in all"
    assert metrics["perplexity"] == pytest.approx(one["perplexity"], rel=1e-5)
    for name, w in _weights(one_process).items():
        torch.testing.assert_close(_weights(out)[name], w, rtol=1e-5, atol=1e-6)


def test_nproc_2_resumes_a_checkpoint_and_still_equals_one_process(one_process, tmp_path, capsys):
    out = tmp_path / "nproc"
    assert main([*TRAIN, "--epochs", "1", "--out", str(out)]) == 0  # epoch 1 in one process
    done = _launch([*TRAIN, "--epochs", "2", "--nproc", "2", "--resume", "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "metrics.json"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["processes"] == 2
    assert done.stdout.count("wrote ") == 1, "rank 0 alone prints"
    for name, w in _weights(one_process).items():
        torch.testing.assert_close(_weights(out)[name], w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--nproc", "0"], "--nproc must be >= 1"),
        (["--nproc", "5"], "more processes than rows"),
        (["--nproc", "3"], "does not split evenly over --nproc 3"),
    ],
    ids=["zero", "more-than-rows", "uneven"],
)
def test_a_bad_number_of_processes_is_one_line_and_exit_2(extra, says, tmp_path, capsys):
    assert main([*TRAIN, "--epochs", "1", *extra, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [*TRAIN, "--epochs", "1", "--nproc", "2", "--port", str(port)]
        assert main([*args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is not free" in err and err.count("\n") == 1


def _children(pid: int) -> dict[int, int]:
    """Rank -> pid of the processes whose parent is ``pid`` (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            ranks = [e[5:] for e in environ if e.startswith(b"RANK=")]
            if ranks:
                found[int(ranks[0])] = int(entry.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the ranks in /proc")
def test_a_rank_that_dies_stops_the_others_with_one_line_and_exit_2(tmp_path):
    cmd = [sys.executable, "-m", "rnn_autograd", *TRAIN, "--epochs", "1000", "--nproc", "2"]
    launcher = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "x")],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while len(ranks := _children(launcher.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(ranks) == 2, "the launcher did not start 2 ranks"
        time.sleep(2)  # let them join the group and train
        os.kill(ranks[1], signal.SIGKILL)
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.communicate()
    assert launcher.returncode == 2
    assert "rank 1 of 2 died (killed by SIGKILL); the other ranks were stopped" in err
    time.sleep(1)
    assert not [
        p
        for p in ranks.values()
        if Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]
    ]


def test_each_rank_takes_its_contiguous_share_of_every_batchs_rows():
    X = torch.arange(24).reshape(4, 6)  # 4 rows
    batches = [(X, X + 1)]
    shares = [list(distributed.rows_of_rank(batches, distributed.Ranks(r, 2))) for r in (0, 1)]
    assert torch.equal(shares[0][0][0], X[:2]) and torch.equal(shares[1][0][0], X[2:])
    assert torch.equal(shares[1][0][1], X[2:] + 1)


def test_check_world_names_what_would_do():
    with pytest.raises(UsageError, match=r"use --nproc <= 4"):
        distributed.check_world(8, 4)
    distributed.check_world(2, 4)  # fine


def test_a_strategy_that_runs_several_forwards_per_backward_trains_per_rank_as_in_one_process(
    tmp_path, capsys
):
    # tbptt:20,40: a no-grad forward between updates, then two forwards before one backward
    args = [*TRAIN, "--epochs", "1", "--strategy", "tbptt:20,40"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    _launch([*args, "--nproc", "2", "--out", str(tmp_path / "two")])
    for name, w in _weights(tmp_path / "one").items():
        torch.testing.assert_close(_weights(tmp_path / "two")[name], w, rtol=1e-5, atol=1e-6)
