"""A checked row's clean values → the order to send (``models.OrderRequest``).

The match type decides which location fields travel: a localtonumber order carries only
``local_to_number``, a localtocity order only ``city`` and ``state``, a tollfree order neither,
whatever else the row holds. `to_order` says so for one row; `to_orders` does the same for a
whole sheet's columns at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from batchprov.models import MatchType, OrderRequest

__all__ = ["NormalisedRow", "to_order", "to_orders"]


class NormalisedRow(NamedTuple):
    """The clean values of one row that passed every check ('' where a cell was blank).

    A NamedTuple rather than a dataclass: 100k of them are built per 100k-row sheet, and a
    tuple is several times cheaper to make.

    Attributes:
        name: trimmed, inner whitespace collapsed.
        group_id: the row's group, or the default group.
        match_type: given or inferred.
        termination_number: 10 digits.
        local_to_number: 10 digits.
        city: trimmed, as the user spelled it.
        state: the two-letter code.
        number_match_filter: 3 or 6 digits.
        route_type: always ``Basic`` today.
        record_calls: None when the cell was blank.
        recording_message: trimmed text.
        whisper_message: trimmed text.
    """

    name: str
    group_id: int
    match_type: MatchType
    termination_number: str
    local_to_number: str = ""
    city: str = ""
    state: str = ""
    number_match_filter: str = ""
    route_type: str = "Basic"
    record_calls: bool | None = None
    recording_message: str = ""
    whisper_message: str = ""


def to_order(row: NormalisedRow) -> OrderRequest:
    """The order for one checked row; fields of other match types are left out."""
    by_number = row.match_type is MatchType.LOCAL_TO_NUMBER
    by_city = row.match_type is MatchType.LOCAL_TO_CITY
    return OrderRequest(
        group_id=row.group_id,
        name=row.name,
        match_type=row.match_type,
        termination_number=row.termination_number,
        local_to_number=row.local_to_number if by_number else None,
        city=row.city if by_city else None,
        state=row.state if by_city else None,
        number_match_filter=row.number_match_filter or None,
        route_type=row.route_type,
        record_calls=row.record_calls,
        recording_message=row.recording_message or None,
        whisper_message=row.whisper_message or None,
    )


def to_orders(rows: pd.DataFrame) -> list[OrderRequest]:
    """`to_order` for every row of ``rows``, whose columns are NormalisedRow's fields.

    The fields are chosen column by column; only the records are made one per row.
    """
    match_type = _objects(rows["match_type"])
    # The column holds MatchType members or None, so == picks the same rows as `is`.
    by_number = match_type == MatchType.LOCAL_TO_NUMBER
    by_city = match_type == MatchType.LOCAL_TO_CITY
    fields = (
        _objects(rows["group_id"]),
        _objects(rows["name"]),
        match_type,
        _objects(rows["termination_number"]),
        _only(by_number, _objects(rows["local_to_number"])),
        _only(by_city, _objects(rows["city"])),
        _only(by_city, _objects(rows["state"])),
        _or_none(rows["number_match_filter"]),
        _objects(rows["route_type"]),
        _objects(rows["record_calls"]),
        _or_none(rows["recording_message"]),
        _or_none(rows["whisper_message"]),
    )  # in OrderRequest's field order: positional arguments are the cheapest to pass
    return list(map(OrderRequest, *(field.tolist() for field in fields)))


def _objects(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=object)


def _only(where: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The cells where ``where`` holds, None elsewhere."""
    kept = np.full(len(cells), None, dtype=object)
    kept[where] = cells[where]
    return kept


def _or_none(texts: pd.Series) -> np.ndarray:
    """Each text, or None where it is '' (``text or None`` for a column)."""
    cells = _objects(texts)
    return _only(cells.astype(bool), cells)
