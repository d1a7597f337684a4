"""Subcommands of ``rnn-autograd``: every module here defines ``register(subparsers)``."""
