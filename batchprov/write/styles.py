"""How batchprov's cells look and how they are written: tones, header looks, safe text.

Shared by the data sheet (`datasheet`), the Summary and Errors sheets (`reports`) and the
workbook made for a non-Excel input (`output`).
"""

from __future__ import annotations

import textwrap
from copy import copy
from datetime import datetime

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.models import Status

Value = str | int | datetime | None
#: How date-times are shown: sortable, and read by every spreadsheet program.
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

_EXCEL_TEXT_LIMIT = 32767

GOOD, BAD, IDLE = "good", "bad", "idle"
TONE = {
    Status.PROVISIONED: GOOD,
    Status.ALREADY_PROVISIONED: GOOD,
    Status.VALID: GOOD,
    Status.PLANNED: GOOD,
    Status.INVALID: BAD,
    Status.FAILED: BAD,
    Status.NOT_ATTEMPTED: IDLE,
    Status.UPDATED: GOOD,
    Status.RELEASED: IDLE,
}
ROW_COLOUR = {GOOD: "E8F4EA", BAD: "FBE9E7", IDLE: "FFF4DC"}
ROW_FILL = {tone: PatternFill("solid", fgColor=colour) for tone, colour in ROW_COLOUR.items()}
TONE_STATUSES = {tone: tuple(s for s in Status if TONE[s] == tone) for tone in (GOOD, BAD, IDLE)}
TONE_FONT = {
    GOOD: Font(bold=True, color="1E6B34"),
    BAD: Font(bold=True, color="B3261E"),
    IDLE: Font(bold=True, color="8A5300"),
}
HEADER_FILL = PatternFill("solid", fgColor="DCE4F0")
HEADER_FONT = Font(bold=True, color="1F3864")
HEADER_BORDER = Border(bottom=Side(style="thin", color="8EA9DB"))
WRAP = Alignment(wrap_text=True)


def clean(text: str) -> str:
    """Text Excel accepts: no control characters, at most 32,767 characters."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:_EXCEL_TEXT_LIMIT]


def put(cell: Cell, value: str | int | datetime) -> None:
    """Write ``value``; text always stays text (``=…`` is not a formula, ``#N/A`` no error).

    A date-time is written as a real one, shown as ``DATETIME_FORMAT``.
    """
    if isinstance(value, str):
        cell.value = clean(value)
        if cell.data_type != "s":
            cell.data_type = "s"
    else:
        cell.value = value
        if isinstance(value, datetime) and cell.number_format != DATETIME_FORMAT:
            cell.number_format = DATETIME_FORMAT


def cell_at(ws: Worksheet, row: int, column: int) -> Cell:
    """The cell at (row, column), splitting a merged area over it so that it can be written."""
    cell = ws.cell(row=row, column=column)
    if isinstance(cell, Cell):
        return cell
    for area in list(ws.merged_cells.ranges):
        if area.min_row <= row <= area.max_row and area.min_col <= column <= area.max_col:
            ws.unmerge_cells(area.coord)
    cell = ws.cell(row=row, column=column)
    assert isinstance(cell, Cell)
    return cell


def text_width(value: str | int | datetime) -> int:
    if isinstance(value, datetime):
        return len(DATETIME_FORMAT)
    text = str(value)
    return max(map(len, text.split("\n"))) if "\n" in text else len(text)


#: Characters of ordinary text per unit of column width: a width counts digits, and text runs
#: a little narrower. Kept low: a row sized one line too tall shows a blank line, one sized too
#: short hides the end of its message.
_CHARS_PER_WIDTH = 1.15


def line_count(text: str, width: float) -> int:
    """Lines ``text`` takes wrapped at word boundaries in a column ``width`` wide (its own line
    breaks kept), as spreadsheet programs wrap it."""
    per_line = max(1, int(width * _CHARS_PER_WIDTH))
    return sum(max(1, len(textwrap.wrap(line, per_line))) for line in text.split("\n"))


class Stamper:
    """Gives many cells one of a few fixed looks, quickly.

    openpyxl's style setters look every style object up in the workbook's style tables on each
    assignment, which costs seconds over a million cells. So each look is applied once with
    the public setters and its style record is then copied to the other cells.
    """

    def __init__(self) -> None:
        self._looks: dict[str, StyleArray] = {}

    def stamp(self, cell: Cell, kind: str) -> None:
        look = self._looks.get(kind)
        if look is None:
            cell.style = "Normal"  # forget whatever the cell looked like before
            cell.number_format = DATETIME_FORMAT if kind == "time" else "@"
            if kind == "wrap":
                cell.alignment = WRAP
            self._looks[kind] = copy(cell._style)  # type: ignore[attr-defined]
        else:
            cell._style = copy(look)  # type: ignore[attr-defined]


def print_setup(
    ws: Worksheet,
    *,
    header_row: int | None = None,
    first_column: int | None = 1,
    fit_width: bool = False,
    ours: bool = True,
    area: str | None = None,
) -> None:
    """Print ``ws`` landscape, with its header row (and ``first_column``) on every page.

    ``fit_width``: shrink to one page wide (narrow sheets: Summary, Errors); a wide data sheet
    instead runs over several pages, each readable, the first column naming the row.
    ``area``: the cells to print (a long last cell, such as a request body, would otherwise
    run on over pages of its own). A sheet of the user's (``ours=False``) keeps any print setup
    of its own.
    """
    props = ws.sheet_properties.pageSetUpPr
    own = (props is not None and props.fitToPage) or ws.page_setup.orientation is not None
    own = own or bool(ws.print_title_rows or ws.print_title_cols or ws.print_area)
    # An earlier run's setup (landscape, this header row repeated) is redone, not kept.
    earlier = (
        ws.page_setup.orientation == "landscape"
        and header_row is not None
        and ws.print_title_rows == f"${header_row}:${header_row}"
    )
    if not ours and own and not earlier:
        return
    if area is not None:
        ws.print_area = area
    ws.page_setup.orientation = "landscape"
    if fit_width:
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"
    if header_row is not None and first_column is not None:
        letter = get_column_letter(first_column)
        ws.print_title_cols = f"{letter}:{letter}"
