"""Parsing one input file into `Parts`: the work the reader child does.

Imports neither pandas nor numpy, so the reader child starts in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

from batchprov.read.delimited import read_delimited
from batchprov.read.grid import Parts, to_parts
from batchprov.read.head import EXCEL_SUFFIXES
from batchprov.read.limits import ReadLimits
from batchprov.read.workbook import read_workbook

__all__ = ["EXCEL_SUFFIXES", "parse_file"]


def parse_file(
    path: Path, head: bytes, *, sheet: str | None, include_hidden: bool, limits: ReadLimits
) -> Parts:
    """Read ``path`` (whose first bytes are ``head``) into parts of a Table."""
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        grid = read_workbook(path, suffix, head, sheet, limits)
    else:
        grid = read_delimited(path)
    return to_parts(grid, include_hidden=include_hidden)
