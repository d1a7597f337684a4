"""The case machinery: declared outcomes, the registry, running and checking (part of rnn-autograd).

- ``outcome``: what a case declares (``Returns``, ``Raises``, ``ByTorch``, ``Close``, ...);
- ``case``: ``@case`` and the registry; ``run``: ``isolated``, ``run_case`` and ``check``;
- ``probe``: ``snapshot``, the graph pictures a case takes while it runs;
- ``ranks``: the two gloo processes that cases declared with ``ranks=2`` run on.
- ``inventory``: the error inventory (a case library's ``inventory.json``) and its check.

May import: torch and ``packaging`` only, nothing else of rnn_autograd. It knows nothing of where
cases live (whoever runs them imports a library: ``rnn_autograd.cases``) nor of the tools built on
it (a runner that wants graph pictures passes ``inspect=rnn_autograd.diagnose.graph_at``).
"""

from .case import Case, CaseLookupError, all_cases, case, families, get_case, load_cases, register
from .inventory import Entry, inventory_problems, load_inventory
from .outcome import ByTorch, Close, Declaration, Raises, Returns, Satisfies, Warned, describe_value
from .probe import snapshot
from .run import Observation, Verdict, check, isolated, run_case

__all__ = [
    "ByTorch",
    "Case",
    "CaseLookupError",
    "Close",
    "Declaration",
    "Entry",
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
    "inventory_problems",
    "isolated",
    "load_cases",
    "load_inventory",
    "register",
    "run_case",
    "snapshot",
]
