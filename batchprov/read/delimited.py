"""Reading delimited text (.csv, .tsv, .txt) into a `Grid`: encoding and delimiter detected.

Encodings: a BOM's (UTF-8, UTF-16 LE/BE), else UTF-16 without a BOM when the NUL bytes say so
(every other byte of ASCII text), else UTF-8, else Windows-1252.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from pathlib import Path

from batchprov.errors import UnreadableFileError
from batchprov.read.grid import Grid
from batchprov.read.workbook import DELIMITERS, OLE2_MAGIC, ZIP_MAGIC

__all__ = ["decode_text", "read_delimited"]

_SNIFF_CHARS = 65536
_SNIFF_ROWS = 200
_UTF16_SAMPLE = 4096


def read_delimited(path: Path) -> Grid:
    data = path.read_bytes()  # its size was checked against max_file_mb
    if data.startswith((ZIP_MAGIC, OLE2_MAGIC)):
        raise UnreadableFileError(
            f"{path.name} is an Excel workbook, not delimited text; rename it to .xlsx or .xls."
        )
    text, encoding = decode_text(data)
    if "\0" in text:
        raise UnreadableFileError(f"{path.name} is not a text file.")
    delimiter = _sniff_delimiter(text, path.suffix.lower())
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    try:
        rows = [[cell.strip() for cell in row] for row in reader]
    except csv.Error as error:
        raise UnreadableFileError(
            f"{path.name} cannot be read as delimited text (line {reader.line_num}: {error})."
        ) from None
    return Grid(path.name, "csv", path.stem, rows, encoding=encoding, delimiter=delimiter)


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in (see the module's docstring for the order)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export.
        return data.decode("utf-16", errors="replace"), "utf-16"
    unmarked = _utf16_without_bom(data)
    if unmarked:
        return data.decode(unmarked, errors="replace"), unmarked
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Five bytes are undefined in Windows-1252; they become U+FFFD rather than fail.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when most odd (even) bytes are NUL and the others are not."""
    sample = data[:_UTF16_SAMPLE]
    if len(sample) < 4 or len(data) % 2:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    pairs = len(even)
    even_nul, odd_nul = even.count(0), odd.count(0)
    if odd_nul >= 0.6 * pairs and even_nul <= 0.05 * pairs:
        return "utf-16-le"
    if even_nul >= 0.6 * pairs and odd_nul <= 0.05 * pairs:
        return "utf-16-be"
    return None


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
