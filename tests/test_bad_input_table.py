"""Bad input, row by row: exit status 2, one line naming the option and what would be right.

Every row runs in-process through ``rnn_autograd.cli.main`` and asserts: exit status 2; stderr
is exactly one line, ``rnn-autograd COMMAND: error: ...``, that contains the row's fragment (the
option or thing at fault) and a word of guidance; nothing on stdout; no traceback; no file under
the workspace created, removed or changed. The heavy work (training, benchmarking, predicting,
running a case) is replaced by a function that fails the row, so a bad input that slipped past
validation cannot hide behind a long run. The environment rows (standard input that is binary,
standard output that is full or ASCII-only) run as subprocesses at the end.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs import snapshot

import rnn_autograd.bench
from rnn_autograd.cli import main
from rnn_autograd.commands import check as check_cmd
from rnn_autograd.commands import graph as graph_cmd
from rnn_autograd.commands import predict as predict_cmd
from rnn_autograd.commands import spec as spec_cmd
from rnn_autograd.commands import train as train_cmd

CASE = "graph/backward-through-freed-graph"
HUGE = "9" * 30
LONG = "n" * 300
GUIDANCE = re.compile(
    r"\b(give|use|expected|must|at most|choose|drop|add|continue|create|wait|reduce|send|see|"
    r"closest|known|one of|try|pipe|train again|train afresh|resume with|pass|shorter|required)\b"
)


def _rows() -> list[tuple[str, str, str]]:
    """(argv with {placeholders}, fragment the error line must contain, stdin or '')."""
    rows: list[tuple[str, str, str]] = []

    def add(argv: str, fragment: str, stdin: str = "") -> None:
        rows.append((argv, fragment, stdin))

    # -- train: every whole-number option, every kind of bad number
    out = "--out {root}/new-run"
    ints = ["--epochs", "--batch-size", "--num-steps", "--hidden", "--layers", "--runs"]
    ints += ["--max-chars", "--threads"]
    for opt in ints:
        for bad in ["0", "-3", "1e9", "abc", "''", "2.5", "0x10"]:
            add(f"train {out} {opt} {bad}", opt)
    for bad in ["-1", "1e9", "abc", "''", HUGE, str(2**64)]:
        add(f"train {out} --seed {bad}", "--seed")
    # sizes that parse but cannot fit or finish: bounded by the machine, named in the line
    add(f"train {out} --hidden 1000000", "--hidden")
    add(f"train {out} --hidden 1000000000", "--hidden")
    add(f"train {out} --hidden {HUGE}", "--hidden")
    add(f"train {out} --layers 1000000", "--layers")
    add(f"train {out} --layers {HUGE}", "--layers")
    add(f"train {out} --runs 1000000000000", "--runs")
    add(f"train {out} --runs {HUGE}", "--runs")
    add(f"train {out} --epochs 1000000000", "--epochs")
    add(f"train {out} --epochs {HUGE}", "--epochs")
    add(f"train {out} --threads 100000", "--threads")
    add(f"train {out} --batch-size 100000", "--batch-size")
    add(f"train {out} --num-steps {HUGE}", "--num-steps")
    add(f"train {out} --batch-size 100 --runs 20", "--batch-size")
    # -- train: numbers with a range
    floats = {"--lr": ["0", "1e308"], "--lr-decay": ["0", "1.5"], "--clip": ["-0.5"]}
    floats["--eval-fraction"] = ["1", "-0.1"]
    for opt, extra in floats.items():
        for bad in ["inf", "nan", "-inf", "abc", "''", *extra]:
            add(f"train {out} {opt} {bad}", opt)
    # -- train: names and choices
    for bad in ["sometimes", "window:0", "window:-1", "window:x", "tbptt:3", "tbptt:10,5", "''"]:
        add(f"train {out} --strategy {bad}", "strategy")
    add(f"train {out} --strategy tbptt:7,14", "num_steps")
    for opt, bad in [("--cell", "lstmx"), ("--batching", "shuffled"), ("--optimizer", "rmsprop")]:
        add(f"train {out} {opt} {bad}", opt)
    add(f"train {out} --device tpu", "--device")
    add(f"train {out} --data ''", "--data")
    add(f"train {out} --data {{root}}/missing.txt", "--data")
    add(f"train {out} --data {{emptydir}}", "--data")
    add(f"train {out} --data {{foreign_random}}", "corpus")
    add(f"train {out} --data {{corpus}} --max-chars 5", "batch")
    add(f"train {out} --no-such-option", "unrecognized")
    add("train --epochs 2", "--out")
    # -- train: where the outputs go
    for where, fragment in [
        ("{file}", "--out"),
        ("/dev/null", "--out"),
        ("/proc/rnn-autograd-run", "--out"),
        ("/sys/rnn-autograd-run", "--out"),
        ("{file}/below", "--out"),
        ("{file}/below/deeper", "--out"),
        (f"{{root}}/{LONG}", "--out"),
        (f"{{root}}/{LONG}/x", "--out"),
        ("''", "--out"),
        ("{run}", "--resume"),  # a run is there: refused without --resume or --overwrite
    ]:
        add(f"train --out {where} --epochs 1", fragment)
    add("train --out {root}/run-with-folders --epochs 1", "metrics.json")
    add("train --out {run} --resume --overwrite", "--overwrite")
    add("train --out {emptydir} --resume", "--resume")
    # -- train --resume: options that come from the checkpoint are not changed silently
    for opt, other in [
        ("--data", "{corpus}"),
        ("--cell", "gru"),
        ("--strategy", "fresh"),
        ("--batching", "random"),
        ("--batch-size", "7"),
        ("--num-steps", "7"),
        ("--hidden", "32"),
        ("--layers", "2"),
        ("--optimizer", "adam"),
        ("--seed", "5"),
        ("--runs", "300"),
        ("--max-chars", "100"),
        ("--eval-fraction", "0.2"),
    ]:
        add(f"train --out {{run}} --resume --epochs 3 {opt} {other}", opt)
    add("train --out {run} --resume --epochs 1", "--epochs")
    add("train --out {run} --resume --epochs 3 --lr inf", "--lr")
    # -- train --resume: checkpoints with something wrong inside
    for name in [
        "no-model",
        "no-model-config",
        "no-config",
        "no-optimizer",
        "no-rng",
        "no-history",
        "no-strategy",
        "no-clip",
        "model-config-unknown-key",
        "model-config-missing-key",
        "model-config-wrong-size",
        "weights-wrong-shape",
        "weights-nan",
        "config-not-dict",
        "config-bad-cell",
        "config-bad-lr",
        "config-hidden-not-model",
        "other-optimizer",
        "optimizer-not-dict",
        "optimizer-no-groups",
        "rng-garbage",
        "history-not-epochs",
        "history-short",
        "epoch-negative",
        "other-strategy",
        "format-2",
    ]:
        add(f"train --out {{badrun_{name.replace('-', '_')}}} --resume --epochs 3", "checkpoint")

    # -- predict: checkpoints that are not ours, or ours with something wrong
    pre = "--prefix '1 2 3' --steps 3"
    for name in ["empty", "text", "random", "truncated", "pickle", "tensor", "list", "zip"]:
        add(f"predict --checkpoint {{foreign_{name}}} {pre}", "not a checkpoint of rnn-autograd")
    for name in [
        "no-model",
        "no-model-config",
        "model-config-unknown-key",
        "model-config-missing-key",
        "model-config-wrong-size",
        "model-config-bad-cell",
        "model-config-text-size",
        "model-config-huge",
        "model-not-tensors",
        "weights-wrong-shape",
        "weights-extra",
        "weights-nan",
        "vocab-without-unk",
        "vocab-duplicate",
        "vocab-wrong-length",
        "vocab-not-strings",
        "config-not-dict",
        "format-2",
    ]:
        add(f"predict --checkpoint {{bad_{name.replace('-', '_')}}} {pre}", "checkpoint")
    add(f"predict --checkpoint {{root}}/missing.pt {pre}", "checkpoint")
    add(f"predict --checkpoint {{run}} {pre}", "checkpoint.pt")
    add(f"predict --checkpoint '' {pre}", "checkpoint")
    add(f"predict --checkpoint {{file}} {pre}", "not a checkpoint of rnn-autograd")
    add(f"predict --checkpoint /dev/null {pre}", "checkpoint")
    # -- predict: options
    ck = "predict --checkpoint {ckpt} --prefix '1 2 3'"
    for bad in ["-1", "abc", "1e9", "''", "2.5"]:
        add(f"{ck} --steps {bad}", "--steps")
    add(f"{ck} --steps 1000000000", "--steps")
    add(f"{ck} --steps {HUGE}", "--steps")
    for bad in ["0", "-5", "inf", "nan", "abc", "''"]:
        add(f"{ck} --sample --temperature {bad}", "--temperature")
    add(f"{ck} --temperature -5", "--temperature")
    add(f"{ck} --temperature 2", "--temperature")
    add(f"{ck} --top-k 3", "--top-k")
    for bad in ["0", "-1", "abc", "1e3"]:
        add(f"{ck} --sample --top-k {bad}", "--top-k")
    for bad in ["-1", "abc", str(2**64), HUGE]:
        add(f"{ck} --seed {bad}", "--seed")
    add(f"{ck} --device tpu", "--device")
    for prefix, fragment in [
        ("''", "--prefix"),
        ("'   '", "prefix"),
        ("'12 345'", "prefix token 345"),
        ("'1 x'", "prefix token 'x'"),
        ("'1 99'", "prefix token 99"),
        ("-1", "prefix"),
        ("1.5", "prefix token '1.5'"),
        (f"'1 {HUGE}'", "prefix token"),
    ]:
        add(f"predict --checkpoint {{ckpt}} --prefix {prefix}", fragment)
    add("predict --prefix 1", "--checkpoint")
    add("predict --checkpoint {ckpt}", "--prefix")

    # -- bench
    bq = "bench --quick --out {root}/new-bench"
    for where in [
        "{file}",
        "/dev/null",
        "/proc/rnn-autograd-bench",
        "{file}/below",
        f"{{root}}/{LONG}",
        "''",
    ]:
        add(f"bench --quick --out {where}", "--out")
    for bad in ["''", "','", "' , '", "carry", "sometimes", "window:0", "tbptt:3,7", "detach,nope"]:
        add(
            f"{bq} --strategies {bad}",
            {"carry": "carry", "tbptt:3,7": "tbptt:3,7"}.get(bad, "strateg"),
        )
    for bad in ["0", "-1", "abc", "1e9", "''"]:
        add(f"{bq} --repeats {bad}", "--repeats")
    add(f"{bq} --repeats 1000000000", "repeats")
    add(f"{bq} --repeats {HUGE}", "repeats")
    for bad in ["-1", "abc", str(2**64)]:
        add(f"{bq} --seed {bad}", "--seed")
    add(f"{bq} --preset huge", "--preset")
    add("bench --quick --preset tiny --out {root}/new-bench", "--preset")
    add(f"{bq} --data {{root}}/missing.txt", "--data")
    add(f"{bq} --data {{corpus}}", "too few")
    add(f"{bq} --data {{foreign_random}}", "UTF-8")
    add(f"{bq} --device tpu", "--device")
    add("bench --quick", "--out")

    # -- graph
    g = f"graph {CASE}"
    for bad in ["0", "-5", "abc", "1e9", "''"]:
        add(f"{g} --max-nodes {bad}", "--max-nodes")
    for where, fragment in [
        ("''", "-o"),
        ("{file}/g.svg", "-o"),
        ("{root}/missing/g.svg", "-o"),
        ("/proc/g.svg", "-o"),
        ("{root}/g.txt", "-o"),
        ("{root}/g", "-o"),
        ("{emptydir}", "-o"),
        (f"{{root}}/{LONG}.svg", "-o"),
        ("/dev/null", "-o"),
    ]:
        add(f"{g} -o {where}", fragment)
    add(f"{g} --dot -o {{root}}/g.svg", "--dot")
    add("graph no/such-case", "case id")
    add("graph", "ID")

    # -- list, check, show, explain
    add(f"check {CASE} --family rnn-state", "--family")
    add("check --family no-such-family", "family")
    add("check no/such-case", "case id")
    add("list --family no-such-family", "family")
    add("list extra", "unrecognized")
    add("show no/such-case", "case id")
    add("show", "ID")
    add("explain ''", "error text")
    add("explain '   '", "error text")
    for bad in ["0", "-1", "abc", "''"]:
        add(f"explain --limit {bad} 'RuntimeError: x'", "--limit")
    add("explain -", "error text", stdin="")
    add("explain -", "binary", stdin="\x00\x01\x02binary\x00")
    add("explain", "error text", stdin="\n\n")
    # -- run (python's own words for a script it cannot open, then what to give)
    add("run", "SCRIPT")
    add("run {root}/missing.py", "missing.py")
    add("run {emptydir}", "can't open file")
    add("run {file}/below.py", "can't open file")
    # -- the command itself
    add("", "COMMAND")
    add("frobnicate", "invalid choice")
    add("--no-such-flag", "COMMAND")
    return rows


ROWS = _rows()


def _row_id(row) -> str:
    argv = row[0].replace("{", "").replace("}", "")
    return argv[:70] + (f" <{len(row[2])}B" if row[2] else "")


@pytest.fixture
def workspace(bad_input_workspace) -> dict[str, str]:
    return bad_input_workspace


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Training, benchmarking, predicting and running cases fail the row if they start."""

    def started(*args, **kwargs):
        raise AssertionError("the work started: this input passed validation")

    monkeypatch.setattr(train_cmd, "_run", started)
    monkeypatch.setattr(rnn_autograd.bench, "run_bench", started)
    monkeypatch.setattr(predict_cmd, "predict", started)
    monkeypatch.setattr(graph_cmd, "run_case", started)
    monkeypatch.setattr(spec_cmd, "check", started)
    monkeypatch.setattr(check_cmd, "check", started)


