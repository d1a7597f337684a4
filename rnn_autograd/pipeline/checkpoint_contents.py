"""What a checkpoint must hold, checked on load: one ``UsageError`` line saying what is wrong.

``load_checkpoint`` (``rnn_autograd.pipeline.checkpoint``) makes sure a file is one of ours; this
module makes sure its contents fit: a ``model_config`` with exactly ``RNNModel``'s arguments,
weights of the shapes that config gives and all finite, a vocabulary that starts with ``<unk>``
and has one token per output, the optimizer state of the optimizer being resumed (Adam's has
``betas`` and per-weight moments, SGD's has ``momentum``), the strategy it was trained with,
restorable RNG states, and a history of one entry per completed epoch. Everything is checked
before anything is changed, so a bad checkpoint leaves the model and optimizer as they were.
"""

from __future__ import annotations

import math
import numbers
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from .checkpoint import restore_rng
from .corpus import UNK, Vocab
from .metrics import EpochStats, History

__all__ = [
    "MODEL_CONFIG_KEYS",
    "check_resumable",
    "check_model_state",
    "model_from_checkpoint",
    "non_finite_tensors",
    "resume_from",
    "vocab_from_checkpoint",
]

MODEL_CONFIG_KEYS = ("vocab_size", "num_hiddens", "cell", "num_layers")
# the group keys that tell the optimizers apart (torch adds newer ones with defaults on load)
OPTIMIZER_GROUP_KEYS = {
    "sgd": ("lr", "momentum", "dampening", "nesterov"),
    "adam": ("lr", "betas", "eps"),
}


def _bad(path, what: str) -> UsageError:
    return UsageError(
        f"checkpoint {path} is damaged or not from this version: {what}; train again to write "
        f"a new one"
    )


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """The names of floating-point tensors in ``state`` with an inf or a nan."""
    names = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    if not names:
        return []
    finite = torch.stack([torch.isfinite(state[k]).all() for k in names]).tolist()
    return [k for k, ok in zip(names, finite, strict=True) if not ok]


def _model_config(ckpt: dict, path) -> dict:
    cfg = ckpt.get("model_config")
    if not isinstance(cfg, dict) or not cfg:
        raise _bad(path, "it has no model_config saying how to rebuild its model")
    unknown = sorted(set(map(str, cfg)) - set(MODEL_CONFIG_KEYS))
    missing = [k for k in MODEL_CONFIG_KEYS if k not in cfg]
    if unknown or missing:
        parts = ([f"unknown key(s) {', '.join(unknown)}"] if unknown else []) + (
            [f"missing {', '.join(missing)}"] if missing else []
        )
        raise _bad(
            path,
            f"its model_config has {'; '.join(parts)} (expected {', '.join(MODEL_CONFIG_KEYS)})",
        )
    return cfg


