"""Things to feed the command line and the loaders: a trained run and damaged copies of it.

``make_workspace(root)`` trains one tiny run (2 epochs) and writes beside it every kind of file a
user might give where a checkpoint is wanted: foreign files (text, random bytes, a pickle that
would run a command if it were unpickled unsafely, a bare tensor, a zip) and real checkpoints with
one thing wrong each (a key missing, a model_config that does not fit the weights, a vocabulary
without ``<unk>``, another optimizer's state, NaN weights, ...). Used by the bad-input table and
the checkpoint fuzz tests. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import copy
import pickle
import zipfile
from pathlib import Path

import torch

from rnn_autograd.cli import main
from rnn_autograd.pipeline import RNNModel

RUN_ARGS = ["--epochs", "2", "--hidden", "8", "--runs", "100", "--quiet", "--threads", "1"]


class _RunsACommand:
    """Unpickled unsafely, this would create MARKER: ``weights_only=True`` must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _adam_state(ckpt: dict) -> dict:
    model = RNNModel(**ckpt["model_config"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.zeros(2, 3, dtype=torch.long), model.begin_state(2))[0].sum().backward()
    opt.step()
    return opt.state_dict()


def _variants(good: dict) -> dict[str, dict]:
    """Real checkpoints with one thing wrong, by name."""

    def change(fn) -> dict:
        c = copy.deepcopy(good)
        fn(c)
        return c

    def drop(*keys):
        def fn(c):
            target = c
            for k in keys[:-1]:
                target = target[k]
            del target[keys[-1]]

        return fn

    def put(value, *keys):
        def fn(c):
            target = c
            for k in keys[:-1]:
                target = target[k]
            target[keys[-1]] = value

        return fn

    nan_weights = change(lambda c: c["model"]["linear.weight"].fill_(float("nan")))
    return {
        "no-model": change(drop("model")),
        "no-model-config": change(drop("model_config")),
        "no-config": change(drop("config")),
        "no-optimizer": change(drop("optimizer")),
        "no-rng": change(drop("rng")),
        "no-history": change(drop("history")),
        "no-strategy": change(drop("strategy")),
        "no-clip": change(drop("config", "clip")),
        "model-config-unknown-key": change(put(2, "model_config", "heads")),
        "model-config-missing-key": change(drop("model_config", "cell")),
        "model-config-wrong-size": change(put(32, "model_config", "num_hiddens")),
        "model-config-bad-cell": change(put("transformer", "model_config", "cell")),
        "model-config-text-size": change(put("16", "model_config", "num_hiddens")),
        "model-config-huge": change(put(10**9, "model_config", "num_hiddens")),
        "model-not-tensors": change(put({"linear.weight": [1, 2]}, "model")),
        "weights-wrong-shape": change(put(torch.zeros(3, 3), "model", "linear.weight")),
        "weights-extra": change(put(torch.zeros(1), "model", "extra.weight")),
        "weights-nan": nan_weights,
        "vocab-without-unk": change(put([chr(97 + i) for i in range(20)], "vocab")),
        "vocab-duplicate": change(put(["<unk>"] + ["a"] * 19, "vocab")),
        "vocab-wrong-length": change(put(["<unk>", "a", "b"], "vocab")),
        "vocab-not-strings": change(put(["<unk>", *range(19)], "vocab")),
        "config-not-dict": change(put("seed", "config")),
        "config-bad-cell": change(put("transformer", "config", "cell")),
        "config-bad-lr": change(put(float("inf"), "config", "lr")),
        "config-hidden-not-model": change(put(32, "config", "hidden")),
        "other-optimizer": change(put(_adam_state(good), "optimizer")),
        "optimizer-not-dict": change(put([1, 2], "optimizer")),
        "optimizer-no-groups": change(put([], "optimizer", "param_groups")),
        "rng-garbage": change(put({"torch": torch.zeros(3), "python": [1]}, "rng")),
        "history-not-epochs": change(put({"epochs": [{"nope": 1}]}, "history")),
        "history-short": change(put({"epochs": []}, "history")),
        "epoch-negative": change(put(-1, "epoch")),
        "other-strategy": change(put({"spec": "fresh"}, "strategy")),
        "format-2": change(put(2, "format")),
    }


def make_workspace(root: Path) -> dict[str, str]:
    """Build everything under ``root``; return the placeholders the table's rows use."""
    run = root / "run"
    assert main(["train", "--out", str(run), *RUN_ARGS]) == 0, "the fixture run did not train"
    ckpt_path = run / "checkpoint.pt"
    good = torch.load(ckpt_path, weights_only=True)
    places = {"root": str(root), "run": str(run), "ckpt": str(ckpt_path)}

    a_file = root / "a-file.txt"
    a_file.write_text("not a folder\n")
    corpus = root / "corpus.txt"
    corpus.write_text("the time traveller for so it will be convenient to speak of him " * 20)
    (root / "empty-dir").mkdir()
    (root / "run-with-folders" / "metrics.json").mkdir(parents=True)  # a folder where a file goes
    places.update(file=str(a_file), corpus=str(corpus), emptydir=str(root / "empty-dir"))

    foreign = root / "foreign"
    foreign.mkdir()
    marker = root / "UNPICKLED"
    raw = ckpt_path.read_bytes()
    files = {
        "empty": b"",
        "text": b"just some text\n",
        "random": bytes(range(256)) * 8,
        "truncated": raw[: len(raw) // 2],
        "pickle": pickle.dumps(_RunsACommand(marker)),
    }
    for name, data in files.items():
        (foreign / f"{name}.pt").write_bytes(data)
    torch.save(torch.ones(3), foreign / "tensor.pt")
    torch.save([1, 2, 3], foreign / "list.pt")
    with zipfile.ZipFile(foreign / "zip.pt", "w") as z:
        z.writestr("hello.txt", "a zip file, not torch's")
    places.update(
        {f"foreign_{n}": str(foreign / f"{n}.pt") for n in [*files, "tensor", "list", "zip"]}
    )
    places["marker"] = str(marker)

    for name, ckpt in _variants(good).items():
        folder = root / "bad" / name  # a run folder each, for train --resume
        folder.mkdir(parents=True)
        torch.save(ckpt, folder / "checkpoint.pt")
        places[f"bad_{name.replace('-', '_')}"] = str(folder / "checkpoint.pt")
        places[f"badrun_{name.replace('-', '_')}"] = str(folder)
    return places


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root`` with size and modification time."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = ("dir",) if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out
