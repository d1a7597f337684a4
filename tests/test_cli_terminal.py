"""The command line on a terminal (Markdown, colour, a table that fits) and piped (plain)."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from rnn_autograd.cli import build_parser, main

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:  # what rich and the commands ask of a terminal
        return True


@pytest.fixture
def terminal(monkeypatch):
    """Run the command line with standard output and error as a terminal 80 columns wide."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("COLUMNS", "80")

    def run(argv: list[str]) -> tuple[int, str]:
        out, err = _Terminal(), _Terminal()
        # Inside the test's call: pytest re-installs its own capture between setup and call.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        return status, out.getvalue()

    return run


def test_show_on_a_terminal_renders_markdown_in_colour(terminal):
    status, text = terminal(["show", "graph/backward-through-freed-graph"])
    assert status == 0
    assert ANSI.search(text), "colour on a terminal"
    plain = ANSI.sub("", text)
    assert "y2.backward()" in plain and "```" not in plain, "code fences rendered, not printed"


def test_no_color_gives_plain_text_even_on_a_terminal(terminal, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    status, text = terminal(["show", "graph/backward-through-freed-graph"])
    assert status == 0
    assert not ANSI.search(text) and "Code:" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "graph/backward-through-freed-graph"],
        ["explain", "Trying to backward through the graph a second time"],
        ["check", "graph/backward-through-freed-graph"],
    ],
    ids=["show", "explain", "check"],
)
def test_piped_output_is_plain_text(capsys, argv):
    main(argv)
    out = capsys.readouterr()
    assert not ANSI.search(out.out + out.err)


def test_check_on_a_terminal_is_a_table_that_fits_and_keeps_ids_whole(terminal):
    ids = ["graph/backward-through-freed-graph", "rnn-state/retain-graph-then-step"]
    status, text = terminal(["check", *ids])
    assert status == 0
    lines = ANSI.sub("", text).splitlines()
    assert lines and max(len(line) for line in lines) <= 80, "fits 80 columns"
    assert all(any(i in line for line in lines) for i in ids), "ids are never wrapped"
    assert "…" not in "".join(lines), "cells wrap; nothing is cut"


def test_help_lists_commands_in_reading_order_with_an_example_each():
    text = build_parser().format_help()
    listed = re.findall(r"^    ([\w-]+) ", text, flags=re.M)
    reading_order = ["list", "show", "check", "explain", "graph", "train", "predict", "bench"]
    assert [n for n in listed if n in reading_order] == reading_order
    examples = text.split("examples:")[1].strip().splitlines()
    assert len(examples) == len(listed), "one example per command (its parser's epilog)"
    for name, example in zip(listed, examples, strict=True):
        assert re.search(rf"rnn-autograd {name}\b", example), (name, example)


def test_training_progress_is_a_bar_only_on_a_terminal(tmp_path, capsys):
    # stderr is captured here (not a terminal): the per-epoch line, never tqdm's bar.
    args = ["train", "--out", str(tmp_path / "run"), "--epochs", "1", "--hidden", "8"]
    assert main([*args, "--runs", "100", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "epoch 1/1: perplexity" in err
    assert "\r" not in err and "it/s" not in err
