"""The library's public functions refuse a user's mistake in one ``UsageError`` line.

Never a deep torch error (an allocator failure, ``one_hot`` on a negative class, an overflow in
``manual_seed``): each row calls a public function with one bad argument and expects a
``UsageError`` whose one-line message names that argument.
"""

from __future__ import annotations

import pytest
import torch

from rnn_autograd import (
    RNNModel,
    UsageError,
    Vocab,
    counting_sequence,
    inspect_graph,
    load_char_corpus,
    make_batches,
    parse_strategy,
    predict,
    predict_text,
    run_bench,
    train,
)
from rnn_autograd.bench import preset, write_results
from rnn_autograd.pipeline import load_checkpoint, load_for_prediction, resolve_device

TOKENS = list(range(10)) * 10


@pytest.fixture(scope="module")
def model() -> RNNModel:
    torch.manual_seed(0)
    return RNNModel(20, 8)


def _batches():
    return make_batches("sequential", TOKENS, 2, 5)


CALLS = [
    # RNNModel
    ("RNNModel huge hidden", lambda m, p: RNNModel(20, 10**9), "num_hiddens"),
    ("RNNModel huge layers", lambda m, p: RNNModel(20, 256, num_layers=10**7), "num_layers"),
    ("RNNModel text size", lambda m, p: RNNModel("20", 8), "vocab_size"),
    ("RNNModel float size", lambda m, p: RNNModel(20, 8.5), "num_hiddens"),
    ("RNNModel bool size", lambda m, p: RNNModel(20, True), "num_hiddens"),
    ("RNNModel zero layers", lambda m, p: RNNModel(20, 8, num_layers=0), "num_layers"),
    ("RNNModel unknown cell", lambda m, p: RNNModel(20, 8, cell="transformer"), "cell"),
    ("RNNModel cell not text", lambda m, p: RNNModel(20, 8, cell=["rnn"]), "cell"),
    ("RNNModel fused text", lambda m, p: RNNModel(20, 8, fused="yes"), "fused"),
    # make_batches and friends
    ("make_batches text", lambda m, p: make_batches("sequential", "abc", 2, 2), "tokens"),
    ("make_batches floats", lambda m, p: make_batches("sequential", [0.5] * 50, 2, 2), "tokens"),
    ("make_batches 2-D", lambda m, p: make_batches("sequential", [[1, 2]] * 30, 2, 2), "tokens"),
    ("make_batches negative", lambda m, p: make_batches("sequential", [-1] * 50, 2, 2), "tokens"),
    ("make_batches objects", lambda m, p: make_batches("sequential", [object()], 2, 2), "tokens"),
    (
        "make_batches zero batch",
        lambda m, p: make_batches("sequential", TOKENS, 0, 2),
        "batch_size",
    ),
    ("make_batches float steps", lambda m, p: make_batches("windows", TOKENS, 2, 2.5), "num_steps"),
    ("make_batches kind", lambda m, p: make_batches("shuffled", TOKENS, 2, 2), "batching"),
    ("make_batches seed", lambda m, p: make_batches("random", TOKENS, 2, 2, seed="x"), "seed"),
    ("counting_sequence huge", lambda m, p: counting_sequence(10**12), "runs"),
    ("counting_sequence zero", lambda m, p: counting_sequence(0), "num_runs"),
    ("counting_sequence text", lambda m, p: counting_sequence("5"), "num_runs"),
    # parse_strategy
    ("parse_strategy None", lambda m, p: parse_strategy(None), "strategy"),
    ("parse_strategy number", lambda m, p: parse_strategy(4), "strategy"),
    ("parse_strategy window:0", lambda m, p: parse_strategy("window:0"), "strategy"),
    ("parse_strategy tbptt", lambda m, p: parse_strategy("tbptt:5,2"), "strategy"),
    # load_char_corpus
    ("corpus folder", lambda m, p: load_char_corpus(p), "folder"),
    ("corpus missing", lambda m, p: load_char_corpus(p / "missing.txt"), "not found"),
    ("corpus None", lambda m, p: load_char_corpus(None), "corpus"),
    ("corpus empty name", lambda m, p: load_char_corpus(""), "corpus"),
    ("corpus binary", lambda m, p: load_char_corpus(_write(p, b"ab\x00cd")), "binary"),
    ("corpus not utf-8", lambda m, p: load_char_corpus(_write(p, b"caf\xe9")), "UTF-8"),
    (
        "corpus max_chars 0",
        lambda m, p: load_char_corpus(_write(p, b"abc"), max_chars=0),
        "max_chars",
    ),
    ("corpus max_chars float", lambda m, p: load_char_corpus(_write(p, b"abc"), 1.5), "max_chars"),
    # predict
    ("predict text prefix", lambda m, p: predict(m, "1 2", 3), "prefix_ids"),
    ("predict float id", lambda m, p: predict(m, [1.5], 3), "prefix token"),
    ("predict negative id", lambda m, p: predict(m, [-1], 3), "prefix token"),
    ("predict negative steps", lambda m, p: predict(m, [1], -1), "num_preds"),
    ("predict huge steps", lambda m, p: predict(m, [1], 10**12), "num_preds"),
    ("predict float steps", lambda m, p: predict(m, [1], 2.5), "num_preds"),
    (
        "predict nan temperature",
        lambda m, p: predict(m, [1], 3, False, float("nan")),
        "temperature",
    ),
    (
        "predict inf temperature",
        lambda m, p: predict(m, [1], 3, False, float("inf")),
        "temperature",
    ),
    ("predict top_k 0", lambda m, p: predict(m, [1], 3, False, top_k=0), "top_k"),
    ("predict greedy text", lambda m, p: predict(m, [1], 3, greedy="no"), "greedy"),
    ("predict_text unknown", lambda m, p: predict_text(_char_model(), Vocab("ab"), "z", 2), "'z'"),
    # train
    ("train epochs float", lambda m, p: train(m, _batches(), epochs=2.5, lr=1.0), "epochs"),
    ("train epochs text", lambda m, p: train(m, _batches(), epochs="3", lr=1.0), "epochs"),
    ("train epochs negative", lambda m, p: train(m, _batches(), epochs=-1, lr=1.0), "epochs"),
    ("train lr inf", lambda m, p: train(m, _batches(), epochs=1, lr=float("inf")), "lr"),
    ("train lr nan", lambda m, p: train(m, _batches(), epochs=1, lr=float("nan")), "lr"),
    ("train lr text", lambda m, p: train(m, _batches(), epochs=1, lr="1"), "lr"),
    (
        "train lr_decay 0",
        lambda m, p: train(m, _batches(), epochs=1, lr=1.0, lr_decay=0),
        "lr_decay",
    ),
    (
        "train lr_decay 2",
        lambda m, p: train(m, _batches(), epochs=1, lr=1.0, lr_decay=2),
        "lr_decay",
    ),
    (
        "train clip nan",
        lambda m, p: train(m, _batches(), epochs=1, lr=1.0, clip=float("nan")),
        "clip",
    ),
    (
        "train optimizer",
        lambda m, p: train(m, _batches(), epochs=1, lr=1.0, optimizer="x"),
        "optimizer",
    ),
    ("train strategy", lambda m, p: train(m, _batches(), "nope", epochs=1, lr=1.0), "strategy"),
    (
        "train resume no path",
        lambda m, p: train(m, _batches(), epochs=1, lr=1, resume=True),
        "resume",
    ),
    ("train device", lambda m, p: train(m, _batches(), epochs=1, lr=1.0, device="tpu"), "device"),
    (
        "train device number",
        lambda m, p: train(m, _batches(), epochs=1, lr=1.0, device=3),
        "device",
    ),
    ("train resume foreign", lambda m, p: _resume_from(m, _write(p, b"junk")), "not a checkpoint"),
    # checkpoints
    ("load_checkpoint None", lambda m, p: load_checkpoint(None), "checkpoint"),
    ("load_checkpoint folder", lambda m, p: load_checkpoint(p), "folder"),
    (
        "load_for_prediction junk",
        lambda m, p: load_for_prediction(_write(p, b"x")),
        "not a checkpoint",
    ),
    # inspect_graph
    ("inspect_graph text", lambda m, p: inspect_graph("loss"), "tensors"),
    ("inspect_graph limit 0", lambda m, p: inspect_graph(_loss(), limit=0), "limit"),
    ("inspect_graph names", lambda m, p: inspect_graph(_loss(), names=5), "names"),
    # the benchmark
    ("preset unknown", lambda m, p: preset("huge"), "preset"),
    ("preset setting", lambda m, p: preset("tiny", repeat=2), "'repeat'"),
    ("preset repeats 0", lambda m, p: preset("tiny", repeats=0), "repeats"),
    ("preset repeats huge", lambda m, p: preset("tiny", repeats=10**9), "repeats"),
    ("preset strategies text", lambda m, p: preset("tiny", strategies="detach"), "strategies"),
    ("preset seed negative", lambda m, p: preset("tiny", seed=-1), "seed"),
    ("preset seed huge", lambda m, p: preset("tiny", seed=2**64), "seed"),
    ("preset lr inf", lambda m, p: preset("tiny", lr=float("inf")), "lr"),
    ("preset device", lambda m, p: preset("tiny", device="tpu"), "device"),
    ("preset threads", lambda m, p: preset("tiny", threads=10**6), "threads"),
    ("preset data", lambda m, p: preset("tiny", data="missing.txt"), "data"),
    ("run_bench name", lambda m, p: run_bench("tiny"), "BenchConfig"),
    ("run_bench carry", lambda m, p: run_bench(preset("tiny", strategies=("carry",))), "carry"),
    ("write_results /dev/null", lambda m, p: write_results({}, "/dev/null"), "out_dir"),
    ("write_results below file", lambda m, p: write_results({}, _write(p, b"x") / "d"), "out_dir"),
    # small helpers
    ("Vocab.from_tokens no unk", lambda m, p: Vocab.from_tokens(["a", "b"]), "<unk>"),
    ("Vocab.from_tokens text", lambda m, p: Vocab.from_tokens("<unk>ab"), "<unk>"),
    ("resolve_device number", lambda m, p: resolve_device(0), "device"),
]


