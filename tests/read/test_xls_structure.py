""".xls structure: hidden rows from ROW records, declared sizes and damaged compound files.

Workbooks are written with xlwt (a test-only tool), then cut up with `hostile_files.Ole`.
Each damaged structure found while attacking the reader is a case here.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from hostile_files import Ole, hidden_rows_xls, version4_compound_file, xls_dimensions

from batchprov.errors import InputError, UnreadableFileError
from batchprov.read import biff, ole
from batchprov.read.files import read_table
from batchprov.read.limits import ReadLimits

#: Where the first sheet's records end in `hidden_rows_xls` (its padding follows).
_CONTENT = 2202
#: Every structural refusal comes from reading a few kilobytes: well under a second.
SECONDS = 5.0


def refused(path: Path, limits: ReadLimits | None = None) -> str:
    """The reader's one-line refusal of ``path``, which must come quickly."""
    started = time.monotonic()
    with pytest.raises(UnreadableFileError) as caught:
        read_table(path, limits=limits)
    assert time.monotonic() - started < SECONDS
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{path.name} ")
    return message


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = hidden_rows_xls(tmp_path / "base.xls")
    assert _CONTENT < 4096 == len(ole.read_stream(path.read_bytes(), ("Workbook",)) or b"")
    return path


# --- hidden rows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("small", [False, True], ids=["stream", "mini-stream"])
def test_hidden_rows_of_an_xls_are_left_out_and_listed(
    book: Path, tmp_path: Path, small: bool
) -> None:
    """Rows 3 and 5 hidden in an .xls are left out and listed, as in an .xlsx."""
    path = book
    if small:
        path = Ole(book.read_bytes()).to_mini_stream(_CONTENT).save(tmp_path / "mini.xls")
    table = read_table(path)
    assert table.excel_rows == (2, 4, 6)
    assert table.frame["Advertiser"].tolist() == ["Shop 1", "Shop 3", "Shop 5"]
    assert table.hidden_rows == (3, 5)


def test_include_hidden_keeps_an_xls_hidden_rows(book: Path) -> None:
    """``include_hidden=True`` reads every row of the .xls and lists none as left out."""
    table = read_table(book, include_hidden=True)
    assert table.excel_rows == (2, 3, 4, 5, 6)
    assert table.hidden_rows == ()


def test_hidden_rows_come_from_the_sheet_read(tmp_path: Path) -> None:
    """The second sheet's hidden rows are its own: none of the first sheet's apply to it."""
    path = hidden_rows_xls(tmp_path / "two.xls", hidden=(2,))
    assert read_table(path, sheet="Advertisers").hidden_rows == (2,)
    stream = ole.read_stream(path.read_bytes(), ("Workbook",))
    assert stream is not None
    scanned = biff.scan_book(stream, max_sheets=10)
    assert ["Advertisers", "Notes"] == [s.name for s in scanned.sheets]
    assert frozenset() == scanned.hidden_rows("Notes", 1)
    assert frozenset({2}) == scanned.hidden_rows("renamed", 0)  # by position


# --- declared sizes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "cols", "cells"),
    [
        ((0, 0xFFFF0000), (0, 4), "17,179,607,040 cells (4,294,901,760 rows × 4 columns)"),
        ((0, 100_000), (0, 256), "25,600,000 cells (100,000 rows × 256 columns)"),
        ((100, 1), (50, 1), "cells (4,294,967,197 rows × 65,487 columns)"),  # ends before firsts
    ],
    ids=["billions", "over-the-limit", "inverted"],
)
def test_an_xls_declaring_too_many_cells_is_refused_unparsed(
    book: Path, tmp_path: Path, rows: tuple[int, int], cols: tuple[int, int], cells: str
) -> None:
    """A DIMENSIONS record declaring more than max_cells is refused before calamine, which
    would try to allocate them all and abort, reads the file."""
    path = xls_dimensions(book, tmp_path / "huge.xls", rows, cols)
    message = refused(path)
    assert message.startswith("huge.xls could not be read: sheet 'Advertisers' declares ")
    assert cells in message and "more than the 20,000,000 batchprov reads" in message


