"""What a sheet's XML says that the cell values do not: hidden rows, uncalculated formulas.

Rows hidden by hand, by an autofilter or by a collapsed outline all carry ``hidden="1"``. A
formula cell written by a program that cannot calculate (openpyxl, a script) has no cached
value: it reads as blank, which would be reported as a missing value. Both are found with
substring searches over the sheet's XML, which costs a fraction of parsing it.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SheetMarks", "scan_sheet"]

_HIDDEN = (b' hidden="1"', b' hidden="true"')
_ROOT = re.compile(rb"<(\w+:)?worksheet\b")
_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b")
_R = re.compile(rb'\br="\$?([A-Z]{0,3})\$?(\d+)"')
_TYPE = re.compile(rb'\bt="([^"]*)"')
_VALUE = re.compile(rb"<(?:\w+:)?v\s*>([^<]*)<")


@dataclass(frozen=True, slots=True)
class SheetMarks:
    """Excel row numbers of hidden rows; (row, column number) of uncalculated formula cells."""

    hidden: frozenset[int] = frozenset()
    uncalculated: frozenset[tuple[int, int]] = frozenset()


def scan_sheet(path: Path, part: str) -> SheetMarks:
    """Read the sheet part ``part`` of the workbook at ``path`` (its size was checked)."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(part)
    root = _ROOT.search(data, 0, 4096)
    prefix = (root.group(1) or b"") if root else b""
    return SheetMarks(_hidden_rows(data), _uncalculated(data, prefix))


def _occurrences(data: bytes, needle: bytes) -> list[int]:
    """Where ``needle`` occurs (bytes.find is a fast scan; a regex would try every '<')."""
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _hidden_rows(data: bytes) -> frozenset[int]:
    rows: set[int] = set()
    for at in sorted(p for needle in _HIDDEN for p in _occurrences(data, needle)):
        start = data.rfind(b"<", 0, at)
        end = data.find(b">", at)
        tag = data[start : end + 1]
        if not _ROW_TAG.match(tag):
            continue  # a hidden column or sheet view, not a row
        number = _R.search(tag)
        # Rows without r="" are numbered by position; no writer we know of omits it.
        rows.add(int(number.group(2)) if number else data.count(b"<row", 0, start) + 1)
    return frozenset(rows)


def _uncalculated(data: bytes, prefix: bytes) -> frozenset[tuple[int, int]]:
    cells: set[tuple[int, int]] = set()
    opening = b"<" + prefix + b"f"
    for at in _occurrences(data, opening):
        if data[at + len(opening) : at + len(opening) + 1] not in (b">", b" ", b"/"):
            continue  # another element starting with f
        start = data.rfind(b"<" + prefix + b"c ", 0, at)
        end = data.find(b"</" + prefix + b"c>", at)
        if start < 0 or end < 0:
            continue
        tag = data[start : data.find(b">", start) + 1]
        body = data[at:end]
        value = _VALUE.search(body)
        if value is not None and value.group(1).strip():
            continue
        kind = _TYPE.search(tag)
        if kind is not None and kind.group(1) == b"str":
            continue  # a formula that was calculated to the empty string
        ref = _R.search(tag)
        if ref is not None and ref.group(1):
            cells.add((int(ref.group(2)), _column_number(ref.group(1).decode())))
    return frozenset(cells)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number
