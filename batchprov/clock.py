"""The wall clock as batchprov writes it: UTC, ISO 8601, whole seconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["local_datetime", "now_iso"]


def now_iso() -> str:
    """Now, e.g. ``2026-12-01T20:41:07Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def local_datetime(text: str | None) -> datetime | None:
    """An ISO 8601 time as a naive local date-time, as Excel shows one; None if unreadable.

    A time with an offset (``…Z``, ``…+02:00``) is moved to the local time zone; one without
    is taken as already local (that is how batchprov writes them, and how a re-read workbook
    gives them back).
    """
    if not text or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.replace(microsecond=0)
