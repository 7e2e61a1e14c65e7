"""Checked rows and orders as the checks make them, for tests of ordering."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from batchprov.models import CheckedRow, MatchType, OrderRequest


def order(name: str, group_id: int = 11623282, **extra: Any) -> OrderRequest:
    """A toll-free order with the given name."""
    return OrderRequest(
        group_id=group_id,
        name=name,
        match_type=MatchType.TOLLFREE,
        termination_number="4165551234",
        **extra,
    )


def rows(names: Iterable[str], group_id: int = 11623282, start: int = 0) -> list[CheckedRow]:
    """Checked rows ordering one toll-free number per name."""
    return [
        CheckedRow(index=start + i, excel_row=start + i + 2, order=order(n, group_id))
        for i, n in enumerate(names)
    ]
