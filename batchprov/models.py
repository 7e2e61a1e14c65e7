"""Records passed between batchprov's modules: frozen, slotted, and free of I/O.

DataFrames live only at the edges (reading and checking); everything between passes these
values, which are easy to compare in tests and to print.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from batchprov.wording import fallback_words

if TYPE_CHECKING:
    import pandas as pd  # only the type of Table.frame: models stay light to import


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    """A cell read as a value of type T: the value, or a problem ('' when there is none)."""

    value: T | None = None
    problem: str = ""


class Status(StrEnum):
    """What happened to one row; the exact words of the `Status` column."""

    PROVISIONED = "provisioned"
    ALREADY_PROVISIONED = "already provisioned"
    INVALID = "invalid"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"
    PLANNED = "planned"
    VALID = "valid"
    UPDATED = "updated"  # run --update changed the number's route (PUT)
    RELEASED = "released"  # release gave the number back (DELETE)


#: Statuses that mean the row owns a number.
OWNED = frozenset({Status.PROVISIONED, Status.ALREADY_PROVISIONED, Status.UPDATED})
#: Statuses that make a finished run exit 0.
CLEAN = frozenset({*OWNED, Status.VALID, Status.PLANNED, Status.RELEASED})


class Severity(StrEnum):
    """An error stops a row from being ordered; a warning does not."""

    ERROR = "error"
    WARNING = "warning"


class MatchType(StrEnum):
    """The three automatic number assignment methods of the Telmetrics API."""

    LOCAL_TO_NUMBER = "localtonumber"
    LOCAL_TO_CITY = "localtocity"
    TOLLFREE = "tollfree"


class Fallback(StrEnum):
    """What to try when the API answers that no number matches a row's request."""

    DROP_FILTER = "drop_filter"  # the same request without number_match_filter
    OVERLAY = "overlay"  # another area code serving the same place, as a 3-digit filter
    TOLLFREE = "tollfree"  # a toll-free number instead


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in one cell (or one row), as a record rather than an exception.

    Attributes:
        row: the Excel row number as Excel shows it (1-based, header rows counted).
        column: the column's header as written in the user's sheet (the canonical name
            when the column is absent).
        value: the cell's text as read.
        message: what is wrong and, where possible, how to fix it.
        severity: error (row not ordered) or warning (row still ordered).
        suggestion: the value the checker would put in the cell instead (the "did you mean"
            of the message, a closest city, a phone number in digits), or None.
    """

    row: int
    column: str
    value: str
    message: str
    severity: Severity = Severity.ERROR
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """The data sheet of an input file, every cell as text.

    Attributes:
        path: the input file.
        format: the file's kind: ``xlsx``, ``xlsm``, ``xls``, ``csv`` (also tsv/txt).
        sheet: the sheet's name (the file's stem for delimited text).
        headers: the header texts in sheet order, as written (blank headers get
            ``Column <letter>``).
        columns: the 1-based sheet column index of each header.
        header_row: the Excel row number of the header row.
        frame: one column per header (same order, named by ``headers``), one row per
            non-empty data row, every cell a ``str`` ('' for blank); index 0..n-1.
        excel_rows: the Excel row number of each frame row.
        encoding: the text encoding detected (delimited text only).
        delimiter: the delimiter detected (delimited text only).
        hidden_rows: the Excel row numbers of non-empty rows left out because they are hidden
            in the workbook (by hand, by a filter or a collapsed outline).
        uncalculated: the (Excel row, column number) of formula cells holding no calculated
            value, which read as blank.
    """

    path: Path
    format: str
    sheet: str
    headers: tuple[str, ...]
    columns: tuple[int, ...]
    header_row: int
    frame: pd.DataFrame
    excel_rows: tuple[int, ...]
    encoding: str | None = None
    delimiter: str | None = None
    hidden_rows: tuple[int, ...] = ()
    uncalculated: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        return len(self.excel_rows)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Everything needed to order one number, checked and normalised.

    ``body()`` gives the exact JSON body of ``POST /groups/{group_id}/numbers``.
    """

    group_id: int
    name: str
    match_type: MatchType
    termination_number: str
    local_to_number: str | None = None
    city: str | None = None
    state: str | None = None
    number_match_filter: str | None = None
    route_type: str = "Basic"
    record_calls: bool | None = None
    recording_message: str | None = None
    whisper_message: str | None = None

    def body(self) -> dict[str, Any]:
        """The request body, in the field order of the API documentation's examples."""
        request: dict[str, Any] = {"match_type": self.match_type.value}
        if self.match_type is MatchType.LOCAL_TO_NUMBER:
            request["local_to_number"] = self.local_to_number
        elif self.match_type is MatchType.LOCAL_TO_CITY:
            request["city"] = self.city
            request["state"] = self.state
        if self.number_match_filter:
            request["number_match_filter"] = self.number_match_filter
        route: dict[str, Any] = {"termination_number": self.termination_number}
        features = self._features()
        if features:
            route["features"] = features
        return {
            "name": self.name,
            "phone_number_request": request,
            "call_routes": {"route_type": self.route_type, "route": route},
        }

    def body_json(self) -> str:
        """The body as compact JSON text, exactly as it is sent."""
        return json.dumps(self.body(), separators=(",", ":"), ensure_ascii=False)

    def _features(self) -> dict[str, Any]:
        features: dict[str, Any] = {}
        if self.record_calls is not None or self.recording_message:
            record = self.record_calls if self.record_calls is not None else True
            call_record: dict[str, Any] = {"enabled": record, "record": record}
            if record and self.recording_message:
                call_record["notification_text"] = self.recording_message
            features["call_record"] = call_record
        if self.whisper_message:
            features["whisper"] = {"enabled": True, "notification_text": self.whisper_message}
        return features


