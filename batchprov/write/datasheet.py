"""The user's data sheet: result columns, row colours, problem cells and their comments.

Result columns are appended to the data sheet, or overwritten in place when the sheet already
holds them (a re-run); an earlier run's fills and comments on the user's cells are taken back.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Font, PatternFill
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.clock import local_datetime
from batchprov.errors import ConfigError
from batchprov.models import Issue, RowResult, Severity, Table
from batchprov.read.headers import result_span
from batchprov.wording import match_type_words, status_text
from batchprov.write.columns import MAX_ROWS
from batchprov.write.styles import (
    HEADER_BORDER,
    HEADER_FILL,
    HEADER_FONT,
    ROW_COLOUR,
    TONE_FONT,
    TONE_STATUSES,
    Stamper,
    Value,
    cell_at,
    clean,
    line_count,
    print_setup,
    put,
    text_width,
)

#: Author of every comment batchprov writes; how a re-run tells its own marks from the user's.
AUTHOR = "batchprov"
#: Per optional header, per row index (position in ``Table.frame``): a value to write.
ExtraValues = Mapping[str, Mapping[int, str]]

_MAX_WIDTH = 50
_T = TypeVar("_T")
_EARLIER = "\n\n--- earlier comment by "

_ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
_WARNING_FILL = PatternFill("solid", fgColor="FFE699")
_NO_FILL = PatternFill(fill_type=None)

#: Result cells that carry a look of their own; the rest are plain values. Number-like texts
#: are formatted as text so that Excel never turns them into numbers when they are edited.
_KIND = {
    "Tracking Number": "text",
    "Number ID": "text",
    "Route ID": "text",
    "Error": "wrap",
    "Warnings": "wrap",
    "Provisioned At": "time",
}

_GETTERS: dict[str, Callable[[RowResult], Value]] = {
    "Status": lambda r: r.status.value,
    "Tracking Number": lambda r: r.tracking_number,
    "Number ID": lambda r: r.number_id,
    "Route ID": lambda r: r.route_id,
    "Assigned Name": lambda r: r.assigned_name,
    "Ordered As": lambda r: match_type_words(r.match_type),
    "Error": lambda r: r.error,
    "Warnings": lambda r: "\n".join(r.warnings) or None,
    "Attempts": lambda r: r.attempts or None,
    "Provisioned At": lambda r: local_datetime(r.provisioned_at) or r.provisioned_at,
    "Expected Area": lambda r: r.expected_area,
    "Request Body": lambda r: r.request_body,
}


#: Columns in an Excel sheet (A to XFD).
_MAX_COLUMNS = 16384


def result_getters(
    headers: Sequence[str], extra: ExtraValues, *, sandbox: bool = False
) -> list[Callable[[RowResult], Value]]:
    """One function per result column giving a row's value (extra values win).

    ``sandbox``: the Status of a row owning a number says ``(sandbox)``.
    """
    getters = dict(_GETTERS)
    if sandbox:
        getters["Status"] = lambda r: status_text(r.status, sandbox=True)
    return [_overlay(getters[h], extra[h]) if extra.get(h) else getters[h] for h in headers]


def _overlay(
    base: Callable[[RowResult], Value], given: Mapping[int, str]
) -> Callable[[RowResult], Value]:
    return lambda r: given.get(r.index) or base(r)


def fill_sheet(ws: Worksheet, table: Table) -> None:
    """Write ``table`` as text into an empty sheet, at its own rows and columns."""
    _refuse_past_last_row(ws, max(table.excel_rows, default=table.header_row))
    for header, column in zip(table.headers, table.columns, strict=True):
        cell = cell_at(ws, table.header_row, column)
        put(cell, header)
        cell.font = Font(bold=True)
    stamper = Stamper()
    widths = dict.fromkeys(table.columns, 0)
    rows = table.frame.itertuples(index=False, name=None)
    for excel_row, values in zip(table.excel_rows, rows, strict=True):
        for column, value in zip(table.columns, values, strict=True):
            if value:
                cell = cell_at(ws, excel_row, column)
                stamper.stamp(cell, "text")
                put(cell, str(value))
                widths[column] = max(widths[column], text_width(str(value)))
    for header, column in zip(table.headers, table.columns, strict=True):
        width = max(widths[column], len(header)) + 3
        ws.column_dimensions[get_column_letter(column)].width = min(40, width)
    ws.freeze_panes = f"A{table.header_row + 1}"


def annotate_sheet(
    ws: Worksheet,
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    headers: Sequence[str],
    extra: ExtraValues,
    *,
    sandbox: bool = False,
    repeat_first_column: bool = True,
) -> None:
    """Write the result columns, colour the rows and mark every problem cell.

    ``sandbox``: the numbers came from the sandbox, and the Status cells say so.
    ``repeat_first_column``: printed, each page shows the first column (naming the row).
    """
    work = prepare_sheet(
        ws,
        table,
        results,
        issues,
        headers,
        extra,
        sandbox=sandbox,
        repeat_first_column=repeat_first_column,
    )
    work.apply(ws, 1, LAST_ROW)


def prepare_sheet(
    ws: Worksheet,
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    headers: Sequence[str],
    extra: ExtraValues,
    *,
    sandbox: bool = False,
    repeat_first_column: bool = True,
) -> RowWork:
    """Do what concerns the whole sheet (header, widths, colours, filter, print); return the rest.

    ``repeat_first_column``: as for `annotate_sheet`.

    The returned `RowWork` writes the rows' cells; it can do so a slice of rows at a time,
    as the streamed data sheet (`stream`) needs, with the same outcome.
    """
    old = _old_results(ws, table)
    positions = _place_results(ws, table, len(headers))
    if max(positions, default=0) > _MAX_COLUMNS:  # `output.check_room` refuses this up front
        raise ConfigError(
            f"The result columns do not fit in sheet '{ws.title}': they would end past "
            "Excel's last column XFD. Write a .csv output (-o results.csv) instead."
        )
    last_row = max((r.excel_row for r in results), default=table.header_row)
    _refuse_past_last_row(ws, last_row)
    _write_header(ws, table.header_row, positions, headers)
    getters = result_getters(headers, extra, sandbox=sandbox)
    widths = _result_widths(results, getters)
    _colour_rows(ws, positions, table.header_row + 1, last_row)
    sizes: dict[str, int] = {}
    for column, header, width in zip(positions, headers, widths, strict=True):
        minimum = {"Status": 14, "Provisioned At": 20}.get(header, 8)
        sizes[header] = min(_MAX_WIDTH, max(width, len(header) + 2, minimum) + 2)
        ws.column_dimensions[get_column_letter(column)].width = sizes[header]
    _filter_and_freeze(ws, table, max(positions), last_row)
    first = min(table.columns, default=1) if repeat_first_column else None
    area = f"A1:{get_column_letter(max(positions))}{last_row}"
    print_setup(ws, header_row=table.header_row, first_column=first, ours=False, area=area)
    return RowWork(
        header_row=table.header_row,
        old=old,
        columns=list(zip(positions, [_KIND.get(h) for h in headers], getters, strict=True)),
        results=sorted(results, key=lambda r: r.excel_row),
        marks=_group_issues(table, issues, status_column=positions[0]),
        sizes=sizes,
    )


#: The last row of an Excel sheet.
LAST_ROW = MAX_ROWS


def _refuse_past_last_row(ws: Worksheet, row: int) -> None:
    """A clear error for a row past Excel's last (`output.check_room` refuses it up front)."""
    if row > LAST_ROW:
        raise ConfigError(
            f"Sheet '{ws.title}' would go down to row {row:,}, past Excel's last row "
            f"({LAST_ROW:,}). Split the file, or write a .csv output (-o results.csv) instead."
        )


