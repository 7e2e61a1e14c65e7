"""Reading an input file (workbook or delimited text) into a `models.Table` of text cells.

Workbooks are read with python-calamine, delimited text with the csv module; both end as rows
of stripped strings, from which the header row is found (it may sit below title rows) and the
data rows are kept with the row numbers Excel shows. Every failure is an `UnreadableFileError`,
`SheetNotFoundError` or `NoHeaderError` with one line for the person at the keyboard.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    PasswordError,
    SheetMetadata,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from batchprov.errors import NoHeaderError, SheetNotFoundError, UnreadableFileError
from batchprov.models import Table
from batchprov.read.headers import header_score

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
SUPPORTED_SUFFIXES = EXCEL_SUFFIXES + TEXT_SUFFIXES
#: How many non-empty rows are searched for the header row.
HEADER_SCAN_ROWS = 30
#: A header row must name at least this many known fields.
MIN_HEADER_SCORE = 2
DELIMITERS = (",", ";", "\t", "|")

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# An encrypted OOXML file is an OLE2 container holding this stream (MS-OFFCRYPTO).
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_SNIFF_CHARS = 65536
_SNIFF_ROWS = 200

Cells = npt.NDArray[np.object_]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class _Grid:
    """The text cells of one sheet, before the header row is found.

    ``row0``/``col0`` are the 0-based sheet position of ``rows[0][0]``: calamine starts its
    data at the first used cell, and Excel row and column numbers must count from A1.
    """

    path: Path
    format: str
    sheet: str
    rows: list[list[str]]
    row0: int = 0
    col0: int = 0
    encoding: str | None = None
    delimiter: str | None = None


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """Read the data sheet of ``path`` (the first visible sheet unless ``sheet`` is given).

    ``sheet`` is matched exactly, else ignoring case and surrounding spaces; it does not apply
    to delimited text, which has one sheet.

    Raises:
        UnreadableFileError: the file is missing, empty, encrypted or not of a supported kind.
        SheetNotFoundError: ``sheet`` names no sheet of the workbook.
        NoHeaderError: no row among the first non-empty rows looks like a header row.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        raise UnreadableFileError(
            f"{path.name}: unsupported file type '{path.suffix}'; batchprov reads {kinds}."
        )
    head = _read_head(path)
    if suffix in EXCEL_SUFFIXES:
        grid = _read_workbook(path, suffix, head, sheet)
    else:
        grid = _read_delimited(path)
    return _to_table(grid)


def sha256_of(path: str | Path) -> str:
    """The SHA-256 hex digest of the file's bytes (recorded in the Summary sheet)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --- opening ---------------------------------------------------------------------------------


def _read_head(path: Path) -> bytes:
    """The first bytes of the file, after checking it exists, is a file and is not empty."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except FileNotFoundError:
        raise UnreadableFileError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise UnreadableFileError(f"{path} is a folder, not a file.") from None
    except PermissionError:
        raise UnreadableFileError(
            f"{path} cannot be opened (permission denied); if it is open in Excel, "
            "close it and try again."
        ) from None
    if not head:
        raise UnreadableFileError(f"{path.name} is empty (0 bytes).")
    return head


# --- workbooks -------------------------------------------------------------------------------


def _read_workbook(path: Path, suffix: str, head: bytes, sheet: str | None) -> _Grid:
    kind = _workbook_kind(path, suffix, head)
    try:
        with _open_workbook(path, kind, suffix) as book:
            name = _pick_sheet(book.sheets_metadata, sheet, path)
            data = book.get_sheet_by_name(name)
            start = data.start
            raw = data.to_python() if start is not None else []
    except PasswordError:
        raise _password_error(path) from None
    except CalamineError as error:
        raise _damaged_error(path, error) from None
    except BaseException as error:
        # calamine panics on some damaged files; pyo3 raises that as PanicException, a
        # BaseException that cannot be imported by name. Anything else is not ours to handle.
        if type(error).__name__ != "PanicException":
            raise
        raise _damaged_error(path, error) from None
    if not raw or start is None:
        raise UnreadableFileError(f"Sheet '{name}' of {path.name} is empty.")
    rows = [[v.strip() if v.__class__ is str else _cell_text(v) for v in row] for row in raw]
    return _Grid(path, kind, name, rows, row0=start[0], col0=start[1])


