"""rnn-autograd: PyTorch autograd for people who train recurrent networks.

An executable spec of autograd behaviours (``rnn_autograd.spec`` and ``rnn_autograd.cases``),
tools that meet a user at their error (``explain``, ``diagnose``, ``inspect_graph``), the RNN
language-model pipeline (data, model, state strategies, training, prediction) and a benchmark of
hidden-state strategies (``rnn_autograd.bench``).
"""

from .bench import run_bench
from .corpus import Vocab, load_char_corpus
from .data import (
    counting_sequence,
    make_batches,
    random_batches,
    sequential_batches,
    window_batches,
)
from .diagnose import diagnose
from .errors import UsageError
from .explain import match_error, match_exception
from .inspector import GraphReport, inspect_graph
from .limits import counting_limit
from .memory import SavedTensorMeter
from .metrics import History, evaluate
from .model import RNNModel
from .predict import predict, predict_text
from .spec import (
    ByTorch,
    Case,
    CaseLookupError,
    Close,
    Raises,
    Returns,
    Satisfies,
    Verdict,
    Warned,
    all_cases,
    case,
    check,
    get_case,
    run_case,
    snapshot,
)
from .state import StateGraphError, Strategy, parse_strategy
from .train import NonFiniteLossError, train

__version__ = "0.1.0"

__all__ = [
    "ByTorch",
    "Case",
    "CaseLookupError",
    "Close",
    "GraphReport",
    "History",
    "NonFiniteLossError",
    "RNNModel",
    "Raises",
    "Returns",
    "Satisfies",
    "SavedTensorMeter",
    "StateGraphError",
    "Strategy",
    "UsageError",
    "Verdict",
    "Vocab",
    "Warned",
    "__version__",
    "all_cases",
    "case",
    "check",
    "counting_limit",
    "counting_sequence",
    "diagnose",
    "evaluate",
    "get_case",
    "inspect_graph",
    "load_char_corpus",
    "make_batches",
    "match_error",
    "match_exception",
    "parse_strategy",
    "predict",
    "predict_text",
    "random_batches",
    "run_bench",
    "run_case",
    "sequential_batches",
    "snapshot",
    "train",
    "window_batches",
]
