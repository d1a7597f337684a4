"""The markdown pieces the benchmark's report is made of."""

from __future__ import annotations

__all__ = ["table"]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines, a blank line after it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]
