"""The ``train`` and ``predict`` commands: outputs, resume, and one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
from test_predict import predict_ch8  # the notebook's function, copied as it is

from rnn_autograd.bench.limits import counting_limit
from rnn_autograd.cli import main
from rnn_autograd.pipeline.prediction import load_for_prediction

QUICK = ["--epochs", "2", "--hidden", "16", "--runs", "200", "--quiet"]


@pytest.fixture
def run_dir(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    capsys.readouterr()
    return out


def test_train_writes_metrics_with_stable_top_level_keys_and_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *QUICK]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("perplexity", "accuracy", "tokens_per_s"):
        assert isinstance(metrics[key], float)
    assert len(metrics["epochs"]) == 2 and metrics["eval_perplexity"] > 1.0
    assert metrics["limits"]["carried"] == pytest.approx(counting_limit().perplexity)
    assert (out / "checkpoint.pt").is_file()
    printed = capsys.readouterr().out
    assert f"wrote {out / 'metrics.json'} and {out / 'checkpoint.pt'}" in printed
    assert "best perplexity any model can reach" in printed


def test_predict_prints_the_prefix_and_the_predicted_tokens(run_dir, capsys):
    ckpt = str(run_dir / "checkpoint.pt")
    assert main(["predict", "--checkpoint", ckpt, "--prefix", "1 2 3", "--steps", "3"]) == 0
    prefix_line, predicted_line = capsys.readouterr().out.splitlines()
    assert prefix_line.split() == ["prefix:", "1", "2", "3"]
    predicted = predicted_line.split()
    assert predicted[0] == "predicted:" and len(predicted) == 4
    assert all(0 <= int(t) < 20 for t in predicted[1:])


def test_resume_continues_the_run_to_the_requested_epoch(run_dir, capsys):
    args = ["train", "--out", str(run_dir), "--epochs", "3", "--resume", "--quiet"]
    assert main(args) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]


def test_train_on_a_text_file_and_predict_text(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the time traveller for so it will be convenient to speak of him " * 30)
    out = tmp_path / "text"
    args = ["train", "--data", str(corpus), "--out", str(out), "--epochs", "1", "--hidden", "8"]
    assert main([*args, "--batch-size", "4", "--num-steps", "10", "--quiet"]) == 0
    capsys.readouterr()
    ckpt = str(out / "checkpoint.pt")
    assert main(["predict", "--checkpoint", ckpt, "--prefix", "The ", "--steps", "5"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "prefix:    'the '"


def test_carry_fails_with_exit_1_and_names_the_case(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "c"), "--strategy", "carry", *QUICK]) == 1
    assert "rnn-state/no-detach" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--strategy", "sometimes"], "unknown strategy 'sometimes'"),
        (["train", "--strategy", "window:0"], "unknown strategy 'window:0'"),
        (["train", "--data", "no/such/file.txt"], "file not found"),
        (["train", "--batching", "shuffled"], "invalid choice: 'shuffled'"),
        (["train", "--epochs", "0"], "argument --epochs: expected a whole number >= 1"),
        (["train", "--batch-size", "100", "--runs", "20"], "too short for one sequential batch"),
        (["train", "--resume"], "nothing to resume"),
        (["train", "--threads", "0"], "argument --threads: expected a whole number from 1 to"),
        (["train", "--device", "tpu"], "invalid choice: 'tpu'"),
        (["predict", "--checkpoint", "missing.pt", "--prefix", "1"], "checkpoint not found"),
    ],
    ids=lambda v: v[1] if isinstance(v, list) else None,
)
def test_every_bad_argument_is_one_line_and_exit_status_2(tmp_path, capsys, args, message):
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "out")]
    else:
        args = [a if a != "missing.pt" else str(tmp_path / a) for a in args]
    assert _exit_status(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_predict_reads_the_notebooks_prefix_123_as_the_notebooks_predict_ch8_does(run_dir, capsys):
    ckpt = str(run_dir / "checkpoint.pt")
    assert main(["predict", "--checkpoint", ckpt, "--prefix", "123", "--steps", "5"]) == 0
    captured = capsys.readouterr()
    assert main(["predict", "--checkpoint", ckpt, "--prefix", "1 2 3", "--steps", "5"]) == 0
    assert captured.out == capsys.readouterr().out  # the same tokens, the same prediction
    prefix_line, predicted_line = captured.out.splitlines()
    assert prefix_line.split() == ["prefix:", "1", "2", "3"]
    # the notebook's own function on the same trained model continues it the same way
    model, _, _ = load_for_prediction(ckpt, "cpu")
    notebook = predict_ch8("123", 5, model, "cpu")
    assert [int(t) for t in predicted_line.split()[1:]] == notebook[3:]
    # 20 tokens: "123" could also mean 12 3, so the command says how it read it, in one line
    note = captured.err.strip().splitlines()
    assert len(note) == 1 and "one digit per token" in note[0] and "'12 3'" in note[0]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("1 234", "prefix token 234 is outside the vocabulary"), ("1 x", "not an integer id")],
)
def test_a_bad_prefix_is_one_line_and_exit_status_2(run_dir, capsys, prefix, message):
    ckpt = str(run_dir / "checkpoint.pt")
    assert main(["predict", "--checkpoint", ckpt, "--prefix", prefix]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def _exit_status(args: list[str]) -> int:
    """The command's exit status, whether it returns it or argparse exits with it."""
    try:
        return main(args)
    except SystemExit as exc:
        return exc.code
