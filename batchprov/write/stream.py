"""The user's data sheet streamed, so that writing a big workbook takes little memory.

The workbook is opened with openpyxl as usual, except that the data sheet's rows below the
header are cut from its XML before openpyxl parses it: the other sheets, the styles and the
data sheet's own settings (merged areas, filters, validations, comments) are loaded as
always. On saving, the data sheet's rows are parsed from the input again, a slice at a time;
each slice gets its result cells and marks (`datasheet.RowWork`), is written by openpyxl's
own sheet writer and is dropped. The cells are the ones openpyxl would have loaded and
written, so the output is the same as the one made in memory.

A sheet this cannot follow (rows without numbers, rows out of order, merged areas below the
header) raises `NotStreamable`, and the caller writes the workbook in memory instead.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from math import isfinite
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import _escape_cdata  # type: ignore[attr-defined]

from openpyxl import LXML
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.compat import safe_string
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from batchprov.write.datasheet import LAST_ROW, RowWork

__all__ = ["NotStreamable", "StreamedSheet", "open_streamed", "parse_ahead", "save_streamed"]

#: Rows parsed, annotated and written at a time.
_SLICE_ROWS = 2_000
_READ_SIZE = 1 << 20
_ROW_TAG = re.compile(rb"<row[\s>/]")
_ROW_NUMBER = re.compile(rb'\sr\s*=\s*["\'](\d+)["\']')
_END_OF_ROWS = b"</sheetData>"
#: Written where the sheet's extent goes, and replaced once the rows are written.
_DIMENSION_MARK = b'<dimension ref="A1:A1"'


class NotStreamable(Exception):
    """The data sheet cannot be streamed; write the workbook in memory instead."""


#: A parsed row: its number, its cells (openpyxl's parser's records) and its settings.
_Row = tuple[int, list[dict[str, Any]], RowDimension | None]


@dataclass(frozen=True)
class StreamedSheet:
    """Where the data sheet's rows are read from when the output is saved."""

    path: Path
    member: str
    header_row: int
    shared_strings: list[Any]
    #: Every row below the header, when `parse_ahead` parsed them before the save.
    parsed: tuple[_Row, ...] | None = None


def parse_ahead(ws: Worksheet, source: StreamedSheet, *, rows_read: int) -> StreamedSheet:
    """``source`` holding its rows already parsed, for a save to write without parsing.

    For a sheet of at most one slice of rows (their parse is most of a small output's saving
    time): a larger one is left to stream, as it would not fit the memory that bounds.
    ``rows_read`` (the rows the reader found below the header) spares parsing a slice of a
    sheet known to be larger. Raises `NotStreamable` as the save would.
    """
    if rows_read > _SLICE_ROWS:
        return source
    rows: list[_Row] = []
    for row in _parsed(ws, source):
        rows.append(row)
        if len(rows) > _SLICE_ROWS:
            return source
    return replace(source, parsed=tuple(rows))


def open_streamed(
    path: Path, sheet: str, header_row: int, *, keep_vba: bool
) -> tuple[Workbook, StreamedSheet | None]:
    """The workbook at ``path``, its sheet ``sheet`` holding no row below ``header_row``.

    The second item says where the rows are; it is None when the sheet had none to cut (the
    workbook is then complete). Raises `NotStreamable` for a sheet this cannot follow.
    """
    reader = ExcelReader(path, keep_vba=keep_vba)
    found: dict[str, str] = {}
    original_read = reader.read_worksheets
    archive_open = reader.archive.open

    def read_worksheets() -> None:
        member = _member_of(reader, sheet)
        trimmed: list[bool] = []

        def open_member(name: Any, *args: Any, **kwargs: Any) -> Any:
            handle = archive_open(name, *args, **kwargs)
            if name != member:
                return handle
            return _ChunkReader(_cut_rows(handle, header_row, trimmed), handle)

        reader.archive.open = open_member  # type: ignore[method-assign]
        try:
            original_read()
        finally:
            del reader.archive.open
        if trimmed:
            found["member"] = member

    reader.read_worksheets = read_worksheets  # type: ignore[method-assign]
    with warnings.catch_warnings():
        # openpyxl warns about parts it drops (e.g. extension lists); nothing to act on.
        warnings.simplefilter("ignore", UserWarning)
        try:
            reader.read()
        except BaseException:
            reader.archive.close()
            raise
    wb = reader.wb
    if "member" not in found:
        return wb, None
    ws = wb[sheet]
    if any(area.max_row > header_row for area in getattr(ws, "merged_cells", ())):
        raise NotStreamable("merged cells below the header")
    return wb, StreamedSheet(path, found["member"], header_row, reader.shared_strings)


