"""Property-based fuzzing of the argument parser and the checkpoint loader (hypothesis).

Whatever a user types, ``main`` either reaches the work (replaced here by a marker exception),
or returns 0/1, or returns 2 with one line on stderr; it never raises anything else. Whatever file
is given as a checkpoint (random bytes, a truncated or byte-flipped checkpoint, a real archive with
any entry replaced by junk or removed), the loaders either load it or raise one ``UsageError``
line; they never raise a torch error and never suggest ``weights_only=False``. Bounded example
counts and no deadline keep these to seconds.
"""

from __future__ import annotations

import copy
import io
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnn_autograd.bench
from rnn_autograd.cli import build_parser, main
from rnn_autograd.commands import check as check_cmd
from rnn_autograd.commands import graph as graph_cmd
from rnn_autograd.commands import predict as predict_cmd
from rnn_autograd.commands import spec as spec_cmd
from rnn_autograd.commands import train as train_cmd
from rnn_autograd.commands._validate import check_run_config
from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline.checkpoint import load_checkpoint
from rnn_autograd.pipeline.checkpoint_contents import check_resumable
from rnn_autograd.pipeline.prediction import load_for_prediction
from rnn_autograd.pipeline.state import parse_strategy
from rnn_autograd.pipeline.training import make_optimizer

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Reached(Exception):
    """The input passed validation and the work would start now."""


@pytest.fixture
def workspace(bad_input_workspace) -> dict[str, str]:
    return bad_input_workspace


@pytest.fixture
def no_work(monkeypatch, tmp_path):
    def reached(*args, **kwargs):
        raise Reached

    for module, name in [
        (train_cmd, "RunLock"),  # nothing is written into a run folder
        (train_cmd, "_run"),
        (rnn_autograd.bench, "run_bench"),
        (predict_cmd, "predict"),
        (graph_cmd, "run_case"),
        (spec_cmd, "check"),
        (check_cmd, "check"),
    ]:
        monkeypatch.setattr(module, name, reached)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))


def _options() -> dict[str, list[str]]:
    """Every subcommand and its option strings, read from the real parser."""
    sub = build_parser()._subparsers._group_actions[0]
    return {
        name: [s for a in p._actions for s in a.option_strings if s not in ("-h", "--help")]
        for name, p in sub.choices.items()
    }


OPTIONS = _options()
SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00.", blacklist_categories=("Cs",)),
    max_size=8,
)
VALUES = st.one_of(
    st.sampled_from(
        ["0", "1", "2", "-1", "1e9", "inf", "nan", "", "abc", "9" * 30, "0.5", "detach"]
        + ["window:2", "tbptt:20,40", "seed", "/dev/null", "/proc/x", "rnn", "cpu", "{ckpt}"]
        + ["graph/backward-through-freed-graph", "-", "1 2 3", "adam", "quick"]
    ),
    SAFE_TEXT,
    st.integers(-(2**70), 2**70).map(str),
)


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    argv = [command]
    for _ in range(draw(st.integers(0, 6))):
        if OPTIONS[command] and draw(st.booleans()):
            argv.append(draw(st.sampled_from(OPTIONS[command])))
        argv.append(draw(VALUES))
    return argv


@FUZZ
@given(argv=command_lines())
def test_any_command_line_reaches_the_work_or_ends_in_one_line(workspace, no_work, capsys, argv):
    argv = [a.replace("{ckpt}", workspace["ckpt"]) for a in argv]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: errors (2), --help and --version (0)
        status = exc.code
    except Reached:
        return
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert status in (0, 1, 2), (argv, status, err)
    if status == 2:
        assert len(err.splitlines()) == 1, (argv, err)


def _assert_one_line(exc: UsageError) -> None:
    text = str(exc)
    assert "\n" not in text and "weights_only" not in text, text


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_not_a_checkpoint(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "checkpoint.pt"
    path.write_bytes(data)
    with pytest.raises(UsageError, match="is not a checkpoint of rnn-autograd") as info:
        load_checkpoint(path)
    _assert_one_line(info.value)


@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True), flips=st.lists(st.integers(0, 10**9), max_size=4))
def test_a_truncated_or_byte_flipped_checkpoint_loads_or_is_one_line(
    workspace, tmp_path_factory, cut, flips
):
    raw = bytearray(Path(workspace["ckpt"]).read_bytes())
    for f in flips:
        raw[f % len(raw)] ^= 0xFF
    data = bytes(raw) if flips else bytes(raw[: int(len(raw) * cut)])
    path = tmp_path_factory.mktemp("cut") / "checkpoint.pt"
    path.write_bytes(data)
    try:
        load_for_prediction(path)
    except UsageError as exc:
        _assert_one_line(exc)


def _paths(x, prefix=()) -> list[tuple]:
    """Every key path into a checkpoint's nested dicts and lists (not into tensors)."""
    out = []
    if isinstance(x, dict):
        items = x.items()
    elif isinstance(x, list | tuple):
        items = enumerate(x)
    else:
        return out
    for k, v in items:
        out.append((*prefix, k))
        if len(prefix) < 4:
            out += _paths(v, (*prefix, k))
    return out


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 30), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.builds(
        lambda shape, fill: torch.full(shape, fill),
        st.lists(st.integers(0, 3), max_size=3).map(tuple),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
)


@st.composite
def damaged(draw, good: dict) -> dict:
    ckpt = copy.deepcopy(good)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(ckpt)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = ckpt
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, tuple):
            break  # Python's random state: tuples, replaced whole instead
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JUNK)
    return ckpt


@FUZZ
@given(data=st.data())
def test_a_checkpoint_with_entries_replaced_or_removed_loads_or_is_one_line(
    workspace, tmp_path_factory, data
):
    good = torch.load(workspace["ckpt"], weights_only=True)
    ckpt = data.draw(damaged(good))
    path = tmp_path_factory.mktemp("junk") / "checkpoint.pt"
    torch.save(ckpt, path)
    rng = torch.get_rng_state()
    try:
        load_for_prediction(path)
    except UsageError as exc:
        _assert_one_line(exc)
    try:  # what `train --resume` checks before any work
        loaded = load_checkpoint(path)
        cfg = check_run_config(loaded.get("config"), path)
        model_config = {
            "vocab_size": 20,
            "num_hiddens": cfg["hidden"],
            "cell": cfg["cell"],
            "num_layers": cfg["layers"],
        }
        strategy = parse_strategy(cfg["strategy"])
        check_resumable(path, loaded, model_config, cfg["optimizer"], strategy, make_optimizer)
    except UsageError as exc:
        _assert_one_line(exc)
    assert torch.equal(torch.get_rng_state(), rng), "checking a checkpoint changed the RNG"