class RowWork:
    """The cells `prepare_sheet` leaves to write: results, row heights, problem marks.

    `apply` does them for a slice of rows; applied to every row once, in any slicing, the
    sheet ends the same.
    """

    def __init__(
        self,
        *,
        header_row: int,
        old: range,
        columns: list[tuple[int, str | None, Callable[[RowResult], Value]]],
        results: list[RowResult],
        marks: list[tuple[int, int, list[Issue]]],
        sizes: Mapping[str, int],
    ) -> None:
        self._header_row = header_row
        self._old = old
        self._columns = columns
        self._results = results
        self._result_rows = [r.excel_row for r in results]
        self._marks = marks
        self._mark_rows = [row for row, _, _ in marks]
        self._sizes = sizes
        self._stamper = Stamper()

    def apply(self, ws: Worksheet, first: int, last: int) -> None:
        """Take back earlier marks, then write results and marks, on rows ``first``-``last``."""
        below = max(first, self._header_row + 1)
        if below <= last:
            _undo_marks(ws, range(below, last + 1))
            if self._old:
                _drop_cells(ws, self._old, range(below, last + 1))
        results = self._slice(self._results, self._result_rows, first, last)
        _write_results(ws, self._columns, results, self._stamper)
        _fit_wrapped_rows(ws, results, self._sizes)
        for row, column, found in self._slice(self._marks, self._mark_rows, first, last):
            _mark_cell(ws, row, column, found)

    @staticmethod
    def _slice(items: list[_T], rows: list[int], first: int, last: int) -> list[_T]:
        return items[bisect_left(rows, first) : bisect_right(rows, last)]