def _workbook_kind(path: Path, suffix: str, head: bytes) -> str:
    """``xlsx``, ``xlsm`` or ``xls`` from the file's bytes, whatever its name says."""
    if head.startswith(_ZIP_MAGIC):
        return "xlsm" if suffix == ".xlsm" else "xlsx"
    if head.startswith(_OLE2_MAGIC):
        # A password-protected .xlsx is an OLE2 file, like an .xls; the stream name tells them
        # apart. Such files are small enough to scan whole.
        if _ENCRYPTED_STREAM in path.read_bytes():
            raise _password_error(path)
        return "xls"
    raise UnreadableFileError(f"{path.name} is not an Excel workbook{_looks_like(head)}.")


def _open_workbook(path: Path, kind: str, suffix: str) -> CalamineWorkbook:
    # calamine picks its parser from the extension when given a path, from the bytes when
    # given a file object; a workbook saved under the other Excel extension needs the latter.
    if suffix == f".{kind}":
        return CalamineWorkbook.from_path(path)
    return CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))


def _looks_like(head: bytes) -> str:
    """A hint about what a non-workbook file really is."""
    text = head.lstrip().lower()
    if text.startswith(b"%pdf"):
        return " (it is a PDF document)"
    if text.startswith((b"<!doctype html", b"<html", b"<table")):
        return " (it is a web page; open it in Excel and save it as .xlsx)"
    if b"\0" not in head and any(d.encode() in head for d in DELIMITERS):
        return " (it looks like delimited text; rename it to .csv)"
    return ""


def _damaged_error(path: Path, error: BaseException) -> UnreadableFileError:
    detail = " ".join(str(error).split())  # one line, whatever calamine says
    return UnreadableFileError(f"{path.name} is not an Excel workbook or is damaged ({detail}).")


def _password_error(path: Path) -> UnreadableFileError:
    return UnreadableFileError(
        f"{path.name} is password-protected; remove the password in Excel and try again."
    )


def _pick_sheet(sheets: Sequence[SheetMetadata], wanted: str | None, path: Path) -> str:
    names = [s.name for s in sheets]
    if wanted is not None:
        folded = {n.strip().casefold(): n for n in names}
        found = wanted if wanted in names else folded.get(wanted.strip().casefold())
        if found is None:
            listed = ", ".join(f"'{n}'" for n in names)
            raise SheetNotFoundError(f"No sheet '{wanted}' in {path.name}; its sheets: {listed}.")
        return found
    worksheets = [s for s in sheets if s.typ == SheetTypeEnum.WorkSheet]
    visible = [s for s in worksheets if s.visible == SheetVisibleEnum.Visible]
    candidates = visible or worksheets
    if not candidates:
        raise UnreadableFileError(f"{path.name} has no worksheet.")
    return candidates[0].name


def _float_text(value: float) -> str:
    """Excel numbers as text: whole ones without ``.0``, others to Excel's 15 significant digits."""
    if value.is_integer():
        return str(int(value))
    shown = float(f"{value:.15g}")  # drops binary noise such as 0.30000000000000004
    return str(int(shown)) if shown.is_integer() else repr(shown)