def _exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors exit from parse_args
        return exc.code


def test_the_table_holds_at_least_200_rows_over_every_subcommand():
    from rnn_autograd.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # the registered subcommands
    covered = {shlex.split(argv)[0] for argv, _, _ in ROWS if argv}
    assert len(ROWS) >= 200
    assert set(commands) <= covered, f"no rows for {set(commands) - covered}"


@pytest.mark.parametrize(("argv", "fragment", "stdin"), ROWS, ids=[_row_id(r) for r in ROWS])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    workspace, no_heavy_work, capsys, monkeypatch, argv, fragment, stdin
):
    root = Path(workspace["root"])
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("latin-1"))))
    args = shlex.split(argv.format(**workspace))
    before = snapshot(root)
    status = _exit_status(args)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status == 2, f"exit status {status}; stderr: {captured.err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert "Traceback" not in captured.err and captured.out == ""
    assert re.match(r"rnn-autograd( [\w-]+)?: error: ", lines[0]), lines[0]
    assert fragment.format(**workspace) in lines[0], lines[0]
    assert GUIDANCE.search(lines[0].split(": error: ", 1)[1]), f"no guidance in {lines[0]!r}"
    assert "weights_only" not in lines[0]
    assert snapshot(root) == before, "a bad input changed files on disk"
    assert not Path(workspace["marker"]).exists(), "a pickle in a checkpoint was executed"