@dataclass(frozen=True, slots=True)
class FallbackOrder:
    """An order to send, for the same row, when the orders before it found no number."""

    kind: Fallback
    order: OrderRequest

    @property
    def label(self) -> str:
        """``a number in overlay area code 905``, ``a toll-free number``: what this fallback
        orders, as messages say it (`wording.fallback_words`)."""
        code = self.order.number_match_filter if self.kind is Fallback.OVERLAY else None
        return fallback_words(self.kind, code)


@dataclass(frozen=True, slots=True)
class PreviousResult:
    """A result a row already shows in the input's own result columns (a re-run output)."""

    status: str
    tracking_number: str | None = None
    number_id: str | None = None
    route_id: str | None = None
    assigned_name: str | None = None
    provisioned_at: str | None = None

    @property
    def owned(self) -> bool:
        """True when the row says it already has a number."""
        return self.status in {s.value for s in OWNED} and bool(self.tracking_number)

    @property
    def released(self) -> bool:
        """True when the row says its number was released (it is not ordered again)."""
        return self.status == Status.RELEASED.value and bool(self.tracking_number)


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """One data row after checking.

    Attributes:
        index: the row's position in ``Table.frame``.
        excel_row: the Excel row number.
        order: the order to send, or None when the row is invalid.
        match_type: the match type given or inferred (None when it could not be told).
        previous: what the input's own result columns already say about this row.
        fallback: the row's own ``fallback`` cell, parsed (None when blank: the run's applies).
        fallbacks: the orders to try, in turn, when ``order`` finds no number.
    """

    index: int
    excel_row: int
    order: OrderRequest | None
    match_type: MatchType | None = None
    previous: PreviousResult | None = None
    fallback: tuple[Fallback, ...] | None = None
    fallbacks: tuple[FallbackOrder, ...] = ()

    @property
    def owned(self) -> bool:
        """The input's own result columns show a number bought for this row (or released:
        a released row is not ordered again either)."""
        prev = self.previous
        return prev is not None and (prev.owned or prev.released)


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one row, written into the result columns.

    ``request_body`` is set on dry runs only: the exact JSON each row would send.
    ``expected_area`` is where the numbering plan places the row's number, e.g.
    ``Burlington, ON (289, 905)``. ``change_failed``: an update or release asked of the row's
    number was not made (``error`` says why); the row keeps its status, as it keeps its number.
    """

    index: int
    excel_row: int
    status: Status
    match_type: str | None = None
    tracking_number: str | None = None
    number_id: str | None = None
    route_id: str | None = None
    assigned_name: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    attempts: int = 0
    provisioned_at: str | None = None
    request_body: str | None = None
    expected_area: str | None = None
    change_failed: bool = False

    @property
    def failed(self) -> bool:
        """True when the row failed: its status says so, or a change of its number failed."""
        return self.status is Status.FAILED or self.change_failed


def name_key(name: str) -> str:
    """What makes two advertiser names the same one: trimmed, inner spaces collapsed, any case,
    any Unicode form (``Café`` typed precomposed or with a combining accent, full-width
    ``ＡＢＣ``); the sheet's duplicate check and the account's matching agree on it."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()
