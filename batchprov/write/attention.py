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
from batchprov.write.columns import ATTENTION_HEADER_ROW
from batchprov.write.datasheet import ExtraValues, annotate_sheet, fill_sheet
from batchprov.write.styles import HEADER_FONT, cell_at, put

__all__ = [
    "ATTENTION_SHEET",
    "NEEDS_ATTENTION",
    "attention_rows",
    "attention_table",
    "origin_header",
    "write_attention",
]

ATTENTION_SHEET = "Needs attention"
#: The rows this sheet holds.
NEEDS_ATTENTION = frozenset({Status.INVALID, Status.FAILED})
#: The header row of the sheet, under its title row (`columns.check_attention_room` counts it).
_HEADER_ROW = ATTENTION_HEADER_ROW
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
    standalone: bool = False,
) -> int:
    """Fill ``ws`` with the rows needing attention; return how many there are.

    ``standalone``: the sheet is a file of its own (``--failed-only``), not a sheet of the
    results workbook, and its title says so.
    """
    chosen = attention_rows(results)
    sub = attention_table(table, chosen)
    title = cell_at(ws, 1, 1)
    if chosen:
        put(title, _title(len(chosen), table.sheet, standalone=standalone))
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
    # Printed, the title row runs across the pages: a first column repeated on each would cut it.
    annotate_sheet(
        ws, sub, renumbered, own, headers, shifted, sandbox=sandbox, repeat_first_column=False
    )
    _origin_column(ws, chosen, table.sheet)
    ws.sheet_properties.tabColor = "B3261E" if chosen else "1E6B34"
    return len(chosen)


def attention_rows(results: Sequence[RowResult]) -> list[RowResult]:
    """The results of the rows needing attention (invalid and failed), in sheet order."""
    return [r for r in results if r.status in NEEDS_ATTENTION]


def origin_header(sheet: str) -> str:
    """The header of the last column, naming each row's number on the data sheet."""
    return f"Row on {sheet}"


def _title(count: int, sheet: str, *, standalone: bool = False) -> str:
    noun = "row needs" if count == 1 else "rows need"
    if standalone:
        return (
            f"batchprov: {count} {noun} attention. Fix the red cells, then run this file "
            f'again; its last column gives the rows\' numbers on the sheet "{sheet}".'
        )
    return (
        f"batchprov: {count} {noun} attention. Fix the red cells here, then run this sheet "
        f'again (--sheet "{ATTENTION_SHEET}"), or fix them on the sheet "{sheet}".'
    )


def attention_table(
    table: Table, chosen: Sequence[RowResult], *, header_row: int = _HEADER_ROW
) -> Table:
    """The chosen rows under the input's own headers, closed up from column A, the header at
    ``header_row`` and the rows right under it."""
    span = result_span(table.headers)
    keep = [i for i in range(len(table.headers)) if i not in span]
    headers = tuple(table.headers[i] for i in keep)
    frame = table.frame.iloc[[r.index for r in chosen], keep].reset_index(drop=True)
    first = header_row + 1
    return replace(
        table,
        headers=headers,
        columns=tuple(range(1, len(headers) + 1)),
        header_row=header_row,
        frame=frame,
        excel_rows=tuple(range(first, first + len(chosen))),
    )


def _origin_column(ws: Worksheet, chosen: Sequence[RowResult], sheet: str) -> None:
    """A last column giving each row's number on the data sheet."""
    column = ws.max_column + 1
    header = cell_at(ws, _HEADER_ROW, column)
    put(header, origin_header(sheet))
    header.font = HEADER_FONT
    for offset, result in enumerate(chosen):
        put(cell_at(ws, _HEADER_ROW + 1 + offset, column), result.excel_row)
    ws.column_dimensions[get_column_letter(column)].width = max(12, len(sheet) + 9)
    last = f"{get_column_letter(column)}{_HEADER_ROW + len(chosen)}"
    ws.auto_filter.ref = f"A{_HEADER_ROW}:{last}"  # the filter and the print cover it too
    ws.print_area = f"A1:{last}"
