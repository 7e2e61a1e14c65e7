"""Reading an input file (workbook or delimited text) into a `models.Table` of text cells.

The file is parsed in a reader child under memory, CPU and time limits (`isolate`, `limits`);
workbooks with python-calamine (`workbook`), delimited text with the csv module
(`delimited`). Both end as rows of stripped strings, from which the header row is found (it may
sit below title rows) and the data rows are kept with the row numbers Excel shows (`grid`).
Every failure is an `UnreadableFileError`, `SheetNotFoundError` or `NoHeaderError` with one
line for the person at the keyboard.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from batchprov.models import Table
from batchprov.read.grid import HEADER_SCAN_ROWS, MIN_HEADER_SCORE, Parts
from batchprov.read.head import EXCEL_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES, read_head
from batchprov.read.isolate import read_parts
from batchprov.read.limits import ReadLimits
from batchprov.read.workbook import DELIMITERS

__all__ = [
    "DELIMITERS",
    "EXCEL_SUFFIXES",
    "HEADER_SCAN_ROWS",
    "MIN_HEADER_SCORE",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "ReadLimits",
    "read_table",
    "sha256_of",
    "to_table",
]


def read_table(
    path: str | Path,
    *,
    sheet: str | None = None,
    include_hidden: bool = False,
    limits: ReadLimits | None = None,
) -> Table:
    """Read the data sheet of ``path`` (the first visible sheet unless ``sheet`` is given).

    ``sheet`` is matched exactly, else ignoring case and surrounding spaces; it does not apply
    to delimited text, which has one sheet. Rows hidden in Excel (by hand or by a filter) are
    left out, and listed in ``Table.hidden_rows``, unless ``include_hidden``. ``limits``
    defaults to `ReadLimits.from_env()`.

    Raises:
        UnreadableFileError: the file is missing, empty, encrypted, not of a supported kind,
            damaged, or larger to read than the limits allow.
        SheetNotFoundError: ``sheet`` names no sheet of the workbook.
        NoHeaderError: no row among the first non-empty rows looks like a header row.
        ConfigError: a ``BATCHPROV_READ_*`` variable holds no valid limit.
    """
    path = Path(path)
    limits = ReadLimits.from_env() if limits is None else limits
    head = read_head(path, limits)
    outcome = read_parts(path, head, sheet=sheet, include_hidden=include_hidden, limits=limits)
    return to_table(path, outcome.parts)


def to_table(path: Path, parts: Parts) -> Table:
    """The Table of parsed ``parts`` of ``path``."""
    frame = pd.DataFrame(
        {header: list(cells) for header, cells in zip(parts.headers, parts.cells, strict=True)},
        columns=list(parts.headers),
        dtype=str,
    )
    return Table(
        path=path,
        format=parts.format,
        sheet=parts.sheet,
        headers=parts.headers,
        columns=parts.columns,
        header_row=parts.header_row,
        frame=frame,
        excel_rows=parts.excel_rows,
        encoding=parts.encoding,
        delimiter=parts.delimiter,
        hidden_rows=parts.hidden_rows,
        uncalculated=parts.uncalculated,
    )


def sha256_of(path: str | Path) -> str:
    """The SHA-256 hex digest of the file's bytes (recorded in the Summary sheet)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
