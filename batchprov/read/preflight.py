"""Cheap checks of a workbook's structure before its parser is let loose on it.

An .xlsx is a zip: its directory says how large each part unpacks to, and each sheet declares
its size in ``<dimension ref="A1:D26"/>``. Zip bombs (parts that unpack a thousand times over),
giant shared strings and sheets that claim billions of cells are refused here with a clear
reason, before the parser would try to allocate for them. An .xls is an OLE2 compound file whose
header fields size the parser's tables; impossible values are refused, and so is a workbook
stream whose sector chain leaves the file or loops, a workbook of more sheets than
``max_parts`` or a sheet whose ``DIMENSIONS`` record declares more cells than ``max_cells``
(see `ole` and `biff`). These checks only give a clearer, earlier answer: the reader child's
memory and CPU limits stop whatever gets past them.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from batchprov.errors import UnreadableFileError
from batchprov.read import biff, ole
from batchprov.read.limits import ReadLimits

__all__ = ["Book", "check_ole2", "check_sheet", "check_xls", "check_zip", "sheet_part"]

_MB = 1 << 20
_RATIO_FLOOR = _MB  # parts smaller than this may compress however they like
_SMALL_PART = 16 * _MB  # workbook.xml and its relationships are tiny in any real workbook
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"([^\"]*)\"")
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@dataclass(frozen=True, slots=True)
class Book:
    """The zip directory of a workbook that passed `check_zip`."""

    path: Path
    sizes: dict[str, int]


def unreadable(name: str, reason: str) -> UnreadableFileError:
    """The one line every refused file gets."""
    return UnreadableFileError(f"{name} could not be read: {reason}.")


def _mb(size: int) -> str:
    return f"{size / _MB:,.0f} MB" if size >= _MB else f"{size:,} bytes"


def check_zip(path: Path, limits: ReadLimits) -> Book | None:
    """Refuse a zip whose parts unpack too large or too well; None when it is no valid zip.

    A damaged zip is left to the workbook parser, whose message says so.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None
    name = path.name
    if len(members) > limits.max_parts:
        raise unreadable(
            name, f"it holds {len(members):,} parts (the limit is {limits.max_parts:,})"
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_unpacked_mb * _MB:
        raise unreadable(
            name,
            f"it unpacks to {_mb(total)}, more than the {limits.max_unpacked_mb:,} MB "
            "batchprov reads",
        )
    for member in members:
        _check_member(name, member, limits)
    return Book(path, {member.filename: member.file_size for member in members})


def _check_member(name: str, member: zipfile.ZipInfo, limits: ReadLimits) -> None:
    size, packed = member.file_size, max(member.compress_size, 1)
    if member.filename.endswith("sharedStrings.xml") and size > limits.max_shared_strings_mb * _MB:
        raise unreadable(
            name,
            f"its shared strings unpack to {_mb(size)}, more than the "
            f"{limits.max_shared_strings_mb:,} MB batchprov reads",
        )
    if size > limits.max_part_mb * _MB:
        raise unreadable(
            name,
            f"its part {member.filename} unpacks to {_mb(size)}, more than the "
            f"{limits.max_part_mb:,} MB batchprov reads",
        )
    if size > _RATIO_FLOOR and size / packed > limits.max_ratio:
        raise unreadable(
            name,
            f"its part {member.filename} unpacks {size // packed:,} times over "
            f"({_mb(packed)} to {_mb(size)}), which only a zip bomb does",
        )


def sheet_part(book: Book, sheet: str) -> str | None:
    """The zip path of the named sheet's XML, from the workbook part and its relationships."""
    workbook = "xl/workbook.xml"
    rels = "xl/_rels/workbook.xml.rels"
    if book.sizes.get(workbook, _SMALL_PART) >= _SMALL_PART or rels not in book.sizes:
        return None
    if book.sizes[rels] >= _SMALL_PART:
        return None
    try:
        with zipfile.ZipFile(book.path) as archive:
            sheets = ElementTree.fromstring(archive.read(workbook))
            links = ElementTree.fromstring(archive.read(rels))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, ElementTree.ParseError):
        return None
    wanted = next(
        (
            e.get(f"{_REL_NS}id")
            for e in sheets.iter()
            if _local(e.tag) == "sheet" and e.get("name") == sheet
        ),
        None,
    )
    for link in links.iter():
        if _local(link.tag) == "Relationship" and link.get("Id") == wanted:
            target = link.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            part = posixpath.normpath(part)
            return part if part in book.sizes else None
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_sheet(book: Book, part: str, sheet: str, limits: ReadLimits) -> None:
    """Refuse a sheet whose declared ``<dimension>`` spans more cells than ``max_cells``."""
    try:
        with zipfile.ZipFile(book.path) as archive, archive.open(part) as stream:
            head = stream.read(65536)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError):
        return  # the parser will say what is wrong with it
    found = _DIMENSION.search(head)
    if found is None:
        return
    ref = found.group(1).decode("ascii", "replace")
    cells = declared_cells(ref)
    if cells > limits.max_cells:
        raise unreadable(
            book.path.name,
            f"sheet '{sheet}' declares {cells:,} cells ({ref}), more than the "
            f"{limits.max_cells:,} batchprov reads; delete the unused rows and columns "
            "in Excel and save it again",
        )