def _undo_marks(ws: Worksheet, rows: range) -> None:
    """Take back an earlier run's marks on the user's cells of ``rows``: fills and comments."""
    for cell in list(ws._cells.values()):
        comment = cell.comment
        if comment is None or comment.author != AUTHOR or (cell.row or 0) not in rows:
            continue
        assert isinstance(cell, Cell)
        cell.fill = _NO_FILL
        _, marker, rest = comment.text.partition(_EARLIER)
        author, _, text = rest.partition(" ---\n")
        cell.comment = Comment(text, author) if marker else None


def _old_results(ws: Worksheet, table: Table) -> range:
    """The sheet columns of an earlier run's result columns (empty when there are none)."""
    texts = [_text(c.value) for c in ws[table.header_row]]
    span = result_span(texts)
    return range(span.start + 1, span.stop + 1)


def _place_results(ws: Worksheet, table: Table, count: int) -> list[int]:
    """The sheet columns for ``count`` result columns, clearing an earlier run's header cells.

    An earlier run's columns are reused in place; when more are needed and other columns follow
    them, the extra ones go after the last used column. Their cells below the header are
    cleared row by row (`RowWork`).
    """
    texts = [_text(c.value) for c in ws[table.header_row]]
    old = _old_results(ws, table)
    used = [c for c in table.columns if c not in old]
    used += [i + 1 for i, text in enumerate(texts) if text and i + 1 not in old]
    last = max(used, default=0)
    if not old:
        return [last + 1 + i for i in range(count)]
    _drop_cells(ws, old, range(table.header_row, table.header_row + 1))
    _drop_formatting(ws, old)
    if old.stop > last:
        return [old.start + i for i in range(count)]
    inside = [old.start + i for i in range(min(count, len(old)))]
    return inside + [last + 1 + i for i in range(count - len(inside))]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _drop_cells(ws: Worksheet, columns: range, rows: range) -> None:
    """Remove every cell (value, look, comment) of ``columns`` in ``rows``."""
    doomed = [key for key in ws._cells if key[1] in columns and key[0] in rows]
    for key in doomed:
        del ws._cells[key]


def _drop_formatting(ws: Worksheet, columns: range) -> None:
    """Remove the conditional formatting (an earlier run's row colours) over ``columns``."""
    kept = ConditionalFormattingList()
    for area in ws.conditional_formatting:
        ranges = area.sqref.ranges
        if any(r.min_col < columns.stop and r.max_col >= columns.start for r in ranges):
            continue
        for rule in area.rules:
            kept.add(str(area.sqref), rule)
    ws.conditional_formatting = kept


def _write_header(
    ws: Worksheet, row: int, positions: Sequence[int], headers: Sequence[str]
) -> None:
    for column, header in zip(positions, headers, strict=True):
        cell = cell_at(ws, row, column)
        cell.style = "Normal"
        cell.value = header
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER


def _result_widths(
    results: Sequence[RowResult], getters: Sequence[Callable[[RowResult], Value]]
) -> list[int]:
    """The widest text of each result column."""
    widths = [0] * len(getters)
    for result in results:
        for i, get in enumerate(getters):
            value = get(result)
            if value is not None and value != "":
                widths[i] = max(widths[i], text_width(value))
    return widths


def _write_results(
    ws: Worksheet,
    columns: Sequence[tuple[int, str | None, Callable[[RowResult], Value]]],
    results: Sequence[RowResult],
    stamper: Stamper,
) -> None:
    """Write the result cells of ``results``: (column, look, getter) per result column."""
    for result in results:
        row = result.excel_row
        for column, kind, get in columns:
            value = get(result)
            if value is None or value == "":
                continue  # an empty cell costs time to write and shows nothing
            cell = cell_at(ws, row, column)
            if kind:
                stamper.stamp(cell, kind)
            put(cell, value)


def _fit_wrapped_rows(
    ws: Worksheet, results: Sequence[RowResult], sizes: Mapping[str, int]
) -> None:
    """Make rows tall enough for their wrapped Error and Warnings texts.

    Spreadsheet programs do not always grow a row for wrapped text on opening a file (LibreOffice
    does not), so the height is set wherever more than one line is needed.
    """
    wrapped = [h for h in sizes if _KIND.get(h) == "wrap"]
    for result in results:
        if not (result.error or result.warnings):
            continue
        texts = [(_GETTERS[h](result), sizes[h]) for h in wrapped]
        lines = max(line_count(str(text), width) for text, width in texts if text)
        if lines > 1:
            dimension = ws.row_dimensions[result.excel_row]
            dimension.height = max(dimension.height or 0, 15.0 * lines)


