"""How batchprov words values for the people who read its messages."""

from __future__ import annotations

__all__ = ["quote"]


def quote(text: str, limit: int = 40) -> str:
    """A cell value for a message: single-quoted, shortened when long (never a Python repr)."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{shown}'"
