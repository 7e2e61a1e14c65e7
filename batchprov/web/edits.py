"""Fixing cells of an uploaded sheet in place: the server's copy of the upload is edited.

A workbook stays the user's workbook (openpyxl edits the cells and keeps the rest: other
sheets, formatting, validation lists); delimited text is rewritten with its own delimiter and
encoding; an old .xls, which nothing here can write, becomes an .xlsx of the sheet as read.
Every edited cell is written as text, never as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell

from batchprov.models import Table
from batchprov.write.atomic import atomic_write
from batchprov.write.columns import sheet_title

__all__ = ["MAX_CELL", "CellEdit", "apply_edits", "edits_from_form"]

#: The longest text a cell may be given from the page (the longest valid cell is 500).
MAX_CELL = 1000
_CELL_FIELD = re.compile(r"(cell|use)\.(\d{1,7})\.(\d{1,5})")
#: Text a spreadsheet program would run as a formula: kept as text with a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HARMLESS = re.compile(r"[0-9\s().+\-]*")


@dataclass(frozen=True, slots=True)
class CellEdit:
    """A new text for one cell: its Excel row and 1-based sheet column."""

    row: int
    column: int
    value: str


def edits_from_form(form: Mapping[str, object], table: Table) -> list[CellEdit]:
    """The cells a fix form changes: typed ``cell.R.C`` fields, overridden by a clicked
    ``use.R.C`` suggestion; only cells of the table's rows and columns, only real changes."""
    current = _cells(table)
    wanted: dict[tuple[int, int], str] = {}
    for kind in ("cell", "use"):  # a clicked suggestion wins over what is typed in its cell
        for name, value in form.items():
            found = _CELL_FIELD.fullmatch(name)
            if found and found.group(1) == kind and isinstance(value, str):
                key = (int(found.group(2)), int(found.group(3)))
                if key in current:
                    wanted[key] = _clean(value)
    return [
        CellEdit(row, column, value)
        for (row, column), value in sorted(wanted.items())
        if value != current[(row, column)]
    ]


def apply_edits(path: Path, table: Table, edits: Sequence[CellEdit]) -> Path:
    """Write the edits into the stored file at ``path``; the file they are in (an .xls
    becomes an .xlsx beside it, and the .xls is removed)."""
    if table.format == "csv":
        _edit_delimited(path, table, edits)
        return path
    if table.format == "xls":
        target = path.with_suffix(".xlsx")
        _write_sheet(target, table, edits)
        path.unlink(missing_ok=True)
        return target
    _edit_workbook(path, table, edits)
    return path


def _cells(table: Table) -> dict[tuple[int, int], str]:
    """(Excel row, sheet column) → cell text, for every cell of the table."""
    cells: dict[tuple[int, int], str] = {}
    columns = table.columns
    for row, values in zip(table.excel_rows, table.frame.itertuples(index=False), strict=True):
        for column, value in zip(columns, values, strict=True):
            cells[(row, column)] = str(value)
    return cells


def _clean(value: str) -> str:
    """What a cell may hold: one line, no control characters, a sane length."""
    text = ILLEGAL_CHARACTERS_RE.sub("", value.replace("\r\n", " ").replace("\n", " "))
    return text.strip()[:MAX_CELL]


def _edit_workbook(path: Path, table: Table, edits: Iterable[CellEdit]) -> None:
    keep_vba = table.format == "xlsm"
    book = openpyxl.load_workbook(path, keep_vba=keep_vba, rich_text=True)
    try:
        sheet = book[table.sheet]
        for edit in edits:
            _put(sheet.cell(row=edit.row, column=edit.column), edit.value)
        atomic_write(path, path, book.save)
    finally:
        book.close()


def _write_sheet(target: Path, table: Table, edits: Sequence[CellEdit]) -> None:
    """An .xlsx holding the table as read (header row and data rows where they were)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title(table.sheet)
    for column, header in zip(table.columns, table.headers, strict=True):
        _put(sheet.cell(row=table.header_row, column=column), header)
    for (row, column), value in _cells(table).items():
        _put(sheet.cell(row=row, column=column), value)
    for edit in edits:
        _put(sheet.cell(row=edit.row, column=edit.column), edit.value)
    atomic_write(target, target, book.save)


def _put(cell: Cell | MergedCell, value: str) -> None:
    """Set a cell to text: '=…' stays text (openpyxl would otherwise store a formula)."""
    if isinstance(cell, MergedCell):  # a merged area's hidden cell cannot hold a value
        return
    cell.value = value or None
    if value and cell.data_type == "f":
        cell.data_type = "s"


def _edit_delimited(path: Path, table: Table, edits: Iterable[CellEdit]) -> None:
    encoding = table.encoding or "utf-8"
    delimiter = table.delimiter or ","
    text = path.read_bytes().decode(encoding, errors="replace")
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True))
    for edit in edits:
        while len(records) < edit.row:
            records.append([])
        record = records[edit.row - 1]
        record.extend([""] * (edit.column - len(record)))
        record[edit.column - 1] = _csv_safe(edit.value)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    try:
        data = out.getvalue().encode(encoding)
    except UnicodeEncodeError:  # a typed character the file's code page lacks
        data = out.getvalue().encode("utf-8-sig")

    def write(temporary: Path) -> None:
        temporary.write_bytes(data)

    atomic_write(path, path, write)


def _csv_safe(value: str) -> str:
    """A typed value a spreadsheet could run as a formula gets a leading quote.

    Number-like text (``+1 905 637 2046``, ``-``) cannot do harm and is kept as typed.
    """
    if value.startswith(_FORMULA_START) and not _HARMLESS.fullmatch(value):
        return "'" + value
    return value
