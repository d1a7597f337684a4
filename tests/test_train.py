"""The trainer: metrics, evaluation, checkpoints, resume, and stopping on a non-finite loss."""

from __future__ import annotations

import math

import pytest
import torch

from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline.checkpoint import load_checkpoint, save_checkpoint
from rnn_autograd.pipeline.data import counting_sequence, random_batches, sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.training import NonFiniteLossError, evaluate, train

TOKENS = counting_sequence(num_runs=60, seed=2)  # 300 tokens
HELD = counting_sequence(num_runs=20, seed=3)


def _model(cell="rnn", seed=0):
    torch.manual_seed(seed)
    return RNNModel(15, 8, cell=cell)


def _random_batches(epoch):
    return random_batches(TOKENS, 4, 5, seed=epoch)  # new batches every epoch, reproducibly


def test_history_has_per_epoch_perplexity_accuracy_and_speed():
    batches = sequential_batches(TOKENS, 4, 5)
    history = train(_model(), batches, "detach", epochs=3, lr=1.0, eval_batches=batches)
    assert [e.epoch for e in history.epochs] == [1, 2, 3]
    for e in history.epochs:
        assert e.tokens == len(batches) * 4 * 5 and e.updates == len(batches)
        assert 1.0 <= e.perplexity < 15 * 2 and 0.0 <= e.accuracy <= 1.0
        assert e.tokens_per_s > 0 and e.eval_perplexity is not None
    assert history.perplexity == history.epochs[-1].perplexity
    assert history.epochs[-1].perplexity < history.epochs[0].perplexity  # it learns
    assert set(history.to_dict()) >= {"perplexity", "accuracy", "tokens_per_s", "epochs"}


def test_perplexity_is_the_exponential_of_the_mean_cross_entropy():
    model = _model()
    batches = sequential_batches(HELD, 2, 5)
    ppl, acc = evaluate(model, batches, carry_state=False)
    with torch.no_grad():
        losses = [
            torch.nn.functional.cross_entropy(model(X, model.begin_state(2))[0], Y.T.reshape(-1))
            for X, Y in batches
        ]
    assert ppl == pytest.approx(math.exp(torch.stack(losses).mean().item()), rel=1e-5)


def test_evaluation_builds_no_graph_and_leaves_the_training_mode_as_it_was():
    model = _model()
    model.train()
    evaluate(model, sequential_batches(HELD, 2, 5))
    assert model.training and all(p.grad is None for p in model.parameters())


def test_on_batch_is_called_once_per_batch_with_what_happened():
    calls = []
    batches = sequential_batches(TOKENS, 4, 5)
    train(
        _model(), batches, "window:2", epochs=1, lr=0.5, on_batch=lambda i, info: calls.append(info)
    )
    assert [c["batch"] for c in calls] == list(range(len(batches)))
    assert [c["update"] for c in calls[:4]] == [False, True, False, True]
    assert all(c["tokens"] == 20 for c in calls)


def test_a_progress_bar_goes_to_stderr_only_when_asked(capsys):
    batches = sequential_batches(TOKENS, 4, 5)
    train(_model(), batches, "detach", epochs=1, lr=1.0, progress=False)
    assert capsys.readouterr() == ("", "")
    train(_model(), batches, "detach", epochs=1, lr=1.0, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "epoch 1/1" in err and "perplexity" in err


@pytest.mark.parametrize(("optimizer", "cell"), [("sgd", "rnn"), ("adam", "lstm")])
def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, optimizer, cell):
    kw = dict(lr=0.05 if optimizer == "adam" else 1.0, optimizer=optimizer, device="cpu")
    whole = _model(cell)
    h_whole = train(whole, _random_batches, "window:2", epochs=4, **kw)

    ckpt = tmp_path / "run" / "checkpoint.pt"
    train(_model(cell), _random_batches, "window:2", epochs=2, checkpoint_path=ckpt, **kw)
    torch.manual_seed(123)  # the resumed run must not depend on the RNG as it finds it
    resumed = _model(cell, seed=99)  # different initial weights: all must come from the file
    h_resumed = train(
        resumed, _random_batches, "window:2", epochs=4, checkpoint_path=ckpt, resume=True, **kw
    )
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [e.perplexity for e in h_resumed.epochs] == [e.perplexity for e in h_whole.epochs]
    assert load_checkpoint(ckpt)["epoch"] == 4