def save_streamed(
    wb: Workbook, ws: Worksheet, source: StreamedSheet, work: RowWork, out: Path
) -> None:
    """Save ``wb`` to ``out``, the rows of its data sheet ``ws`` streamed from ``source``."""
    with (
        warnings.catch_warnings(),
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
    ):
        # openpyxl warns about what it drops while parsing, as when loading; nothing to act on.
        warnings.simplefilter("ignore", UserWarning)
        wb.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
        _BookWriter(wb, archive, ws, lambda: _rows(ws, source, work)).save()


# --- reading ------------------------------------------------------------------------------


def _member_of(reader: ExcelReader, sheet: str) -> str:
    for found, rel in reader.parser.find_sheets():
        if found.name == sheet:
            return str(rel.target)
    raise NotStreamable(f"no sheet {sheet!r}")


def _cut_rows(handle: IO[bytes], header_row: int, trimmed: list[bool]) -> Iterator[bytes]:
    """The sheet's XML without the rows below ``header_row``; marks ``trimmed`` if any were."""
    buffer = b""
    start = 0
    while True:  # copy up to the first row below the header
        match = _ROW_TAG.search(buffer, start)
        end = buffer.find(b">", match.end() - 1) if match else -1
        if match is None or end < 0:
            keep = match.start() if match else max(start, len(buffer) - 8)
            yield buffer[:keep]
            buffer, start = buffer[keep:], 0
            chunk = handle.read(_READ_SIZE)
            if not chunk:
                yield buffer
                return
            buffer += chunk
            continue
        number = _ROW_NUMBER.search(buffer, match.start(), end)
        if number is None:
            raise NotStreamable("a row without its number")
        if int(number.group(1)) > header_row:
            break
        start = end
    yield buffer[: match.start()]
    trimmed.append(True)
    buffer = buffer[match.start() :]
    while (cut := buffer.find(_END_OF_ROWS)) < 0:  # skip to the end of the rows
        buffer = buffer[-len(_END_OF_ROWS) :]
        chunk = handle.read(_READ_SIZE)
        if not chunk:
            raise NotStreamable("the sheet's rows do not end")
        buffer += chunk
    yield buffer[cut:]
    while chunk := handle.read(_READ_SIZE):
        yield chunk


class _ChunkReader:
    """A read-only file over a stream of byte chunks (what an XML parser reads from)."""

    def __init__(self, chunks: Iterator[bytes], handle: IO[bytes]) -> None:
        self._chunks = chunks
        self._handle = handle
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        self._handle.close()


def _rows(ws: Worksheet, source: StreamedSheet, work: RowWork) -> Iterator[tuple[int, list[Any]]]:
    """Every row of the data sheet with its cells, in order, as openpyxl's writer takes them.

    Rows down to the header are in ``ws`` already; the others are parsed from the input a
    slice at a time, annotated by ``work``, handed on and dropped.
    """
    yield from _take(ws, 1, source.header_row)
    done = source.header_row
    batch: list[_Row] = []
    for row in source.parsed if source.parsed is not None else _parsed(ws, source):
        batch.append(row)
        index = row[0]
        if len(batch) >= _SLICE_ROWS:
            _bind(ws, batch)
            work.apply(ws, done + 1, index)
            yield from _take(ws, done + 1, index)
            done, batch = index, []
    if batch:
        _bind(ws, batch)
    work.apply(ws, done + 1, LAST_ROW)
    yield from _take(ws, done + 1, LAST_ROW)