def _run_with_streams(monkeypatch, argv: list[str], stdin: bytes, stdout) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.setattr(sys, "stdout", stdout)
    return _exit_status(argv)


ERROR = "RuntimeError: Trying to backward through the graph a second time"


def test_explain_reads_standard_input_that_is_not_utf8(monkeypatch, capsys):
    out = io.StringIO()
    status = _run_with_streams(
        monkeypatch, ["explain", "-"], (ERROR + " caf\xe9").encode("latin-1"), out
    )
    assert status == 0 and "graph/backward-through-freed-graph" in out.getvalue()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["graph", CASE], ["list"], ["show", CASE]], ids=" ".join)
def test_an_ascii_only_standard_output_gets_escapes_not_a_traceback(monkeypatch, capsys, argv):
    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii")
    assert _run_with_streams(monkeypatch, argv, b"", ascii_out) == 0
    ascii_out.flush()
    assert raw.getvalue() and capsys.readouterr().err == ""
    raw.getvalue().decode("ascii")  # every byte is ASCII


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("argv", [["check", CASE], ["explain", ERROR], ["list"]], ids=" ".join)
def test_a_full_standard_output_is_one_line_and_exit_2(monkeypatch, capsys, argv):
    with open("/dev/full", "w", encoding="utf-8") as full:
        status = _run_with_streams(monkeypatch, argv, b"", full)
        err = capsys.readouterr().err
        assert status == 2 and "Traceback" not in err
        assert err.splitlines() == [
            f"rnn-autograd {argv[0]}: error: cannot write the output (No space left on device); "
            "send standard output to a file or device with room"
        ]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_in_a_real_interpreter_a_full_stdout_ends_with_one_line():
    """The interpreter flushes stdout once more at exit: that flush must not add an
    "Exception ignored" traceback after the one line."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "rnn_autograd", "check", CASE],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
