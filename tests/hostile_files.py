"""Hostile and damaged input files, generated for the tests that feed them to the reader."""

from __future__ import annotations

import random
import string
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl

HEADER = ["Advertiser", "Group", "Forward To"]
ROW: list[object] = ["Acme Plumbing", 11623282, 9056372046]
_SHEET = "xl/worksheets/sheet1.xml"


def plain_xlsx(path: Path, rows: int = 1) -> Path:
    """A small, valid advertiser workbook."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for number in range(rows):
        sheet.append([f"Advertiser {number}", *ROW[1:]])
    book.save(path)
    return path


def rewrite_xlsx(source: Path, target: Path, parts: dict[str, bytes]) -> Path:
    """``source`` with some parts replaced (or added), deflated as Excel does."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            new.writestr(item.filename, parts.pop(item.filename, old.read(item.filename)))
        for name, data in parts.items():
            new.writestr(name, data)
    return target


def sheet_xml(rows: bytes, dimension: str = "A1:C2") -> bytes:
    """A worksheet part holding ``rows`` (``<row>`` elements) under the given dimension."""
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="' + dimension.encode() + b'"/><sheetData>' + rows + b"</sheetData>"
        b"</worksheet>"
    )


def _inline(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def _header_rows() -> bytes:
    header = b"".join(_inline(f"{c}1", h) for c, h in zip("ABC", HEADER, strict=True))
    data = _inline("A2", "Acme") + b'<c r="B2"><v>12</v></c><c r="C2"><v>9056372046</v></c>'
    return b'<row r="1">' + header + b'</row><row r="2">' + data + b"</row>"


def xfd_xlsx(folder: Path) -> Path:
    """A valid ~5 KB workbook with one cell at XFD1048576: it declares 17 billion cells."""
    path = plain_xlsx(folder / "xfd.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["XFD1048576"] = "last cell"
    book.save(path)
    return path


def lying_dimension_xlsx(folder: Path) -> Path:
    """Declares A1:C2 but holds a cell at XFD1048576: only the memory limit can stop it."""
    far = b'<row r="1048576">' + _inline("XFD1048576", "far") + b"</row>"
    xml = sheet_xml(_header_rows() + far, "A1:C2")
    return rewrite_xlsx(plain_xlsx(folder / "base.xlsx"), folder / "lying.xlsx", {_SHEET: xml})


def beyond_last_row_xlsx(folder: Path, row: int = 1_048_577) -> Path:
    """A ~5 KB workbook of two valid rows, the second at ``row``: past Excel's last row."""
    cells = ("Acme Beyond", "11623282", "tollfree", "9056372046")
    header = b"".join(_inline(f"{c}1", h) for c, h in zip("ABCD", _ROW_HEADERS, strict=True))
    first = b"".join(_inline(f"{c}2", v) for c, v in zip("ABCD", cells, strict=True))
    far = b"".join(_inline(f"{c}{row}", v) for c, v in zip("ABCD", cells, strict=True))
    rows = (
        b'<row r="1">' + header + b'</row><row r="2">' + first.replace(b"Beyond", b"First")
        + f'</row><row r="{row}">'.encode() + far + b"</row>"
    )  # fmt: skip
    xml = sheet_xml(rows, f"A1:D{row}")
    return rewrite_xlsx(plain_xlsx(folder / "base.xlsx"), folder / "beyond.xlsx", {_SHEET: xml})


_ROW_HEADERS = ("name", "group_id", "match_type", "termination_number")


def shared_string_bomb_xlsx(folder: Path, *, size: int = 100 << 20, uses: int = 2000) -> Path:
    """One shared string of ``size`` bytes used by ``uses`` cells (a 140 KB file by default)."""
    chunk = b"A" * (1 << 20)
    text = [*[chunk] * (size // len(chunk)), b"A" * (size % len(chunk))]
    return _with_shared_strings(folder / "strings.xlsx", text, uses)


def varied_string_bomb_xlsx(folder: Path, *, size: int = 2 << 20, uses: int = 2000) -> Path:
    """A shared string that compresses poorly (so passes the ratio check), used by many cells."""
    text = "".join(random.Random(size).choices(string.ascii_letters, k=size)).encode()
    return _with_shared_strings(folder / "varied.xlsx", [text], uses)


def _with_shared_strings(path: Path, text: list[bytes], uses: int) -> Path:
    strings = [
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        b'uniqueCount="1"><si><t>',
        *text,
        b"</t></si></sst>",
    ]
    cells = b"".join(
        f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>'.encode() for r in range(3, 3 + uses)
    )
    with zipfile.ZipFile(plain_xlsx(path.with_name("base.xlsx"))) as old:
        types = old.read("[Content_Types].xml").replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        rels = old.read("xl/_rels/workbook.xml.rels").replace(
            b"</Relationships>",
            b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            b"</Relationships>",
        )
        replaced = {
            "[Content_Types].xml": [types],
            "xl/_rels/workbook.xml.rels": [rels],
            _SHEET: [sheet_xml(_header_rows() + cells, f"A1:C{2 + uses}")],
        }
        members = [
            _deflated(item.filename, replaced.get(item.filename, [old.read(item.filename)]))
            for item in old.infolist()
        ]
    members.append(_deflated("xl/sharedStrings.xml", strings))
    return _write_zip(path, members)


def xml_bomb_xlsx(folder: Path, *, size: int = 1536 << 20) -> Path:
    """A ~1.5 MB file whose sheet unpacks to ``size`` bytes of XML (1.5 GB by default).

    The sheet's deflate stream is one compressed megabyte repeated (a full flush makes each
    copy byte-identical), so making it costs a CRC pass, not compressing 1.5 GB.
    """
    with zipfile.ZipFile(plain_xlsx(folder / "base.xlsx")) as old:
        members = [
            _deflated(item.filename, [old.read(item.filename)])
            for item in old.infolist()
            if item.filename != _SHEET
        ]
    head, tail = sheet_xml(_header_rows() + b'<row r="3">' + b"\0").split(b"\0")
    chunk = b"<c/>" * (1 << 18)  # 1 MB
    members.append(_deflated(_SHEET, [head, *[chunk] * (size // len(chunk)), b"</row>" + tail]))
    return _write_zip(folder / "bomb.xlsx", members)


_Member = tuple[str, int, int, bytes]  # name, CRC-32, unpacked size, raw deflate data


def _deflated(name: str, pieces: list[bytes]) -> _Member:
    """Deflate ``pieces`` in turn, each ending in a full flush (so repeats compress alike)."""
    out: list[bytes] = []
    crc, size, seen = 0, 0, {}
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    for piece in pieces:
        crc, size = zlib.crc32(piece, crc), size + len(piece)
        key = id(piece)
        if key not in seen:
            seen[key] = deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)
        out.append(seen[key])
    out.append(deflate.flush())
    return name, crc, size, b"".join(out)


def _write_zip(path: Path, members: list[_Member]) -> Path:
    """A plain zip (no zip64, no data descriptors) of already-deflated members."""
    body, directory = bytearray(), bytearray()
    for name, crc, size, data in members:
        encoded = name.encode()
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + encoded + data
        directory += struct.pack("<IH", 0x02014B50, 20)
        directory += struct.pack("<HHHHHIIIHHHHHII", *fields, 0, 0, 0, 0, offset) + encoded
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(body), 0
    )
    path.write_bytes(bytes(body + directory + end))
    return path


def plain_xls(path: Path) -> Path:
    """A small, valid Excel 97 workbook (written with xlwt, a test-only tool)."""
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for r, row in enumerate([HEADER, ROW]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(path))
    return path


def damaged_xls(folder: Path) -> Path:
    """An .xls with one byte changed: its DIMENSIONS record claims 4 billion rows."""
    data = bytearray(plain_xls(folder / "base.xls").read_bytes())
    record = data.find(b"\x00\x02\x0e\x00")  # DIMENSIONS, 14 bytes: rwMic, rwMac, colMic, colMac
    assert record > 0
    data[record + 4 + 7] = 0xFF  # the high byte of rwMac
    path = folder / "damaged.xls"
    path.write_bytes(bytes(data))
    return path


def hidden_rows_xls(path: Path, *, hidden: tuple[int, ...] = (3, 5), rows: int = 5) -> Path:
    """An Excel 97 workbook of ``rows`` valid toll-free rows under a header, the rows with
    these Excel numbers hidden (the ROW record's zero-height flag, as Excel sets it for rows
    hidden by hand, by a filter or by a collapsed outline)."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Advertisers")
    for c, title in enumerate(["Advertiser", "Group", "Match Type", "Forward To"]):
        sheet.write(0, c, title)
    for r in range(1, rows + 1):
        for c, value in enumerate([f"Shop {r}", 11623282, "tollfree", "9056372046"]):
            sheet.write(r, c, value)
    for number in hidden:
        sheet.row(number - 1).hidden = True
    book.add_sheet("Notes").write(0, 0, "not the data")
    book.save(str(path))
    return path


def xls_dimensions(
    source: Path, target: Path, rows: tuple[int, int], cols: tuple[int, int]
) -> Path:
    """``source`` with its first sheet's DIMENSIONS record declaring these (first, end) rows
    and columns (end is one past the last)."""
    data = bytearray(source.read_bytes())
    record = data.find(b"\x00\x02\x0e\x00")
    assert record > 0
    struct.pack_into("<IIHH", data, record + 4, rows[0], rows[1], cols[0], cols[1])
    target.write_bytes(bytes(data))
    return target


class Ole:
    """Byte surgery on a small version-3 compound file (512-byte sectors, one FAT sector)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        assert struct.unpack_from("<H", data, 30)[0] == 9

    def u32(self, at: int) -> int:
        return int(struct.unpack_from("<I", self.data, at)[0])

    def set_u32(self, at: int, value: int) -> Ole:
        struct.pack_into("<I", self.data, at, value)
        return self

    def sector_at(self, number: int) -> int:
        return 512 + number * 512

    def fat_entry(self, number: int) -> int:
        """Where the allocation table holds the successor of sector ``number``."""
        return self.sector_at(self.u32(76)) + 4 * number

    def entry(self, name: str) -> int:
        """Where the directory entry named ``name`` starts."""
        first = self.sector_at(self.u32(48))
        for at in range(first, first + 512, 128):
            length = struct.unpack_from("<H", self.data, at + 64)[0]
            if bytes(self.data[at : at + length - 2]).decode("utf-16-le") == name:
                return at
        raise KeyError(name)

    def chain(self, first: int) -> list[int]:
        numbers = []
        while first < 0xFFFFFFFA and len(numbers) < 10_000:
            numbers.append(first)
            first = self.u32(self.fat_entry(first))
        return numbers

    def save(self, path: Path) -> Path:
        path.write_bytes(bytes(self.data))
        return path

    def to_mini_stream(self, length: int) -> Ole:
        """Keep only the first ``length`` (< 4096) bytes of the Workbook stream, moved into the
        mini stream as small streams must be: its sectors become the root's mini stream, and
        a new last sector holds the mini sector table."""
        workbook, root = self.entry("Workbook"), self.entry("Root Entry")
        first, size = self.u32(workbook + 116), self.u32(workbook + 120)
        assert length < 4096 <= size
        table = len(self.data) // 512 - 1  # the new sector's number
        minis = -(-length // 64)
        links = [*range(1, minis), 0xFFFFFFFE] + [0xFFFFFFFF] * (128 - minis)
        self.data += struct.pack("<128I", *links)
        self.set_u32(self.fat_entry(table), 0xFFFFFFFE)
        self.set_u32(60, table).set_u32(64, 1)
        self.set_u32(root + 116, first).set_u32(root + 120, size)
        return self.set_u32(workbook + 116, 0).set_u32(workbook + 120, length)


def version4_compound_file(stream: bytes, name: str = "Workbook") -> bytes:
    """A version-4 compound file (4096-byte sectors) holding one stream of at least 4096 bytes:
    the header padded to a sector, the stream's sectors, the allocation table, the directory."""
    size, end, free = 4096, 0xFFFFFFFE, 0xFFFFFFFF
    assert len(stream) >= 4096
    count = -(-len(stream) // size)
    fat_at, dir_at = count, count + 1
    fat = [*range(1, count), end, 0xFFFFFFFD, end]  # the stream, the table itself, the directory
    fat += [free] * (size // 4 - len(fat))
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 4, 0xFFFE, 12, 6)
    struct.pack_into("<IIIIIIIII", header, 40, 1, 1, dir_at, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 76, fat_at, *[free] * 108)

    def entry(title: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = bytearray(128)
        encoded = title.encode("utf-16-le") + b"\0\0"
        raw[: len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, free, free, child)
        struct.pack_into("<IQ", raw, 116, start, length)
        return bytes(raw)

    directory = entry("Root Entry", 5, 1, end, 0) + entry(name, 2, free, 0, len(stream))
    body = stream.ljust(count * size, b"\0") + struct.pack(f"<{size // 4}I", *fat)
    return bytes(header.ljust(size, b"\0")) + body + directory.ljust(size, b"\0")