def test_resuming_with_another_strategy_is_refused(tmp_path):
    ckpt = tmp_path / "c.pt"
    batches = sequential_batches(TOKENS, 4, 5)
    train(_model(), batches, "detach", epochs=1, lr=1.0, checkpoint_path=ckpt)
    with pytest.raises(UsageError, match="trained with strategy 'detach', not 'fresh'"):
        train(_model(), batches, "fresh", epochs=2, lr=1.0, checkpoint_path=ckpt, resume=True)


def test_a_checkpoint_holds_what_resuming_needs(tmp_path):
    ckpt = tmp_path / "c.pt"
    train(
        _model(),
        sequential_batches(TOKENS, 4, 5),
        "detach",
        epochs=1,
        lr=1.0,
        checkpoint_path=ckpt,
        checkpoint_extra={"vocab": ["<unk>", "a"]},
    )
    saved = load_checkpoint(ckpt)
    assert {"model", "model_config", "optimizer", "strategy", "rng", "epoch", "history"} <= set(
        saved
    )
    assert saved["vocab"] == ["<unk>", "a"] and saved["strategy"]["spec"] == "detach"


def test_a_crash_while_writing_a_checkpoint_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"epoch": 1})

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind


@pytest.mark.parametrize("content", [None, b"not a checkpoint"], ids=["missing", "damaged"])
def test_a_missing_or_damaged_checkpoint_is_a_usage_error(tmp_path, content):
    path = tmp_path / "c.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match="checkpoint"):
        load_checkpoint(path)


def test_a_non_finite_loss_stops_training_naming_epoch_and_batch_and_keeps_the_last_checkpoint(
    tmp_path,
):
    model = _model()
    ckpt = tmp_path / "c.pt"

    def poison(i, info):
        if info["epoch"] == 1 and i == 2:
            with torch.no_grad():  # an injected fault, not a training step
                model.linear.bias.fill_(float("nan"))  # in place: the model's own parameter

    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, batch 4") as info:
        train(
            model,
            sequential_batches(TOKENS, 4, 5),
            "detach",
            epochs=3,
            lr=1.0,
            checkpoint_path=ckpt,
            on_batch=poison,
        )
    assert "checkpoint of epoch 1 is kept" in str(info.value)
    saved = load_checkpoint(ckpt)
    assert saved["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in saved["model"].values())


def test_a_huge_learning_rate_without_clipping_stops_with_a_clear_message():
    with pytest.raises(NonFiniteLossError, match=r"loss became (nan|inf) at epoch \d+, batch \d+"):
        train(_model(), sequential_batches(TOKENS, 4, 5), "detach", epochs=5, lr=1e38, clip=None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        (
            {"lr": 1.0, "clip": -1.0},
            r"clip \(or None for no clipping\) must be a finite number > 0",
        ),
        ({"lr": 1.0, "optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"lr": 1.0, "device": "tpu"}, "unknown device 'tpu'"),
        ({"lr": 1.0, "resume": True}, "resume=True needs checkpoint_path"),
    ],
)
def test_bad_training_arguments_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        train(_model(), sequential_batches(TOKENS, 4, 5), "detach", epochs=1, **kwargs)


def test_a_one_shot_iterator_of_batches_is_refused_for_several_epochs():
    with pytest.raises(UsageError, match="one-shot iterator"):
        train(_model(), iter(sequential_batches(TOKENS, 4, 5)), epochs=2, lr=1.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is absent")
def test_asking_for_cuda_without_it_is_a_usage_error():
    with pytest.raises(UsageError, match="CUDA is not available"):
        train(_model(), sequential_batches(TOKENS, 4, 5), epochs=1, lr=1.0, device="cuda")