def check_model_state(model: nn.Module, state: Any, path) -> None:
    """``state`` has exactly ``model``'s weight names and shapes, all finite."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _bad(path, "its 'model' entry is not a state dict of tensors")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unknown = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unknown or shapes:
        detail = "; ".join(
            ([f"missing {', '.join(missing[:3])}"] if missing else [])
            + ([f"unexpected {', '.join(unknown[:3])}"] if unknown else [])
            + ([f"shape {shapes[0]}"] if shapes else [])
        )
        raise _bad(path, f"its weights do not fit its model_config ({detail})")
    wrong = [k for k, v in own.items() if state[k].dtype != v.dtype]
    if wrong:
        raise _bad(path, f"weight {wrong[0]} is {state[wrong[0]].dtype}, not {own[wrong[0]].dtype}")
    bad = non_finite_tensors(state)
    if bad:
        raise UsageError(
            f"checkpoint {path} holds non-finite weights ({', '.join(bad[:3])} has inf or nan): "
            f"it cannot be used; train again with a smaller --lr"
        )


def model_from_checkpoint(ckpt: dict, path, device: torch.device | str = "cpu") -> nn.Module:
    """The ``RNNModel`` a checkpoint describes, with its weights, on ``device``."""
    from .model import RNNModel

    cfg = _model_config(ckpt, path)
    try:
        # the weights are replaced from the checkpoint: their random initialisation must not
        # advance the global RNG that a resumed run or a seeded prediction relies on
        with torch.random.fork_rng(devices=[]):
            model = RNNModel(**cfg)
    except UsageError as exc:
        raise _bad(path, f"its model_config is invalid ({exc})") from None
    if "model" not in ckpt:
        raise _bad(path, "it has no 'model' entry (the weights)")
    check_model_state(model, ckpt["model"], path)
    model.load_state_dict(ckpt["model"])
    return model.to(device)


def vocab_from_checkpoint(ckpt: dict, path, vocab_size: int | None = None) -> Vocab | None:
    """The stored vocabulary (None for integer tokens): strings, unique, ``<unk>`` first, and
    one token per output of the model when ``vocab_size`` is given."""
    tokens = ckpt.get("vocab")
    if tokens is None:
        return None
    if not isinstance(tokens, list | tuple) or not all(isinstance(t, str) for t in tokens):
        raise _bad(path, "its vocabulary is not a list of strings")
    if not tokens or tokens[0] != UNK:
        raise _bad(path, f"its vocabulary does not start with {UNK!r}")
    if len(set(tokens)) != len(tokens):
        raise _bad(path, "its vocabulary holds a token twice")
    if vocab_size is not None and len(tokens) != vocab_size:
        raise _bad(
            path, f"its vocabulary has {len(tokens)} tokens for a model of {vocab_size} outputs"
        )
    return Vocab.from_tokens(list(tokens))


def _check_optimizer(state: Any, opt: torch.optim.Optimizer, name: str, path) -> None:
    if not isinstance(state, dict) or not {"state", "param_groups"} <= set(state):
        raise _bad(path, "its optimizer entry is not an optimizer state dict")
    groups, per_param = state["param_groups"], state["state"]
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        raise _bad(path, "its optimizer state has a different number of parameter groups")
    params: dict[int, torch.Tensor] = {}
    for saved, own in zip(groups, opt.param_groups, strict=True):
        if not isinstance(saved, dict):
            raise _bad(path, "its optimizer's parameter group is not a dict")
        lacking = [k for k in OPTIMIZER_GROUP_KEYS.get(name, ("lr",)) if k not in saved]
        if lacking:
            raise UsageError(
                f"checkpoint {path} holds another optimizer's state (no {', '.join(lacking)} "
                f"as {name} has); resume with the optimizer it was trained with, or train afresh"
            )
        ids = saved.get("params")
        if not isinstance(ids, list) or len(ids) != len(own["params"]):
            raise _bad(path, "its optimizer state covers a different number of weights")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or set(ids) & set(
            params
        ):
            raise _bad(path, "its optimizer's weight indices are not distinct whole numbers")
        if len(set(ids)) != len(ids):
            raise _bad(path, "its optimizer's weight indices are not distinct whole numbers")
        params.update(zip(ids, own["params"], strict=True))
        for k in ("lr", "eps", "momentum", "dampening"):
            v = saved.get(k)
            if k in saved and (
                isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)
            ):
                raise _bad(path, f"its optimizer's {k} is {v!r}, not a finite number")
        betas = saved.get("betas", (0.0, 0.0))
        if not (
            isinstance(betas, list | tuple)
            and len(betas) == 2
            and all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas)
        ):
            raise _bad(path, f"its optimizer's betas are {betas!r}, not two numbers in [0, 1)")
    if not isinstance(per_param, dict):
        raise _bad(path, "its optimizer's per-weight state is not a dict")
    for key, entry in per_param.items():
        if key not in params or not isinstance(entry, dict):
            raise _bad(path, f"its optimizer state has an entry for an unknown weight {key!r}")
        for k, v in entry.items():
            if isinstance(v, torch.Tensor) and k != "step" and v.shape != params[key].shape:
                raise _bad(
                    path,
                    f"its optimizer's {k} has shape {tuple(v.shape)}, not the weight's {tuple(params[key].shape)}",
                )
            if (
                isinstance(v, torch.Tensor)
                and v.is_floating_point()
                and not bool(torch.isfinite(v).all())
            ):
                raise UsageError(
                    f"checkpoint {path} holds a non-finite optimizer {k}: train afresh"
                )
    if name == "adam":
        for key, entry in per_param.items():
            if not {"step", "exp_avg", "exp_avg_sq"} <= set(entry):
                raise UsageError(
                    f"checkpoint {path} holds another optimizer's state (no Adam moments for "
                    f"weight {key}); resume with the optimizer it was trained with"
                )


def _check_rng(rng: Any, path) -> None:
    if not isinstance(rng, dict) or "torch" not in rng or "python" not in rng:
        raise _bad(path, "its RNG states are missing")
    try:
        # a fresh generator and a fresh Random: the check changes no RNG in use
        torch.Generator().set_state(rng["torch"])
        random.Random().setstate(_as_tuple(rng["python"]))
    except (TypeError, ValueError, RuntimeError, IndexError):
        raise _bad(path, "its RNG states cannot be restored") from None


def _as_tuple(x):
    # torch.load gives back Python's random state with lists where tuples were saved
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def _history(ckpt: dict, path) -> tuple[History, int]:
    epoch = ckpt.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise _bad(path, f"its epoch count is {epoch!r}, not a whole number >= 0")
    raw = ckpt.get("history")
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("epochs", []), list):
            raise TypeError
        history = History([EpochStats(**e) for e in raw.get("epochs", [])])
    except TypeError:
        raise _bad(path, "its history is not a list of per-epoch figures") from None
    if len(history.epochs) != epoch:
        raise _bad(path, f"its history has {len(history.epochs)} epochs for {epoch} completed")
    return history, epoch


def check_resumable(
    path, ckpt: dict, model_config: dict, optimizer_name: str, strategy, make_optimizer
) -> None:
    """Everything ``resume_from`` will read, checked now on a throwaway model and optimizer (a
    command calls this before any work; ``model_config`` is the model the run will build)."""
    model = model_from_checkpoint(ckpt, path)
    if model.config != model_config:
        raise UsageError(
            f"checkpoint {path} holds a model of {model.config} but its run config gives "
            f"{model_config}: it is damaged; train afresh with --overwrite"
        )
    opt = make_optimizer(optimizer_name, list(model.parameters()), 1.0)
    resume_from(path, ckpt, model, opt, optimizer_name, strategy, apply=False)


def resume_from(
    path: str | Path,
    ckpt: dict,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    optimizer_name: str,
    strategy,
    apply: bool = True,
) -> tuple[History, int]:
    """Check everything a resumed run reads from ``ckpt``, then (with ``apply``) load it into
    ``model``, ``opt`` and ``strategy`` and restore the RNG states; return the history and the
    epochs done."""
    for key in ("model", "optimizer", "strategy", "rng", "history", "epoch"):
        if key not in ckpt:
            raise _bad(path, f"it has no {key!r} entry, which resuming needs")
    if ckpt.get("model_config") not in (None, getattr(model, "config", None)):
        raise UsageError(
            f"checkpoint {path} is of another model ({ckpt.get('model_config')}) than the one "
            f"being resumed ({getattr(model, 'config', None)}); resume with its own settings"
        )
    check_model_state(model, ckpt["model"], path)
    _check_optimizer(ckpt["optimizer"], opt, optimizer_name, path)
    if not isinstance(ckpt["strategy"], dict):
        raise _bad(path, "its strategy state is not a dict")
    _check_rng(ckpt["rng"], path)
    history, epoch = _history(ckpt, path)
    try:
        strategy.load_state_dict(ckpt["strategy"])
    except UsageError:
        raise  # the strategy's own message: trained with another one
    except (KeyError, TypeError, ValueError):
        raise _bad(path, "its strategy state does not fit the strategy") from None
    if not apply:
        return history, epoch
    model.load_state_dict(ckpt["model"])
    try:
        opt.load_state_dict(ckpt["optimizer"])
    except (KeyError, TypeError, ValueError, RuntimeError):
        raise _bad(path, "its optimizer state does not fit the optimizer") from None
    restore_rng(ckpt["rng"])
    return history, epoch
