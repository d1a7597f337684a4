"""The RNN language-model pipeline of the notebook (part of rnn-autograd).

tokens -> batches (X, Y) -> model(X, state) -> (logits, state) -> loss -> backward -> clip ->
step, with a strategy deciding between batches what happens to ``state``:

- ``corpus`` and ``data``: vocabularies, the counting sequence, sequential/random/window batches;
- ``model`` and ``fused_rnn``: ``RNNModel`` over RNN/GRU/LSTM, and the fused tanh RNN it uses;
- ``state``: the hidden-state strategies between batches (detach, fresh, window:K, tbptt:K1,K2);
- ``training``: ``train`` with checkpoints and resume; ``metrics``: perplexity, ``evaluate``;
- ``checkpoint``: atomic checkpoint files; ``prediction``: warm-up prediction;
- ``distributed``: several processes (``launch``, torchrun's environment), DDP over gloo on the
  CPU, each rank its rows of every batch;
- ``device``: ``auto`` / ``cpu`` / ``cuda``.

May import: ``rnn_autograd.errors`` only (and torch). Never imports ``bench``, ``diagnose``,
``spec``, ``cases`` or ``commands``: the trainer knows nothing of who measures it.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .corpus import UNK, Corpus, Vocab, load_char_corpus
from .data import (
    BATCHINGS,
    counting_sequence,
    make_batches,
    random_batches,
    sequential_batches,
    window_batches,
)
from .device import DEVICES, resolve_device
from .metrics import EpochStats, History, evaluate, lm_loss
from .model import CELLS, RNNModel, State, map_state
from .prediction import load_for_prediction, parse_prefix, predict, predict_text
from .state import STRATEGY_FORMS, StateGraphError, Strategy, parse_strategy
from .training import OPTIMIZERS, NonFiniteLossError, train

__all__ = [
    "BATCHINGS",
    "CELLS",
    "DEVICES",
    "OPTIMIZERS",
    "STRATEGY_FORMS",
    "UNK",
    "Corpus",
    "EpochStats",
    "History",
    "NonFiniteLossError",
    "RNNModel",
    "State",
    "StateGraphError",
    "Strategy",
    "Vocab",
    "counting_sequence",
    "evaluate",
    "lm_loss",
    "load_char_corpus",
    "load_checkpoint",
    "load_for_prediction",
    "make_batches",
    "map_state",
    "parse_prefix",
    "parse_strategy",
    "predict",
    "predict_text",
    "random_batches",
    "resolve_device",
    "save_checkpoint",
    "sequential_batches",
    "train",
    "window_batches",
]
