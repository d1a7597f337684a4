"""The case library, one or two modules per family (part of rnn-autograd).

Importing this package registers every case: each module here is imported below, in name order.
``rnn_autograd``'s own ``__init__`` does that, so ``rnn_autograd.all_cases()`` sees the library.

May import: ``rnn_autograd.spec`` only (and torch). A case is a plain function that a user can
copy; nothing here reaches for the tools (``diagnose``), the pipeline or the benchmark.
"""

from ..spec import load_cases

load_cases(__name__)