def declared_cells(ref: str) -> int:
    """Rows × columns of a range such as ``A1:XFD1048576`` (0 when it cannot be read)."""
    corners = [_CELL.fullmatch(corner.strip()) for corner in ref.split(":")[:2]]
    if not corners or not all(corners):
        return 0
    points = [(int(m.group(2)), _column_number(m.group(1))) for m in corners if m]
    rows = max(p[0] for p in points) - min(p[0] for p in points) + 1
    columns = max(p[1] for p in points) - min(p[1] for p in points) + 1
    return rows * columns


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


# --- OLE2 (.xls) -----------------------------------------------------------------------------

_ENDOFCHAIN = 0xFFFFFFFE
_FREESECT = 0xFFFFFFFF


def check_ole2(path: Path, data: bytes) -> None:
    """Refuse an OLE2 file whose header describes tables that cannot fit in the file."""
    damaged = UnreadableFileError(
        f"{path.name} is not an Excel workbook or is damaged (its OLE2 header is inconsistent)."
    )
    if len(data) < 512:
        raise damaged
    (minor, major, order, shift, mini_shift) = struct.unpack_from("<HHHHH", data, 24)
    (fat_count, first_dir, _sig, mini_cutoff, first_mini, mini_count, first_difat, difat_count) = (
        struct.unpack_from("<IIIIIIII", data, 44)
    )
    del minor
    if order != 0xFFFE or (major, shift) not in {(3, 9), (4, 12)} or mini_shift != 6:
        raise damaged
    if mini_cutoff != 4096:
        raise damaged
    size = 1 << shift
    sectors = max(0, (len(data) - 512) // size) + 1
    if fat_count == 0 or fat_count > sectors or difat_count > sectors or mini_count > sectors:
        raise damaged
    for first in (first_dir, first_mini, first_difat):
        if first not in (_ENDOFCHAIN, _FREESECT) and first >= sectors:
            raise damaged
    if first_dir in (_ENDOFCHAIN, _FREESECT):
        raise damaged


def check_xls(path: Path, data: bytes, limits: ReadLimits) -> biff.BiffBook | None:
    """Refuse an .xls whose structure or declared sheet sizes are impossible or too large.

    The sheets, for `biff.BiffBook.hidden_rows`; None when the file holds no workbook stream
    (the parser says what it is).
    """
    check_ole2(path, data)
    try:
        stream = ole.read_stream(data, ("Workbook", "Book"))
    except ole.Damaged as error:
        raise UnreadableFileError(
            f"{path.name} is not an Excel workbook or is damaged ({error})."
        ) from None
    if stream is None:
        return None
    book = biff.scan_book(stream, max_sheets=limits.max_parts)
    if len(book.sheets) > limits.max_parts:
        raise unreadable(path.name, f"it lists more than {limits.max_parts:,} sheets (the limit)")
    for sheet in book.sheets:
        if sheet.cells > limits.max_cells:
            raise unreadable(
                path.name,
                f"sheet '{sheet.name}' declares {sheet.cells:,} cells ({sheet.rows:,} rows × "
                f"{sheet.columns:,} columns), more than the {limits.max_cells:,} batchprov "
                "reads; delete the unused rows and columns in Excel and save it again",
            )
    return book
