"""One stream out of an OLE2 compound file (an .xls), read with every index checked.

An .xls keeps its workbook in a stream of the compound file: a little FAT file system of
512-byte (or 4096-byte) sectors, whose allocation table chains each stream's sectors, and a
*mini stream* of 64-byte sectors for streams under 4096 bytes. A damaged or hostile file may
point outside itself, chain sectors into a loop or declare a stream larger than the file; each
of these is refused here with `Damaged`, after reading no more than the file holds. Nothing is
read beyond what the named stream needs: the header, the sector table, the directory and the
stream's own chain.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["Damaged", "read_stream"]

_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER = 512
_HEADER_DIFAT = 109  # sector table locations held by the header itself
_MAX_REGULAR = 0xFFFFFFFA  # larger sector numbers are markers (end of chain, free, …)
_ENTRY = 128  # bytes per directory entry
_STREAM, _ROOT = 2, 5


class Damaged(ValueError):
    """The compound file contradicts itself; the text says how (for the one-line message)."""


@dataclass(frozen=True, slots=True)
class _File:
    data: bytes
    shift: int
    fat_sectors: tuple[int, ...]
    major: int

    @property
    def size(self) -> int:
        return 1 << self.shift

    @property
    def sectors(self) -> int:
        """Sectors the file holds (a last partial one counts)."""
        return max(0, -(-(len(self.data) - self.size) // self.size))

    def sector(self, number: int) -> bytes:
        # The header fills sector -1: 512 bytes, padded to 4096 in a version-4 file.
        start = (number + 1) << self.shift
        return self.data[start : start + self.size]

    def next(self, number: int) -> int:
        """The sector after ``number`` in its chain, from the allocation table."""
        per = self.size // 4
        table = number // per
        if table >= len(self.fat_sectors):
            raise Damaged(f"sector {number} lies beyond its allocation table")
        at = ((self.fat_sectors[table] + 1) << self.shift) + (number % per) * 4
        if at + 4 > len(self.data):
            raise Damaged("its allocation table is cut short")
        return int(struct.unpack_from("<I", self.data, at)[0])

    def chain(self, first: int, *, limit: int) -> bytes:
        """The bytes of the chain starting at ``first``, at most ``limit`` of them."""
        seen = bytearray(self.sectors)
        parts: list[bytes] = []
        have, number = 0, first
        while have < limit and number <= _MAX_REGULAR:
            if number >= self.sectors:
                raise Damaged(f"a sector chain points to sector {number}, past its end")
            if seen[number]:
                raise Damaged("a sector chain loops back on itself")
            seen[number] = 1
            part = self.sector(number)
            parts.append(part)
            have += len(part)
            number = self.next(number)
        return b"".join(parts)[:limit]


def read_stream(data: bytes, names: tuple[str, ...]) -> bytes | None:
    """The first of the streams ``names`` (any case) that the file holds; None if none is.

    Raises:
        Damaged: the header, the allocation table, the directory or the stream's chain
            contradicts itself or the file's size.
    """
    ole = _open(data)
    entries = _directory(ole)
    root = next((e for e in entries if e[0] == _ROOT), None)
    wanted = [name.casefold() for name in names]
    found = [e for e in entries if e[0] == _STREAM and e[1].casefold() in wanted]
    if not found:
        return None
    found.sort(key=lambda e: wanted.index(e[1].casefold()))
    _, _, first, size = found[0]
    if size > len(data):
        raise Damaged(f"its workbook stream declares {size:,} bytes, more than the file holds")
    cutoff = struct.unpack_from("<I", data, 56)[0]
    if size >= cutoff:
        stream = ole.chain(first, limit=size)
    else:
        if root is None:
            raise Damaged("it has no root entry")
        stream = _mini(ole, first, size, root)
    if len(stream) < size:
        raise Damaged(f"its workbook stream is cut short ({len(stream):,} of {size:,} bytes)")
    return stream


def _open(data: bytes) -> _File:
    if len(data) < _HEADER or not data.startswith(_MAGIC):
        raise Damaged("its OLE2 header is cut short")
    major, order, shift = struct.unpack_from("<HHH", data, 26)
    if order != 0xFFFE or (major, shift) not in {(3, 9), (4, 12)}:
        raise Damaged("its OLE2 header is inconsistent")
    fat_count, _, _, _, _, _, first_difat, difat_count = struct.unpack_from("<8I", data, 44)
    probe = _File(data, shift, (), major)
    if fat_count > probe.sectors or difat_count > probe.sectors:
        raise Damaged("its OLE2 header declares more sectors than the file holds")
    locations = list(struct.unpack_from(f"<{_HEADER_DIFAT}I", data, 76))
    number, seen = first_difat, set()
    per = probe.size // 4 - 1  # the last entry of a DIFAT sector chains to the next one
    while len(locations) < fat_count and number <= _MAX_REGULAR:
        if number >= probe.sectors or number in seen:
            raise Damaged("its sector table list points outside the file or loops")
        seen.add(number)
        words = struct.unpack(f"<{per + 1}I", probe.sector(number).ljust(probe.size, b"\0"))
        locations.extend(words[:per])
        number = words[per]
    fat = tuple(locations[:fat_count])
    if any(n >= probe.sectors for n in fat):
        raise Damaged("its sector table lies outside the file")
    return _File(data, shift, fat, major)


def _directory(ole: _File) -> list[tuple[int, str, int, int]]:
    """(type, name, first sector, size) of every directory entry."""
    first = struct.unpack_from("<I", ole.data, 48)[0]
    raw = ole.chain(first, limit=len(ole.data))
    entries = []
    for at in range(0, len(raw) - _ENTRY + 1, _ENTRY):
        length = struct.unpack_from("<H", raw, at + 64)[0]
        kind = raw[at + 66]
        if kind not in (_STREAM, _ROOT) or not 2 <= length <= 64:
            continue
        name = raw[at : at + length - 2].decode("utf-16-le", "replace")
        start, low, high = struct.unpack_from("<III", raw, at + 116)
        size = low if ole.major == 3 else low | high << 32  # v3 leaves the high half undefined
        entries.append((kind, name, start, size))
    return entries


def _mini(ole: _File, first: int, size: int, root: tuple[int, str, int, int]) -> bytes:
    """A small stream: 64-byte sectors of the root's stream, chained by the mini table."""
    _, _, root_first, root_size = root
    if root_size > len(ole.data):
        raise Damaged("its mini stream declares more bytes than the file holds")
    container = ole.chain(root_first, limit=root_size)
    table_first, table_count = struct.unpack_from("<II", ole.data, 60)
    if table_count > ole.sectors:
        raise Damaged("its mini sector table declares more sectors than the file holds")
    table = ole.chain(table_first, limit=table_count * ole.size)
    links = struct.unpack(f"<{len(table) // 4}I", table[: len(table) // 4 * 4])
    seen = bytearray(len(links))
    parts: list[bytes] = []
    have, number = 0, first
    while have < size and number <= _MAX_REGULAR:
        if number >= len(links) or (number + 1) * 64 > len(container):
            raise Damaged(f"a mini sector chain points to mini sector {number}, past its end")
        if seen[number]:
            raise Damaged("a mini sector chain loops back on itself")
        seen[number] = 1
        parts.append(container[number * 64 : (number + 1) * 64])
        have += 64
        number = links[number]
    return b"".join(parts)[:size]
