"""The Needs attention sheet: only the invalid and failed rows, ready to fix and run again.

The rows keep the input's headers (columns closed up, without the result columns of an earlier
run), so the sheet is a valid input of its own; each row's result columns and marked cells
follow as on the data sheet, and a last column names the row on the data sheet. A title row
above the header says what the sheet is (a reader skips title rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.models import Issue, RowResult, Status, Table
from batchprov.read.headers import result_span
from batchprov.write.datasheet import ExtraValues, annotate_sheet, fill_sheet
from batchprov.write.styles import HEADER_FONT, cell_at, put

__all__ = ["ATTENTION_SHEET", "NEEDS_ATTENTION", "write_attention"]

ATTENTION_SHEET = "Needs attention"
#: The rows this sheet holds.
NEEDS_ATTENTION = frozenset({Status.INVALID, Status.FAILED})
#: The header row of the sheet, under its title row.
_HEADER_ROW = 2
_TITLE_FONT = Font(bold=True, color="B3261E")


def write_attention(
    ws: Worksheet,
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    headers: Sequence[str],
    extra: ExtraValues,
    *,
    sandbox: bool = False,
) -> int:
    """Fill ``ws`` with the rows needing attention; return how many there are."""
    chosen = [r for r in results if r.status in NEEDS_ATTENTION]
    sub = _sub_table(table, chosen)
    title = cell_at(ws, 1, 1)
    if chosen:
        put(title, _title(len(chosen), table.sheet))
    else:
        put(title, "batchprov: no row needs attention. Every row is fine as it is.")
    title.font = _TITLE_FONT
    fill_sheet(ws, sub)
    moved = {r.excel_row: _HEADER_ROW + 1 + i for i, r in enumerate(chosen)}
    renumbered = [replace(r, index=i, excel_row=moved[r.excel_row]) for i, r in enumerate(chosen)]
    own = [replace(i, row=moved[i.row]) for i in issues if i.row in moved]
    positions = {r.index: i for i, r in enumerate(chosen)}
    shifted = {
        h: {positions[k]: v for k, v in m.items() if k in positions} for h, m in extra.items()
    }
    annotate_sheet(ws, sub, renumbered, own, headers, shifted, sandbox=sandbox)
    _origin_column(ws, chosen, table.sheet)
    ws.sheet_properties.tabColor = "B3261E" if chosen else "1E6B34"
    return len(chosen)


def _title(count: int, sheet: str) -> str:
    noun = "row needs" if count == 1 else "rows need"
    return (
        f"batchprov: {count} {noun} attention. Fix the red cells here, then run this sheet "
        f'again (--sheet "{ATTENTION_SHEET}"), or fix them on the sheet "{sheet}".'
    )


def _sub_table(table: Table, chosen: Sequence[RowResult]) -> Table:
    """The chosen rows under the input's own headers, closed up from column A."""
    span = result_span(table.headers)
    keep = [i for i in range(len(table.headers)) if i not in span]
    headers = tuple(table.headers[i] for i in keep)
    frame = table.frame.iloc[[r.index for r in chosen], keep].reset_index(drop=True)
    first = _HEADER_ROW + 1
    return replace(
        table,
        headers=headers,
        columns=tuple(range(1, len(headers) + 1)),
        header_row=_HEADER_ROW,
        frame=frame,
        excel_rows=tuple(range(first, first + len(chosen))),
    )


def _origin_column(ws: Worksheet, chosen: Sequence[RowResult], sheet: str) -> None:
    """A last column giving each row's number on the data sheet."""
    column = ws.max_column + 1
    header = cell_at(ws, _HEADER_ROW, column)
    put(header, f"Row on {sheet}")
    header.font = HEADER_FONT
    for offset, result in enumerate(chosen):
        put(cell_at(ws, _HEADER_ROW + 1 + offset, column), result.excel_row)
    ws.column_dimensions[get_column_letter(column)].width = max(12, len(sheet) + 9)
