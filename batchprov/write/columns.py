"""The result columns an output gets, and the checks made before any work starts.

Kept apart from `write.output` so that a run can refuse a bad output path, or result columns
that would not fit, before anything is ordered, without importing openpyxl: the run imports
that while its orders are under way.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

from batchprov.errors import ConfigError, InputError
from batchprov.models import Table
from batchprov.read.headers import (
    OPTIONAL_RESULT_HEADERS,
    RESULT_HEADERS,
    result_header,
    result_span,
)
from batchprov.write.atomic import same_file

OUTPUT_SUFFIXES = (".xlsx", ".xlsm", ".csv")
#: Result columns only a purchase fills. A check or a dry run leaves them out, unless the input
#: already has them (an earlier run's output): then they are carried over, bought numbers kept.
PURCHASE_HEADERS = (
    "Tracking Number",
    "Assigned Name",
    "Number ID",
    "Route ID",
    "Attempts",
    "Provisioned At",
)
#: Columns in an Excel sheet (A to XFD).
MAX_COLUMNS = 16384
#: Rows in an Excel sheet.
MAX_ROWS = 1_048_576
#: The header row of the Needs attention sheet and of a ``--failed-only`` workbook (a title
#: row above it); their rows follow right under it.
ATTENTION_HEADER_ROW = 2
#: A CSV cell starting with one of these is a formula to a spreadsheet program.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_output(table: Table, out: Path) -> None:
    """Refuse an output path that would overwrite the input or that cannot be written.

    Cheap and without side effects, so a caller can check before any work starts.
    """
    if same_file(table.path, out):
        raise InputError(
            f"Writing the output to {out} would overwrite the input file; "
            "the input is never modified. Choose another output file (-o)."
        )
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"Cannot write a '{out.suffix}' output; use .xlsx or .csv.")
    if suffix == ".xlsm" and table.format != "xlsm":
        raise ConfigError("An .xlsm output is only made from an .xlsm input; use .xlsx.")


def check_room(
    table: Table, out: Path, *, extra_columns: Sequence[str] = (), purchases: bool = True
) -> None:
    """Refuse, before anything is ordered, a workbook output whose rows or result columns would
    not fit in its sheets (the data sheet and Needs attention).

    Cheap and without side effects, like `check_output`. ``purchases``: as in `result_headers`.
    """
    if Path(out).suffix.lower() == ".csv":
        return
    count = len(result_headers(extra_columns, purchases=purchases, carried=carried_headers(table)))
    last = _last_result_column(table, count)
    if last > MAX_COLUMNS:
        raise ConfigError(
            f"The result columns ({count}) do not fit in sheet '{table.sheet}': they would end "
            f"at column {last:,}, past Excel's last column XFD ({MAX_COLUMNS:,}). Remove unused "
            "columns at the right of the sheet, or write a .csv output (-o results.csv)."
        )
    bottom = last_row(table)
    if bottom > MAX_ROWS:
        raise ConfigError(
            f"Sheet '{table.sheet}' goes down to row {bottom:,}, past Excel's last row "
            f"({MAX_ROWS:,}): an .xlsx output cannot hold it. Split the file into smaller ones, "
            "or write a .csv output (-o results.csv)."
        )
    check_attention_room(table, out, extra_columns=extra_columns, purchases=purchases)


def check_attention_room(
    table: Table,
    out: Path,
    *,
    extra_columns: Sequence[str] = (),
    purchases: bool = True,
    failed_only: bool = False,
) -> None:
    """Refuse, before anything is ordered, an output whose Needs attention sheet might not hold
    its rows or columns; ``failed_only``: ``out`` is a ``--failed-only`` file, laid out the same.

    Any row may end up needing attention, so every row must fit under that sheet's header row.
    """
    if Path(out).suffix.lower() == ".csv":
        return
    where = "The --failed-only workbook" if failed_only else "The output's Needs attention sheet"
    fix = "--failed-only failed.csv" if failed_only else "-o results.csv"
    rows = ATTENTION_HEADER_ROW + len(table)
    if rows > MAX_ROWS:
        raise ConfigError(
            f"{where} could need rows down to {rows:,} for the {len(table):,} rows of sheet "
            f"'{table.sheet}', past Excel's last row ({MAX_ROWS:,}). Split the file into "
            f"smaller ones, or write a .csv file ({fix})."
        )
    count = len(result_headers(extra_columns, purchases=purchases, carried=carried_headers(table)))
    # The input's own columns closed up from A, the result columns, the row on the data sheet.
    columns = len(table.headers) - len(result_span(table.headers)) + count + 1
    if columns > MAX_COLUMNS:
        raise ConfigError(
            f"{where} would end at column {columns:,} for sheet '{table.sheet}', past Excel's "
            f"last column XFD ({MAX_COLUMNS:,}). Remove unused columns, or write a .csv file "
            f"({fix})."
        )


def last_row(table: Table) -> int:
    """The last sheet row the data sheet of an output of ``table`` writes to.

    A workbook input's rows are kept where they are, hidden ones too; any other input's rows
    are written at the rows its messages name.
    """
    return max(
        table.header_row, max(table.excel_rows, default=0), max(table.hidden_rows, default=0)
    )


def _last_result_column(table: Table, count: int) -> int:
    """The sheet column the last result column would be written to (as `annotate_sheet` does)."""
    span = result_span(table.headers)
    old = sorted(table.columns[i] for i in span)
    used = [c for c in table.columns if c not in old]
    last = max(used, default=0)
    if not old:
        return last + count
    if old[-1] > last:
        return old[0] + count - 1
    return last + count - min(count, len(old))


def csv_safe(text: str) -> str:
    """A CSV cell a spreadsheet program shows as text: a leading ``'`` before a formula start."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def result_headers(
    extra_columns: Sequence[str] = (),
    *,
    purchases: bool = True,
    carried: Collection[str] = (),
) -> list[str]:
    """The result columns written: the standard ones, then the optional ones asked for.

    ``purchases=False`` (validate, dry run) leaves out the columns only a purchase fills,
    except those ``carried`` over from the input.
    """
    unknown = set(extra_columns) - set(OPTIONAL_RESULT_HEADERS)
    if unknown:
        raise ValueError(f"unknown optional result columns: {sorted(unknown)}")
    standard = [h for h in RESULT_HEADERS if purchases or h not in PURCHASE_HEADERS or h in carried]
    return [*standard, *(h for h in OPTIONAL_RESULT_HEADERS if h in extra_columns)]


def carried_headers(table: Table) -> frozenset[str]:
    """The result columns the input already has (an earlier output read again)."""
    return frozenset(result_header(table.headers[i]) for i in result_span(table.headers))


def sheet_title(name: str) -> str:
    """A valid sheet title: no ``[]:*?/\\``, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:31] or "Data"