def _parsed(ws: Worksheet, source: StreamedSheet) -> Iterator[_Row]:
    """The rows below the header as openpyxl's parser reads them, styles looked up.

    Whatever stops the parser here (a broken or changed input) stops the stream, and the
    workbook is written in memory, where a sheet openpyxl cannot load is handled.
    """
    wb: Any = ws.parent  # openpyxl's date styles and epoch are not in its type stubs
    try:
        with zipfile.ZipFile(source.path) as archive, archive.open(source.member) as handle:
            parser = WorkSheetParser(
                handle,
                source.shared_strings,
                epoch=wb.epoch,
                date_formats=wb._date_formats,
                timedelta_formats=wb._timedelta_formats,
            )
            previous = 0
            for index, cells in parser.parse():
                if index <= previous:
                    raise NotStreamable("rows out of order")
                previous = index
                settings = parser.row_dimensions.pop(str(index), None)
                if index <= source.header_row:
                    continue
                for found in cells:
                    found["style"] = wb._cell_styles[found["style_id"]]
                dimension = None
                if settings is not None:
                    if "s" in settings:
                        settings["s"] = wb._cell_styles[int(settings["s"])]
                    dimension = RowDimension(ws, **settings)
                yield index, cells, dimension
    except NotStreamable:
        raise
    except Exception as exc:
        raise NotStreamable(f"the sheet could not be read again ({type(exc).__name__})") from exc


def _bind(ws: Worksheet, batch: list[_Row]) -> None:
    """Put the parsed cells and row settings into ``ws``, as openpyxl's loader does.

    A cell openpyxl already made when loading (for a comment or a link on it) hands these
    over to the parsed one.
    """
    cells = ws._cells
    for index, row, dimension in batch:
        for found in row:
            key = (found["row"], found["column"])
            cell: Any = Cell(ws, row=key[0], column=key[1], style_array=found["style"])
            cell._value = found["value"]
            cell.data_type = found["data_type"]
            early = cells.get(key)
            if isinstance(early, MergedCell):
                continue
            if early is not None:
                _hand_over(early, cell)
            cells[key] = cell
        if dimension is not None:
            ws.row_dimensions[index] = dimension


def _hand_over(early: Cell, cell: Cell) -> None:
    comment = early.comment
    if comment is not None:
        early.comment = None
        cell.comment = comment
    if early.hyperlink is not None:
        cell.hyperlink = early.hyperlink


def _take(ws: Worksheet, first: int, last: int) -> Iterator[tuple[int, list[Any]]]:
    """Hand on the rows ``first``-``last`` of ``ws`` (cells and row settings), then drop them."""
    rows: dict[int, list[Any]] = {}
    for key in sorted(k for k in ws._cells if first <= k[0] <= last):
        rows.setdefault(key[0], []).append(ws._cells[key])
    dimensions = [r for r in ws.row_dimensions if first <= r <= last]
    for row in dimensions:
        rows.setdefault(row, [])
    yield from sorted(rows.items())
    for cells in rows.values():
        for cell in cells:
            del ws._cells[(cell.row, cell.column)]
    for row in dimensions:
        del ws.row_dimensions[row]


# --- writing ------------------------------------------------------------------------------


class _BookWriter(ExcelWriter):  # type: ignore[misc]
    """openpyxl's workbook writer, with the data sheet's rows coming from a stream."""

    def __init__(
        self,
        workbook: Workbook,
        archive: zipfile.ZipFile,
        sheet: Worksheet,
        rows: Callable[[], Iterator[tuple[int, list[Any]]]],
    ) -> None:
        super().__init__(workbook, archive)
        self._sheet = sheet
        self._rows = rows

    def write_worksheet(self, sheet: Worksheet) -> None:
        if sheet is not self._sheet:
            super().write_worksheet(sheet)
            return
        # As ExcelWriter.write_worksheet does for a sheet in memory.
        ws: Any = sheet
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer: Any = _SheetWriter(ws, self._rows())
        writer.write()
        _set_dimension(Path(writer.out), writer.extent())
        ws._rels = writer._rels
        archive: Any = self._archive  # type: ignore[attr-defined]
        archive.write(writer.out, ws.path[1:])
        self.manifest.append(ws)
        writer.cleanup()


