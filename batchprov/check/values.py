"""A sheet's checked columns, each normalised once per distinct cell text.

`normalise` turns the user's cells into `Values`: the raw texts under canonical field names,
which of them are blank, and per field the parsed value and the parser's problem message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from batchprov.check.matchtype import infer_match_types
from batchprov.check.parsers import (
    Distinct,
    blanks,
    clean_texts,
    parse_filter,
    parse_group_id,
    parse_match_type,
    parse_route_type,
    parse_state,
    parse_yes_no,
    per_distinct,
    suggest_state,
    suggestions_of,
)
from batchprov.check.phones import check_phones, suggest_phone
from batchprov.models import MatchType, Table
from batchprov.numbering.fallback import parse_fallback
from batchprov.read.headers import CANONICAL_FIELDS

LTN, LTC, TF = MatchType.LOCAL_TO_NUMBER, MatchType.LOCAL_TO_CITY, MatchType.TOLLFREE
#: The fields whose blankness a rule looks at (the others have their own parsers).
_BLANK_TESTED = ("group_id", "match_type", "local_to_number", "city", "state", "termination_number")


@dataclass(frozen=True, slots=True)
class Values:
    """The sheet's cells (``raw``, canonical column names) and their normalised values."""

    raw: pd.DataFrame
    blank: pd.DataFrame
    labels: dict[str, str]
    excel_rows: tuple[int, ...]
    name: pd.Series
    group_id: pd.Series
    group_problem: pd.Series
    type_problem: pd.Series
    match_type: pd.Series
    local: pd.Series
    local_problem: pd.Series
    termination: pd.Series
    termination_problem: pd.Series
    city: pd.Series
    state: pd.Series
    state_problem: pd.Series
    filter: pd.Series
    filter_problem: pd.Series
    route_type: pd.Series
    route_problem: pd.Series
    record_calls: pd.Series
    record_problem: pd.Series
    recording: pd.Series
    whisper: pd.Series
    fallback: pd.Series
    fallback_problem: pd.Series
    #: What the checker would write instead of a refused cell ('' when it cannot tell).
    local_suggestion: pd.Series
    termination_suggestion: pd.Series
    state_suggestion: pd.Series


def normalise(table: Table, fields: Mapping[str, str], default: int | None) -> Values:
    raw = _raw_frame(table, fields)
    # Each column is factorised once, for all that looks at it; names rarely repeat.
    cells = {field: Distinct.of(raw[field]) for field in CANONICAL_FIELDS if field != "name"}
    blank = pd.DataFrame({field: blanks(cells[field]) for field in _BLANK_TESTED})
    group_id, group_problem = per_distinct(cells["group_id"], parse_group_id)
    if default is not None:
        group_id = _choose(blank["group_id"], default, group_id)
    given, type_problem = per_distinct(cells["match_type"], parse_match_type)
    local, local_problem = check_phones(cells["local_to_number"])
    termination, termination_problem = check_phones(cells["termination_number"])
    state, state_problem = per_distinct(cells["state"], parse_state)
    filter_, filter_format = per_distinct(cells["number_match_filter"], parse_filter)
    route_type, route_problem = per_distinct(cells["route_type"], parse_route_type)
    record_calls, record_problem = per_distinct(cells["record_calls"], parse_yes_no)
    fallback, fallback_problem = per_distinct(cells["fallback"], parse_fallback)
    return Values(
        raw=raw,
        blank=blank,
        labels={field: fields.get(field, field) for field in CANONICAL_FIELDS},
        excel_rows=table.excel_rows,
        name=clean_texts(raw["name"]),
        group_id=group_id,
        group_problem=group_problem,
        type_problem=type_problem,
        match_type=_choose(blank["match_type"], infer_match_types(blank, filter_), given),
        local=local,
        local_problem=local_problem,
        termination=termination,
        termination_problem=termination_problem,
        city=clean_texts(cells["city"]),
        state=state,
        state_problem=state_problem,
        filter=filter_,
        filter_problem=filter_format,
        route_type=route_type,
        route_problem=route_problem,
        record_calls=record_calls,
        record_problem=record_problem,
        recording=clean_texts(cells["recording_message"]),
        whisper=clean_texts(cells["whisper_message"]),
        fallback=fallback,
        fallback_problem=fallback_problem,
        local_suggestion=_offers(raw["local_to_number"], local_problem, suggest_phone),
        termination_suggestion=_offers(
            raw["termination_number"], termination_problem, suggest_phone
        ),
        state_suggestion=_offers(raw["state"], state_problem, suggest_state),
    )


def _offers(cells: pd.Series, problems: pd.Series, suggest: Callable[[str], str]) -> pd.Series:
    """Suggestions for the refused cells only (most cells are fine: they are not looked at)."""
    refused = failing(problems)
    if not refused.any():
        return pd.Series("", index=cells.index, dtype=object)
    offers = suggestions_of(cells[refused], suggest)
    return offers.reindex(cells.index, fill_value="")


def _raw_frame(table: Table, fields: Mapping[str, str]) -> pd.DataFrame:
    """The checked fields under their canonical names, every cell a str ('' when absent)."""
    size = len(table.frame)
    columns: dict[str, pd.Series] = {}
    for field in CANONICAL_FIELDS:
        header = fields.get(field)
        if header is None or header not in table.frame.columns:
            columns[field] = pd.Series([""] * size, dtype=object)
            continue
        column = table.frame[header]
        if isinstance(column, pd.DataFrame):  # two columns share the header: the first wins
            column = column.iloc[:, 0]
        columns[field] = pd.Series(_texts(column), dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(size))


def _texts(column: pd.Series) -> np.ndarray:
    """The cells as str. The reader gives str; blanks as NaN/None and numbers are tolerated."""
    cells = column.to_numpy(dtype=object, na_value="")
    if isinstance(column.dtype, pd.StringDtype):  # str cells, and '' for the missing ones
        return cells
    if len(cells) and pd.api.types.infer_dtype(cells, skipna=False) != "string":
        texts = [cell if isinstance(cell, str) else str(cell) for cell in cells]
        cells = np.array(texts, dtype=object)
    return cells


def _choose(mask: pd.Series, chosen: int | pd.Series, other: pd.Series) -> pd.Series:
    """``chosen`` (a value or a column) where ``mask`` holds, else ``other``; None stays None."""
    picked = other.to_numpy(dtype=object).copy()
    where = mask.to_numpy(dtype=bool)
    picked[where] = (
        chosen.to_numpy(dtype=object)[where] if isinstance(chosen, pd.Series) else chosen
    )
    return pd.Series(picked, index=other.index, dtype=object)


def filled(column: pd.Series) -> np.ndarray:
    """Each cell's truth as Python sees it: False for '' and None, True for a text or a value."""
    return column.to_numpy(dtype=object).astype(bool)


def failing(problems: pd.Series) -> np.ndarray:
    """The rows of a problem column (a message, or '' where the row passes) that hold a message."""
    broken: np.ndarray = problems.to_numpy(dtype=object) != ""
    return broken


def zipped(*columns: pd.Series) -> Iterator[tuple[Any, ...]]:
    """The rows of aligned columns as tuples (lists iterate far faster than Series)."""
    return zip(*(column.tolist() for column in columns), strict=True)
