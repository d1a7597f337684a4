"""Errors the project raises for bad input: the command line prints them as one line."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(ValueError):
    """Bad input from a user: the message says what was wrong and what would be right."""
