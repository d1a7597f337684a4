"""rnn-autograd: PyTorch autograd for people who train recurrent networks.

The parts, and who may import whom (a test checks these directions):

- ``spec``: the case machinery; imports nothing else of the package;
- ``cases``: the case library; imports ``spec``;
- ``diagnose``: tools on the user's own graph or error (``inspect_graph``, ``explain``,
  ``diagnose()``, ``record()``); imports ``spec``;
- ``pipeline``: the notebook's RNN language model (data, model, strategies, training,
  prediction); imports nothing else of the package;
- ``bench``: the benchmark of hidden-state strategies; imports ``pipeline`` and ``diagnose``;
- ``commands`` (with ``cli``): the ``rnn-autograd`` command; imports everything, imported by none.

Every part may import ``errors``. This module is the public surface (``__all__``): importing it
registers the case library, so ``all_cases()`` and ``get_case()`` see every case.
"""

from . import (
    cases,  # noqa: F401 - importing the library registers every case
    diagnose,
)
from .bench import counting_limit, run_bench
from .diagnose import (
    GraphReport,
    SavedTensorMeter,
    inspect_graph,
    match_error,
    match_exception,
    record,
)
from .errors import UsageError
from .pipeline import (
    History,
    NonFiniteLossError,
    RNNModel,
    StateGraphError,
    Strategy,
    Vocab,
    counting_sequence,
    evaluate,
    load_char_corpus,
    make_batches,
    parse_strategy,
    predict,
    predict_text,
    random_batches,
    sequential_batches,
    train,
    window_batches,
)
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
    "record",
    "run_bench",
    "run_case",
    "sequential_batches",
    "snapshot",
    "train",
    "window_batches",
]
