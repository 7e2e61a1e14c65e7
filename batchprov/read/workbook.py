"""Reading a workbook's data sheet with python-calamine into a `Grid` of text cells.

Runs in the reader child: the structure checks of `preflight` come first, so that calamine is
never asked to unpack a zip bomb or fill a sheet of billions of cells. Hidden rows come from
the sheet's XML (`sheetxml`) or, in an .xls, from its ROW records (`biff`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    PasswordError,
    SheetMetadata,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from batchprov.errors import SheetNotFoundError, UnreadableFileError
from batchprov.read import preflight
from batchprov.read.biff import BiffBook
from batchprov.read.grid import Grid
from batchprov.read.limits import ReadLimits
from batchprov.read.sheetxml import SheetMarks, scan_sheet

__all__ = ["DELIMITERS", "OLE2_MAGIC", "ZIP_MAGIC", "looks_like", "read_workbook"]

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
DELIMITERS = (",", ";", "\t", "|")
# An encrypted OOXML file is an OLE2 container holding this stream (MS-OFFCRYPTO).
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def read_workbook(
    path: Path, suffix: str, head: bytes, sheet: str | None, limits: ReadLimits
) -> Grid:
    """The chosen sheet of the workbook at ``path`` as text cells, hidden rows marked."""
    kind, book = _check(path, suffix, head, limits)
    try:
        with _open_workbook(path, kind, suffix) as workbook:
            name = _pick_sheet(workbook.sheets_metadata, sheet, path)
            marks = SheetMarks()
            if isinstance(book, preflight.Book):
                part = preflight.sheet_part(book, name)
                if part is not None:
                    preflight.check_sheet(book, part, name, limits)
                    marks = scan_sheet(path, part)
            elif book is not None:
                position = [s.name for s in workbook.sheets_metadata].index(name)
                marks = SheetMarks(hidden=book.hidden_rows(name, position))
            data = workbook.get_sheet_by_name(name)
            start = data.start
            if data.height * data.width > limits.max_cells:
                raise preflight.unreadable(
                    path.name,
                    f"sheet '{name}' spans {data.height * data.width:,} cells, more than the "
                    f"{limits.max_cells:,} batchprov reads; delete the unused rows and "
                    "columns in Excel and save it again",
                )
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
    return Grid(
        path.name,
        kind,
        name,
        rows,
        row0=start[0],
        col0=start[1],
        hidden=marks.hidden,
        uncalculated=marks.uncalculated,
    )


def _check(
    path: Path, suffix: str, head: bytes, limits: ReadLimits
) -> tuple[str, preflight.Book | BiffBook | None]:
    """The workbook's kind from its bytes, whatever its name says, after the structure checks."""
    if head.startswith(ZIP_MAGIC):
        return ("xlsm" if suffix == ".xlsm" else "xlsx"), preflight.check_zip(path, limits)
    if head.startswith(OLE2_MAGIC):
        data = path.read_bytes()  # its size was checked against max_file_mb
        # A password-protected .xlsx is an OLE2 file, like an .xls; the stream name tells them
        # apart.
        if _ENCRYPTED_STREAM in data:
            raise _password_error(path)
        return "xls", preflight.check_xls(path, data, limits)
    raise UnreadableFileError(f"{path.name} is not an Excel workbook{looks_like(head)}.")


def _open_workbook(path: Path, kind: str, suffix: str) -> CalamineWorkbook:
    # calamine picks its parser from the extension when given a path, from the bytes when
    # given a file object; a workbook saved under the other Excel extension needs the latter.
    if suffix == f".{kind}":
        return CalamineWorkbook.from_path(path)
    return CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))


def looks_like(head: bytes) -> str:
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
    detail = " ".join(str(error).split())[:300]  # one line, whatever calamine says
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