class _SheetWriter(WorksheetWriter):  # type: ignore[misc]
    """openpyxl's sheet writer over streamed rows; it notes the sheet's extent as it goes."""

    def __init__(self, ws: Worksheet, rows: Iterator[tuple[int, list[Any]]]) -> None:
        super().__init__(ws)
        self._stream = rows
        self._rows: tuple[int, int] | None = None
        self._columns: tuple[int, int] | None = None

    def write_dimensions(self) -> None:
        self.xf.send(_dimension_mark())

    def rows(self) -> Iterator[tuple[int, list[Any]]]:  # type: ignore[override]
        return self._stream

    def write_row(self, xf: Any, row: list[Any], row_idx: int) -> None:  # type: ignore[override]
        if row:
            low, high = self._rows or (row_idx, row_idx)
            self._rows = (min(low, row_idx), max(high, row_idx))
            columns = [c.column for c in row]
            low, high = self._columns or (columns[0], columns[0])
            self._columns = (min(low, *columns), max(high, *columns))
        # As WorksheetWriter.write_row, with the common cells put as text (`_cell_xml`).
        sheet: Any = self.ws
        attrs = {"r": f"{row_idx}"}
        attrs.update(sheet.row_dimensions.get(row_idx, {}))
        raw: Callable[[str], None] | None = None if LXML else getattr(xf, "_file", None)
        with xf.element("row", attrs):
            for cell in row:
                if cell._comment is not None:
                    sheet._comments.append(CommentRecord.from_cell(cell))
                styled = cell.has_style
                if cell._value is None and not styled and not cell._comment:
                    continue
                text = _cell_xml(cell, styled) if raw is not None else None
                if raw is None or text is None:
                    write_cell(xf, sheet, cell, styled)
                else:
                    raw(text)

    def extent(self) -> str:
        """The sheet's dimension as openpyxl gives it (every cell it holds)."""
        if self._rows is None or self._columns is None:
            return "A1:A1"
        (top, bottom), (left, right) = self._rows, self._columns
        return f"{get_column_letter(left)}{top}:{get_column_letter(right)}{bottom}"


def _cell_xml(found: Any, styled: bool) -> str | None:
    """The XML openpyxl writes for a text, number or empty cell; None for any other cell.

    openpyxl builds and serialises three elements per cell, which is most of the time it
    takes to save a big sheet; these cells are most of a sheet, and their XML is simple.
    """
    if type(found) is not Cell:
        return None
    cell: Any = found
    if cell._hyperlink is not None:
        return None
    value = cell._value
    kind = cell.data_type
    style = f' s="{cell.style_id}"' if styled else ""
    if value is None or value == "":
        if kind not in ("s", "n"):
            return None
        return f'<c r="{cell.coordinate}"{style} t="{_TYPE[kind]}" />'
    if kind == "s" and type(value) is str:
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        text = _escape_cdata(value)
        return f'<c r="{cell.coordinate}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'
    number = type(value) in (int, bool) or (type(value) is float and isfinite(value))
    if kind in ("n", "b") and number:
        return f'<c r="{cell.coordinate}"{style} t="{kind}"><v>{safe_string(value)}</v></c>'
    return None


_TYPE = {"s": "inlineStr", "n": "n"}


def _dimension_mark() -> Any:
    from openpyxl.worksheet.dimensions import SheetDimension

    return SheetDimension("A1:A1").to_tree()


def _set_dimension(path: Path, ref: str) -> None:
    """Put the sheet's real extent where `_SheetWriter` wrote a mark."""
    with path.open("rb") as handle:
        head = handle.read(4096)
        at = head.find(_DIMENSION_MARK)
        if at < 0:
            raise NotStreamable("the sheet's dimension was not written")
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as fixed:
            fixed.write(head[:at])
            fixed.write(f'<dimension ref="{ref}"'.encode())
            fixed.write(head[at + len(_DIMENSION_MARK) :])
            shutil.copyfileobj(handle, fixed, _READ_SIZE)
    Path(fixed.name).replace(path)