def _duration_text(value: timedelta) -> str:
    """A duration as Excel's ``[h]:mm:ss``."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _cell_text(value: object) -> str:
    """A non-string cell as text ('' for none); floats first, the commonest."""
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    return "" if value is None else str(value).strip()


# --- delimited text --------------------------------------------------------------------------


def _read_delimited(path: Path) -> _Grid:
    data = path.read_bytes()
    if data.startswith((_ZIP_MAGIC, _OLE2_MAGIC)):
        raise UnreadableFileError(
            f"{path.name} is an Excel workbook, not delimited text; rename it to .xlsx or .xls."
        )
    text, encoding = _decode(data)
    if "\0" in text:
        raise UnreadableFileError(f"{path.name} is not a text file.")
    delimiter = _sniff_delimiter(text, path.suffix.lower())
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
        rows = [[cell.strip() for cell in row] for row in reader]
    except csv.Error as error:
        raise UnreadableFileError(
            f"{path.name} cannot be read as delimited text (line {reader.line_num}: {error})."
        ) from None
    return _Grid(path, "csv", path.stem, rows, encoding=encoding, delimiter=delimiter)


def _decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: a BOM's, else UTF-8, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export.
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Five bytes are undefined in Windows-1252; they become U+FFFD rather than fail.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _sniff_delimiter(text: str, suffix: str) -> str:
    """The delimiter that splits the most rows into the same number (≥ 2) of fields.

    A delimiter that also occurs inside values (commas in a semicolon file) splits rows
    unevenly, so it loses on consistency; ties go to the one giving more fields.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:
        sample = sample[: sample.rfind("\n") + 1] or sample
    best: tuple[float, int] = (0.0, 0)
    chosen = "\t" if suffix == ".tsv" else ","
    for delimiter in DELIMITERS:
        score = _consistency(sample, delimiter)
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _consistency(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows having the most common field count, rounded; that count)."""
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, skipinitialspace=True)
    try:
        widths = [len(row) for _, row in zip(range(_SNIFF_ROWS), reader, strict=False) if any(row)]
    except csv.Error:
        return (0.0, 0)
    if not widths:
        return (0.0, 0)
    width, count = max(Counter(widths).items(), key=lambda item: (item[1], item[0]))
    if width < 2:
        return (0.0, 0)
    # Rounding lets a few odd rows (titles, notes) not outweigh a wider, regular split.
    return (round(count / len(widths), 1), width)


# --- the table -------------------------------------------------------------------------------


def _to_table(grid: _Grid) -> Table:
    cells = _as_array(grid.rows)
    filled = (cells != "").any(axis=1)
    header_at = _find_header(grid, cells, filled)
    kept = np.flatnonzero(filled[header_at + 1 :]) + header_at + 1
    data = cells[kept]
    header = cells[header_at]
    used = np.flatnonzero((header != "") | (data != "").any(axis=0))
    span = np.arange(used[0], used[-1] + 1)
    numbers = tuple(grid.col0 + int(c) + 1 for c in span)
    headers = _unique_headers(header[span].tolist(), numbers)
    return Table(
        path=grid.path,
        format=grid.format,
        sheet=grid.sheet,
        headers=headers,
        columns=numbers,
        header_row=grid.row0 + header_at + 1,
        frame=pd.DataFrame(data[:, span], columns=list(headers), dtype=str),
        excel_rows=tuple((kept + grid.row0 + 1).tolist()),
        encoding=grid.encoding,
        delimiter=grid.delimiter,
    )


def _as_array(rows: list[list[str]]) -> Cells:
    """The rows as a 2-D array, short rows (ragged delimited text) padded with ''."""
    width = max(map(len, rows), default=0)
    padded = [row if len(row) == width else row + [""] * (width - len(row)) for row in rows]
    return np.array(padded, dtype=object).reshape(len(rows), width)


def _find_header(grid: _Grid, cells: Cells, filled: Bools) -> int:
    """The index of the first row scoring best among the first non-empty rows."""
    candidates = np.flatnonzero(filled)[:HEADER_SCAN_ROWS].tolist()
    if not candidates:
        raise UnreadableFileError(f"{_where(grid)} has no rows.")
    scores = [header_score(cells[at].tolist()) for at in candidates]
    best = max(scores)
    if best < MIN_HEADER_SCORE:
        raise NoHeaderError(
            f"No header row found in the first {HEADER_SCAN_ROWS} rows of {_where(grid)}; "
            "expected columns such as name, group_id, termination_number."
        )
    return int(candidates[scores.index(best)])


def _where(grid: _Grid) -> str:
    return grid.path.name if grid.format == "csv" else f"{grid.sheet} ({grid.path.name})"


def _unique_headers(cells: Sequence[str], numbers: Sequence[int]) -> tuple[str, ...]:
    """Blank headers named after their column letter, repeats suffixed `` (2)``, `` (3)`` …"""
    named = [cell or f"Column {_column_letter(n)}" for cell, n in zip(cells, numbers, strict=True)]
    seen: set[str] = set()
    unique: list[str] = []
    for header in named:
        candidate, copy = header, 1
        while candidate in seen:
            copy += 1
            candidate = f"{header} ({copy})"
        seen.add(candidate)
        unique.append(candidate)
    return tuple(unique)


def _column_letter(number: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
