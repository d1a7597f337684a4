"""The case machinery: declared outcomes, the registry, running and checking."""

from .case import Case, CaseLookupError, all_cases, case, families, get_case, load_cases, register
from .outcome import ByTorch, Close, Declaration, Raises, Returns, Satisfies, Warned, describe_value
from .probe import snapshot
from .run import Observation, Verdict, check, isolated, run_case

__all__ = [
    "ByTorch",
    "Case",
    "CaseLookupError",
    "Close",
    "Declaration",
    "Observation",
    "Raises",
    "Returns",
    "Satisfies",
    "Verdict",
    "Warned",
    "all_cases",
    "case",
    "check",
    "describe_value",
    "families",
    "get_case",
    "isolated",
    "load_cases",
    "register",
    "run_case",
    "snapshot",
]
