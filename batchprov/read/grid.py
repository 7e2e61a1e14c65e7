"""A sheet's text cells (`Grid`) → the header row and data rows (`Parts`), in plain Python.

This runs in the reader child, which imports neither pandas nor numpy (it starts faster and
forks smaller); the parent turns `Parts` into a `models.Table`. Cells travel column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from batchprov.errors import NoHeaderError, UnreadableFileError
from batchprov.read.headers import column_letter, header_score

#: How many non-empty rows are searched for the header row.
HEADER_SCAN_ROWS = 30
#: A header row must name at least this many known fields.
MIN_HEADER_SCORE = 2


@dataclass(frozen=True, slots=True)
class Grid:
    """The text cells of one sheet, before the header row is found.

    ``row0``/``col0`` are the 0-based sheet position of ``rows[0][0]``: calamine starts its
    data at the first used cell, and Excel row and column numbers must count from A1.
    ``hidden`` holds the Excel numbers of hidden rows; ``uncalculated`` the (Excel row,
    column number) of formula cells without a calculated value.
    """

    name: str
    format: str
    sheet: str
    rows: list[list[str]]
    row0: int = 0
    col0: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    hidden: frozenset[int] = field(default_factory=frozenset)
    uncalculated: frozenset[tuple[int, int]] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything a `models.Table` holds, with the cells as columns of text (no DataFrame)."""

    format: str
    sheet: str
    headers: tuple[str, ...]
    columns: tuple[int, ...]
    header_row: int
    excel_rows: tuple[int, ...]
    cells: tuple[Sequence[str], ...]
    encoding: str | None = None
    delimiter: str | None = None
    hidden_rows: tuple[int, ...] = ()
    uncalculated: tuple[tuple[int, int], ...] = ()


def to_parts(grid: Grid, *, include_hidden: bool = False) -> Parts:
    """Find the header row and keep the non-empty data rows below it (hidden ones too if asked).

    Raises:
        UnreadableFileError: the sheet has no non-empty row.
        NoHeaderError: no row among the first non-empty ones looks like a header row.
    """
    rows = grid.rows
    filled = [any(row) for row in rows]
    header_at = _find_header(grid, filled)
    below = [at for at in range(header_at + 1, len(rows)) if filled[at]]
    left_out: list[int] = []
    if grid.hidden and not include_hidden:
        kept = [at for at in below if grid.row0 + at + 1 not in grid.hidden]
        left_out = [grid.row0 + at + 1 for at in below if grid.row0 + at + 1 in grid.hidden]
    else:
        kept = below
    width = max(map(len, rows), default=0)
    header = _padded(rows[header_at], width)
    data = [_padded(rows[at], width) for at in kept]
    columns = list(zip(*data, strict=True)) if data else [()] * width
    used = [j for j in range(width) if header[j] or any(columns[j])]
    span = range(used[0], used[-1] + 1)
    numbers = tuple(grid.col0 + j + 1 for j in span)
    excel_rows = tuple(grid.row0 + at + 1 for at in kept)
    shown = set(excel_rows)
    return Parts(
        format=grid.format,
        sheet=grid.sheet,
        headers=unique_headers([header[j] for j in span], numbers),
        columns=numbers,
        header_row=grid.row0 + header_at + 1,
        excel_rows=excel_rows,
        cells=tuple(columns[j] for j in span),
        encoding=grid.encoding,
        delimiter=grid.delimiter,
        hidden_rows=tuple(left_out),
        uncalculated=tuple(sorted(cell for cell in grid.uncalculated if cell[0] in shown)),
    )


def _padded(row: list[str], width: int) -> list[str]:
    """A short row (ragged delimited text) padded with ''."""
    return row if len(row) == width else row + [""] * (width - len(row))


def _find_header(grid: Grid, filled: list[bool]) -> int:
    """The index of the first row scoring best among the first non-empty rows."""
    candidates = [at for at, full in enumerate(filled) if full][:HEADER_SCAN_ROWS]
    if not candidates:
        raise UnreadableFileError(f"{_where(grid)} has no rows.")
    scores = [header_score(grid.rows[at]) for at in candidates]
    best = max(scores)
    if best < MIN_HEADER_SCORE:
        raise NoHeaderError(
            f"No header row found in the first {HEADER_SCAN_ROWS} rows of {_where(grid)}; "
            "expected columns such as name, group_id, termination_number."
        )
    return candidates[scores.index(best)]


def _where(grid: Grid) -> str:
    return grid.name if grid.format == "csv" else f"{grid.sheet} ({grid.name})"


def unique_headers(cells: Sequence[str], numbers: Sequence[int]) -> tuple[str, ...]:
    """Blank headers named after their column letter, repeats suffixed `` (2)``, `` (3)`` …"""
    named = [cell or f"Column {column_letter(n)}" for cell, n in zip(cells, numbers, strict=True)]
    seen: set[str] = set()
    unique: list[str] = []
    for header in named:
        candidate, copy = header, 1
        while candidate in seen:
            copy += 1
            candidate = f"{header} ({copy})"
        seen.add(candidate)
        unique.append(candidate)
    return tuple(unique)
