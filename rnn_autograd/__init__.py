"""rnn-autograd: PyTorch autograd for people who train recurrent networks.

An executable spec of autograd behaviours (``rnn_autograd.spec`` and ``rnn_autograd.cases``),
the RNN language-model pipeline, and a benchmark of hidden-state strategies.
"""

from .errors import UsageError
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
)

__version__ = "0.1.0"

__all__ = [
    "ByTorch",
    "Case",
    "CaseLookupError",
    "Close",
    "Raises",
    "Returns",
    "Satisfies",
    "UsageError",
    "Verdict",
    "Warned",
    "__version__",
    "all_cases",
    "case",
    "check",
    "get_case",
    "run_case",
]
