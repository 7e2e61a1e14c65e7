"""The wall clock as batchprov writes it: UTC, ISO 8601, whole seconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["now_iso"]


def now_iso() -> str:
    """Now, e.g. ``2026-12-01T20:41:07Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