def _write(folder, data: bytes):
    path = folder / "file.bin"
    path.write_bytes(data)
    return path


def _char_model() -> RNNModel:
    return RNNModel(3, 4)


def _loss() -> torch.Tensor:
    return (torch.ones(2, requires_grad=True) * 2).sum()


def _resume_from(model, path):
    return train(model, _batches(), epochs=1, lr=1.0, checkpoint_path=path, resume=True)


@pytest.mark.parametrize(("call", "fragment"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_a_bad_argument_is_one_usage_error_line_naming_it(model, tmp_path, call, fragment):
    with pytest.raises(UsageError) as info:
        call(model, tmp_path)
    message = str(info.value)
    assert "\n" not in message and fragment in message, message


def test_the_rows_cover_every_function_the_issue_names():
    names = {c[0].split()[0] for c in CALLS}
    wanted = {"RNNModel", "make_batches", "parse_strategy", "predict", "train", "preset"}
    assert wanted | {"inspect_graph", "run_bench", "corpus"} <= names


def test_a_temperature_near_zero_samples_the_argmax_instead_of_failing(model):
    gen = torch.Generator().manual_seed(0)
    greedy = predict(model, [1, 2], 5)
    assert predict(model, [1, 2], 5, greedy=False, temperature=1e-300, generator=gen) == greedy