def test_the_largest_sheet_excel_97_can_hold_is_read(book: Path, tmp_path: Path) -> None:
    """65,536 rows × 256 columns declared (all Excel 97 allows) is within the limits."""
    path = xls_dimensions(book, tmp_path / "full.xls", (0, 65_536), (0, 256))
    assert read_table(path).excel_rows == (2, 4, 6)


def test_past_the_declared_size_check_the_memory_limit_holds(book: Path, tmp_path: Path) -> None:
    """With max_cells lifted, the same file hits the child's memory limit, not an abort."""
    path = xls_dimensions(book, tmp_path / "huge.xls", (0, 0xFFFF0000), (0, 4))
    message = refused(path, ReadLimits(max_cells=10**15))
    assert "could not be read: reading it needs more than the 2,048 MB of memory" in message


def test_more_sheets_than_max_parts_are_refused(book: Path) -> None:
    """A workbook listing more sheets than max_parts is refused from its globals."""
    message = refused(book, ReadLimits(max_parts=1))
    assert message == "base.xls could not be read: it lists more than 1 sheets (the limit)."


# --- damaged compound files ----------------------------------------------------------------------


def _workbook(o: Ole) -> int:
    return o.entry("Workbook")


def _loop_in_workbook(o: Ole) -> Ole:
    chain = o.chain(o.u32(_workbook(o) + 116))
    return o.set_u32(o.fat_entry(chain[3]), chain[1])


def _loop_in_directory(o: Ole) -> Ole:
    first = o.u32(48)
    return o.set_u32(o.fat_entry(first), first)


def _chain_past_the_end(o: Ole) -> Ole:
    chain = o.chain(o.u32(_workbook(o) + 116))
    return o.set_u32(o.fat_entry(chain[2]), 50_000)


def _stream_larger_than_the_file(o: Ole) -> Ole:
    return o.set_u32(_workbook(o) + 120, 0x7FFFFFF0)


def _stream_cut_short(o: Ole) -> Ole:
    chain = o.chain(o.u32(_workbook(o) + 116))
    return o.set_u32(o.fat_entry(chain[4]), 0xFFFFFFFE)


def _fat_outside_the_file(o: Ole) -> Ole:
    return o.set_u32(76, 9_999)


def _more_fat_sectors_than_sectors(o: Ole) -> Ole:
    return o.set_u32(44, 1_000)


def _loop_in_mini_chain(o: Ole) -> Ole:
    o.to_mini_stream(_CONTENT)
    table = o.sector_at(o.u32(60))
    return o.set_u32(table + 4 * 5, 2)


def _mini_chain_past_the_end(o: Ole) -> Ole:
    o.to_mini_stream(_CONTENT)
    return o.set_u32(o.sector_at(o.u32(60)) + 4 * 5, 4_000)


def _mini_stream_larger_than_the_file(o: Ole) -> Ole:
    o.to_mini_stream(_CONTENT)
    return o.set_u32(o.entry("Root Entry") + 120, 0x7FFFFFF0)


def _bad_sector_size(o: Ole) -> Ole:
    struct.pack_into("<H", o.data, 30, 7)
    return o