def _colour_rows(ws: Worksheet, positions: Sequence[int], first: int, last: int) -> None:
    """Colour each row's result cells by its status, with conditional formatting.

    One rule per colour covers every row, instead of a fill on each of a million cells
    (which would also double the time it takes to save the workbook). The Status cell gets a
    bold font of the same colour.
    """
    if last < first:
        return
    status = get_column_letter(positions[0])
    others = _ranges(sorted(positions[1:]), first, last)
    for tone, statuses in TONE_STATUSES.items():
        texts = {t for s in statuses for t in (s.value, status_text(s, sandbox=True))}
        test = ",".join(f'${status}{first}="{t}"' for t in sorted(texts))
        fill = PatternFill("solid", fgColor=ROW_COLOUR[tone], bgColor=ROW_COLOUR[tone])
        ws.conditional_formatting.add(
            f"{status}{first}:{status}{last}", _rule(f"OR({test})", fill, TONE_FONT[tone])
        )
        if others:
            ws.conditional_formatting.add(others, _rule(f"OR({test})", fill))


def _rule(formula: str, fill: PatternFill, font: Font | None = None) -> Rule:
    # Excel paints a conditional solid fill with its bgColor; the fill above sets both.
    return Rule(type="expression", formula=[formula], dxf=DifferentialStyle(fill=fill, font=font))


def _ranges(columns: Sequence[int], first: int, last: int) -> str:
    """``M2:P9 R2:R9`` for columns 13-16 and 18 from row 2 to 9 (contiguous runs merged)."""
    runs: list[list[int]] = []
    for column in columns:
        if runs and column == runs[-1][1] + 1:
            runs[-1][1] = column
        else:
            runs.append([column, column])
    return " ".join(f"{get_column_letter(a)}{first}:{get_column_letter(b)}{last}" for a, b in runs)


def _group_issues(
    table: Table, issues: Sequence[Issue], status_column: int
) -> list[tuple[int, int, list[Issue]]]:
    """The problem cells, by row then column, with their issues.

    An issue about a column the sheet lacks is marked on the row's Status cell.
    """
    where = dict(zip(table.headers, table.columns, strict=True))
    grouped: dict[tuple[int, int], list[Issue]] = defaultdict(list)
    for issue in issues:
        column = where.get(issue.column) or where.get(issue.column.strip()) or status_column
        grouped[(issue.row, column)].append(issue)
    return [(row, column, found) for (row, column), found in sorted(grouped.items())]


def _mark_cell(ws: Worksheet, row: int, column: int, found: Sequence[Issue]) -> None:
    """Fill a problem cell red (error) or amber (warning) and explain it in a comment."""
    cell = cell_at(ws, row, column)
    errors = any(i.severity is Severity.ERROR for i in found)
    cell.fill = _ERROR_FILL if errors else _WARNING_FILL
    _attach_comment(cell, _comment_text(found))


def _comment_text(found: Sequence[Issue]) -> str:
    lines = [
        ("" if i.severity is Severity.ERROR else "Warning: ") + i.message
        for i in sorted(found, key=lambda i: i.severity is not Severity.ERROR)
    ]
    return lines[0] if len(lines) == 1 else "\n".join(f"• {line}" for line in lines)


def _attach_comment(cell: Cell, text: str) -> None:
    """Comment on ``cell``, keeping a comment the user already had below ours."""
    earlier = cell.comment
    if earlier is not None and earlier.author != AUTHOR:
        text = f"{text}{_EARLIER}{earlier.author or 'someone'} ---\n{earlier.text}"
    lines = sum(1 + len(line) // 42 for line in text.split("\n"))
    cell.comment = Comment(clean(text), AUTHOR, height=min(400, 24 + 16 * lines), width=320)


def _filter_and_freeze(ws: Worksheet, table: Table, last_column: int, last_row: int) -> None:
    """A filter on the header row over every column, and the header frozen on screen.

    The user's own filter on the header row is widened to the result columns; a filter of
    theirs elsewhere is kept as it is. Frozen columns of theirs stay frozen.
    """
    header = table.header_row
    ref = ws.auto_filter.ref
    if not ref:
        first = get_column_letter(min(table.columns, default=1))
        ws.auto_filter.ref = f"{first}{header}:{get_column_letter(last_column)}{last_row}"
    else:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        if min_row == header and max_col is not None and max_col < last_column:
            first = get_column_letter(min_col or 1)
            ws.auto_filter.ref = f"{first}{min_row}:{get_column_letter(last_column)}{max_row}"
    frozen = ws.freeze_panes
    if frozen:
        column, row = _split_coordinate(frozen)
        if row > header:
            return
    else:
        column = "A"
    ws.freeze_panes = f"{column}{header + 1}"


def _split_coordinate(coordinate: str) -> tuple[str, int]:
    """``B3`` → (``B``, 3)."""
    letters = coordinate.rstrip("0123456789")
    return letters or "A", int(coordinate[len(letters) :] or 1)
