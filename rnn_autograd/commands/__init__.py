"""Subcommands of ``rnn-autograd``: every module here defines ``register(subparsers)``.

May import every other part (spec, cases, diagnose, pipeline, bench); nothing imports commands
except ``rnn_autograd.cli``.
"""
