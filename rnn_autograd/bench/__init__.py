"""The benchmark of hidden-state strategies (part of rnn-autograd).

- ``config``: ``BenchConfig`` and the presets (``tiny``, ``quick``, ``full``);
- ``cost`` and ``learning``: the sections (time and saved bytes per batch; what each strategy
  learns on the counting sequence, the delayed recall task and the notebook's batching);
- ``limits`` and ``tasks``: the exact best perplexity any model can reach, and the synthetic
  tasks scored against it;
- ``run``: ``run_bench`` and ``write_results``; ``report`` and ``charts``: report.md and PNGs.

May import: ``rnn_autograd.pipeline`` (it drives the trainer), ``rnn_autograd.diagnose`` (the
saved-bytes meter) and ``rnn_autograd.errors``. Never imports ``commands``, ``spec`` or ``cases``.
Inside, the sections take ``BenchConfig`` from ``config`` and ``run`` imports the sections.
"""

from .config import PRESETS, BenchConfig, preset
from .limits import counting_limit
from .report import write_report
from .run import machine_info, run_bench, write_results

__all__ = [
    "PRESETS",
    "BenchConfig",
    "counting_limit",
    "machine_info",
    "preset",
    "run_bench",
    "write_report",
    "write_results",
]
