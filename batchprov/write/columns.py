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
    """Refuse, before anything is ordered, a workbook output whose result columns would not fit.

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