_DAMAGE = {
    "workbook-chain-loop": (_loop_in_workbook, "a sector chain loops back on itself"),
    "directory-chain-loop": (_loop_in_directory, "a sector chain loops back on itself"),
    "chain-past-the-end": (_chain_past_the_end, "points to sector 50000, past its end"),
    "stream-larger-than-file": (_stream_larger_than_the_file, "more than the file holds"),
    "stream-cut-short": (_stream_cut_short, "its workbook stream is cut short (2,560 of 4,096"),
    "fat-outside-the-file": (_fat_outside_the_file, "its sector table lies outside the file"),
    "fat-count": (_more_fat_sectors_than_sectors, "OLE2 header is inconsistent"),
    "mini-chain-loop": (_loop_in_mini_chain, "a mini sector chain loops back on itself"),
    "mini-chain-past-the-end": (_mini_chain_past_the_end, "mini sector 4000, past its end"),
    "mini-stream-too-large": (_mini_stream_larger_than_the_file, "mini stream declares more"),
    "sector-size": (_bad_sector_size, "OLE2 header is inconsistent"),
}


@pytest.mark.parametrize("kind", list(_DAMAGE))
def test_a_damaged_compound_file_is_one_line(book: Path, tmp_path: Path, kind: str) -> None:
    """Loops, chains leaving the file and impossible sizes: 'is damaged (…)', at once."""
    damage, reason = _DAMAGE[kind]
    path = damage(Ole(book.read_bytes())).save(tmp_path / f"{kind}.xls")
    message = refused(path)
    assert message.startswith(f"{kind}.xls is not an Excel workbook or is damaged (")
    assert reason in message


@pytest.mark.parametrize("keep", [8, 100, 511, 512, 1024, 4608, 5000])
def test_a_truncated_xls_is_one_line(book: Path, tmp_path: Path, keep: int) -> None:
    """An .xls cut anywhere (in its header, its stream, its tables) is refused in one line."""
    path = tmp_path / "cut.xls"
    path.write_bytes(book.read_bytes()[:keep])
    refused(path)


def test_a_long_difat_loop_is_refused(tmp_path: Path) -> None:
    """A sector table list (DIFAT) chaining back to itself is refused after one lap."""
    path = hidden_rows_xls(tmp_path / "big.xls", hidden=(), rows=9_000)
    o = Ole(path.read_bytes())
    sectors = (len(o.data) - 512) // 512
    assert sectors > 300
    loop = sectors - 1
    o.set_u32(44, 300).set_u32(68, loop).set_u32(72, 2)
    o.data[o.sector_at(loop) : o.sector_at(loop) + 512] = struct.pack("<128I", *[loop] * 128)
    message = refused(o.save(tmp_path / "difat.xls"))
    assert "its sector table list points outside the file or loops" in message


def test_a_sheet_offset_outside_the_stream_is_left_to_the_parser(
    book: Path, tmp_path: Path
) -> None:
    """A BOUNDSHEET pointing past the stream declares nothing; the parser has its say."""
    data = bytearray(book.read_bytes())
    record = data.find(b"\x85\x00")  # the first BOUNDSHEET: its offset leads the body
    struct.pack_into("<I", data, record + 4, 0x7FFFFFFF)
    path = tmp_path / "offset.xls"
    path.write_bytes(bytes(data))
    try:
        read_table(path)
    except InputError as error:
        assert "\n" not in str(error) and str(error).startswith("offset.xls ")


def test_scan_book_ignores_what_is_not_biff() -> None:
    """A stream that does not start with a BOF record lists no sheets; records that run past
    the end stop the scan."""
    assert () == biff.scan_book(b"\x00" * 64, max_sheets=10).sheets
    cut = struct.pack("<HHHH", 0x0809, 16, 0x0600, 5) + b"\x85\x00\xff\x00"
    assert () == biff.scan_book(cut, max_sheets=10).sheets


def test_a_version_4_compound_file_reads_its_4096_byte_sectors(book: Path) -> None:
    """The header of a version-4 file fills a whole 4096-byte sector; the stream follows it."""
    stream = ole.read_stream(book.read_bytes(), ("Workbook",))
    assert stream is not None
    again = ole.read_stream(version4_compound_file(stream), ("workbook",))
    assert stream == again
    assert frozenset({3, 5}) == biff.scan_book(again, max_sheets=10).hidden_rows("Advertisers", 0)
