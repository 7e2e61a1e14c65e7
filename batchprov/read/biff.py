"""What an .xls workbook stream says before its cells: sheets, declared sizes, hidden rows.

The stream (BIFF8, or BIFF5 from Excel 95) is a sequence of records, each a 2-byte type, a
2-byte length and its body. The workbook globals come first and list each sheet
(``BOUNDSHEET``: its name and where its records start); a sheet's records declare its size
(``DIMENSIONS``) before its cells, and each row's ``ROW`` record carries a flag for a row of
zero height: hidden by hand, by a filter or by a collapsed outline. Only record headers and
these few bodies are read; every offset is checked against the stream.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["BiffBook", "BiffSheet", "scan_book"]

_BOF, _EOF, _BOUNDSHEET, _FILEPASS = 0x0809, 0x000A, 0x0085, 0x002F
_DIMENSIONS, _ROW = 0x0200, 0x0208
_BIFF8 = 0x0600
_ROW_HIDDEN = 0x20  # fDyZero: the row's height is zero
#: Records after which a sheet that has not declared its size will not: its cells start.
_CELLS = frozenset({0x0006, 0x00BD, 0x00BE, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
#: Records read at most, per sheet, looking for its DIMENSIONS (real sheets need a few dozen).
_HEAD_RECORDS = 1000
_HEADER = struct.Struct("<HH")


@dataclass(frozen=True, slots=True)
class BiffSheet:
    """One sheet as the globals list it, with the size its records declare (0 × 0 if none)."""

    name: str
    offset: int
    rows: int = 0
    columns: int = 0

    @property
    def cells(self) -> int:
        return self.rows * self.columns


@dataclass(frozen=True, slots=True)
class BiffBook:
    """A workbook stream and its sheets; ``encrypted`` when its records cannot be read."""

    stream: bytes
    sheets: tuple[BiffSheet, ...] = ()
    encrypted: bool = False

    def hidden_rows(self, name: str, position: int) -> frozenset[int]:
        """Excel numbers of the rows hidden in the sheet ``name`` (else the one at
        ``position`` in the workbook's order)."""
        sheet = next((s for s in self.sheets if s.name == name), None)
        if sheet is None and 0 <= position < len(self.sheets):
            sheet = self.sheets[position]
        if sheet is None or self.encrypted:
            return frozenset()
        return _hidden(self.stream, sheet.offset)


def scan_book(stream: bytes, *, max_sheets: int) -> BiffBook:
    """The sheets of ``stream`` and their declared sizes (none if it does not start as BIFF).

    At most ``max_sheets`` sheets are listed; the caller refuses a workbook that has more
    (``len(sheets) > max_sheets`` tells).
    """
    first = _header(stream, 0)
    if first is None or first[0] != _BOF or first[1] < 2:
        return BiffBook(stream)
    version = struct.unpack_from("<H", stream, 4)[0]
    listed: list[tuple[str, int]] = []
    for kind, at, size, depth in _records(stream, 0):
        if kind == _FILEPASS:
            return BiffBook(stream, encrypted=True)
        if kind == _BOUNDSHEET and depth == 1 and size >= 7:
            listed.append((_sheet_name(stream, at, size, version), _offset(stream, at)))
            if len(listed) > max_sheets:
                break
    sizes: dict[int, tuple[int, int]] = {}
    for _, offset in listed[:max_sheets]:
        if offset not in sizes:  # sheets sharing records are read once
            sizes[offset] = _dimensions(stream, offset)
    sheets = tuple(BiffSheet(name, offset, *sizes.get(offset, (0, 0))) for name, offset in listed)
    return BiffBook(stream, sheets)


def _header(stream: bytes, at: int) -> tuple[int, int] | None:
    if at < 0 or at + 4 > len(stream):
        return None
    kind, size = _HEADER.unpack_from(stream, at)
    return (kind, size) if at + 4 + size <= len(stream) else None


def _records(stream: bytes, start: int) -> Iterator[tuple[int, int, int, int]]:
    """(type, body offset, body size, nesting depth) of the substream that starts at
    ``start`` with a BOF, up to its own EOF (charts embedded in a sheet nest their own)."""
    at, depth = start, 0
    while (head := _header(stream, at)) is not None:
        kind, size = head
        if kind == _BOF:
            depth += 1
        elif at == start:
            break  # not a substream
        yield kind, at + 4, size, depth
        if kind == _EOF:
            depth -= 1
            if depth <= 0:
                return
        at += 4 + size


def _hidden(stream: bytes, start: int) -> frozenset[int]:
    """The rows whose ROW record is flagged zero height, in the sheet starting at ``start``.

    Every record of the sheet is stepped over (a sheet of a million cells takes a second or
    two), so this loop is written out rather than built on `_records`.
    """
    rows: set[int] = set()
    head, row = _HEADER.unpack_from, struct.Struct("<H10xH").unpack_from
    end = len(stream)
    at, depth = start, 0
    while at + 4 <= end:
        kind, size = head(stream, at)
        body = at + 4
        at = body + size
        if at > end:
            break
        if kind == _ROW:
            if depth == 1 and size >= 14:
                number, flags = row(stream, body)
                if flags & _ROW_HIDDEN:
                    rows.add(number + 1)
        elif kind == _BOF:
            depth += 1
        elif kind == _EOF:
            depth -= 1
            if depth <= 0:
                break
        elif depth == 0:
            break  # not a substream
    return frozenset(rows)


def _dimensions(stream: bytes, start: int) -> tuple[int, int]:
    """(rows, columns) a sheet's DIMENSIONS declares; (0, 0) if it declares none in time."""
    at, depth, seen = start, 0, 0
    while (head := _header(stream, at)) is not None and seen < _HEAD_RECORDS:
        kind, size = head
        body = at + 4
        if kind == _BOF:
            depth += 1
        elif at == start:
            break
        elif kind == _EOF:
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1 and kind == _DIMENSIONS:
            return _declared(stream, body, size)
        elif depth == 1 and (kind == _ROW or kind in _CELLS):
            break
        at, seen = body + size, seen + 1
    return 0, 0


def _declared(stream: bytes, body: int, size: int) -> tuple[int, int]:
    if size >= 14:  # BIFF8: 32-bit row numbers
        first_row, end_row, first_col, end_col = struct.unpack_from("<IIHH", stream, body)
        row_bits = 32
    elif size >= 8:  # BIFF5
        first_row, end_row, first_col, end_col = struct.unpack_from("<HHHH", stream, body)
        row_bits = 16
    else:
        return 0, 0
    # The ends are one past the last row and column used (equal to the firsts when empty). An
    # end before its first is taken the way a parser subtracting without a sign takes it: as
    # a span of billions, which a parser then tries to allocate.
    rows = (end_row - first_row) % (1 << row_bits)
    columns = (end_col - first_col) % (1 << 16)
    return rows, columns


def _offset(stream: bytes, body: int) -> int:
    return int(struct.unpack_from("<I", stream, body)[0])


def _sheet_name(stream: bytes, body: int, size: int, version: int) -> str:
    length = stream[body + 6]
    if version >= _BIFF8:
        wide = size >= 8 and stream[body + 7] & 1
        text = stream[body + 8 : min(body + size, body + 8 + length * (2 if wide else 1))]
        return text.decode("utf-16-le" if wide else "latin-1", "replace")
    return stream[body + 7 : min(body + size, body + 7 + length)].decode("cp1252", "replace")
