"""The annotated output (SPEC §4): every result and every problem written back beside the data.

A workbook input is reopened with openpyxl and kept as it is (other sheets, formatting, data
validation, frozen panes); the result columns are appended to its data sheet, or overwritten in
place when the sheet already holds them (a re-run). Other inputs get a new workbook laid out the
same way, so row numbers in messages still match. `Summary` and `Errors` sheets follow. A `.csv`
output holds the user's columns, then the result columns. Every output is written to a
temporary file beside the target and renamed into place.
"""

from __future__ import annotations

import csv
import gc
import os
import re
import stat
import tempfile
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import copy
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.columns import OPTIONAL_RESULT_HEADERS, RESULT_HEADERS, result_span
from batchprov.errors import ConfigError, InputError
from batchprov.models import Issue, MatchType, RowResult, RunInfo, Severity, Status, Table

if TYPE_CHECKING:
    from batchprov.plan import Plan

#: Author of every comment batchprov writes; how a re-run tells its own marks from the user's.
AUTHOR = "batchprov"
SUMMARY_SHEET = "Summary"
ERRORS_SHEET = "Errors"
ERRORS_HEADERS = ("Row", "Column", "Value", "Message", "Severity")
SANDBOX_NOTE = "SANDBOX (simulated, nothing was bought)"
OUTPUT_SUFFIXES = (".xlsx", ".xlsm", ".csv")

Value = str | int | None
#: Per optional header, per row index (position in ``Table.frame``): a value to write.
ExtraValues = Mapping[str, Mapping[int, str]]

_MAX_WIDTH = 50
_EXCEL_TEXT_LIMIT = 32767
_EARLIER = "\n\n--- earlier comment by "

# --- looks ------------------------------------------------------------------------------------

_GOOD, _BAD, _IDLE = "good", "bad", "idle"
_TONE = {
    Status.PROVISIONED: _GOOD,
    Status.ALREADY_PROVISIONED: _GOOD,
    Status.VALID: _GOOD,
    Status.PLANNED: _GOOD,
    Status.INVALID: _BAD,
    Status.FAILED: _BAD,
    Status.NOT_ATTEMPTED: _IDLE,
}
_ROW_COLOUR = {_GOOD: "E8F4EA", _BAD: "FBE9E7", _IDLE: "FFF4DC"}
_ROW_FILL = {tone: PatternFill("solid", fgColor=colour) for tone, colour in _ROW_COLOUR.items()}
_TONE_STATUSES = {
    tone: tuple(s for s in Status if _TONE[s] == tone) for tone in (_GOOD, _BAD, _IDLE)
}
_TONE_FONT = {
    _GOOD: Font(bold=True, color="1E6B34"),
    _BAD: Font(bold=True, color="B3261E"),
    _IDLE: Font(bold=True, color="8A5300"),
}
_HEADER_FILL = PatternFill("solid", fgColor="DCE4F0")
_HEADER_FONT = Font(bold=True, color="1F3864")
_HEADER_BORDER = Border(bottom=Side(style="thin", color="8EA9DB"))
_ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
_WARNING_FILL = PatternFill("solid", fgColor="FFE699")
_NO_FILL = PatternFill(fill_type=None)
_WRAP = Alignment(wrap_text=True)
_TITLE_FONT = Font(bold=True, size=14, color="1F3864")
_LABEL_FONT = Font(bold=True, color="595959")
_ALERT_FONT = Font(bold=True, color="C00000")
_NOTE_FONT = Font(italic=True, color="595959")

#: Result cells that carry a look of their own; the rest are plain values. Number-like texts
#: are formatted as text so that Excel never turns them into numbers when they are edited.
_KIND = {
    "Tracking Number": "text",
    "Number ID": "text",
    "Route ID": "text",
    "Error": "wrap",
    "Warnings": "wrap",
}

_GETTERS: dict[str, Callable[[RowResult], Value]] = {
    "Status": lambda r: r.status.value,
    "Tracking Number": lambda r: r.tracking_number,
    "Number ID": lambda r: r.number_id,
    "Route ID": lambda r: r.route_id,
    "Assigned Name": lambda r: r.assigned_name,
    "Match Type": lambda r: r.match_type,
    "Error": lambda r: r.error,
    "Warnings": lambda r: "\n".join(r.warnings) or None,
    "Attempts": lambda r: r.attempts or None,
    "Provisioned At": lambda r: r.provisioned_at,
    "Expected Area": lambda r: r.expected_area,
    "Request Body": lambda r: r.request_body,
}


# --- public API -------------------------------------------------------------------------------


def write_output(
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    info: RunInfo,
    out: Path,
    *,
    extra_columns: Sequence[str] = (),
    extra_values: ExtraValues | None = None,
) -> Path:
    """Write the annotated output for ``table`` to ``out`` (atomically) and return ``out``.

    ``results`` holds one result per table row; ``issues`` the errors and warnings, each naming
    an Excel row and a header as written in the sheet. ``extra_columns`` adds optional result
    columns (``Request Body``, ``Expected Area``); ``extra_values`` gives values for them
    by header and row index where a `RowResult` has none.

    Raises:
        InputError: ``out`` is the input file.
        ConfigError: ``out`` has a suffix batchprov cannot write.
    """
    out = Path(out)
    check_output(table, out)
    headers = result_headers(extra_columns)
    results = _with_issue_text(results, issues)
    extra = extra_values or {}
    if out.suffix.lower() == ".csv":
        _atomic_write(out, table.path, lambda tmp: _write_csv(table, results, headers, extra, tmp))
        return out
    with _collector_paused():
        wb, ws, note = _open_workbook(table, keep_vba=out.suffix.lower() == ".xlsm")
        _annotate_sheet(ws, table, results, issues, headers, extra)
        _write_summary(_fresh_sheet(wb, SUMMARY_SHEET, ws), info, results, note)
        _write_errors(_fresh_sheet(wb, ERRORS_SHEET, ws), issues, results)
        _activate(wb, ws)
        _atomic_write(out, table.path, lambda tmp: wb.save(tmp))
    return out


def check_output(table: Table, out: Path) -> None:
    """Refuse an output path that would overwrite the input or that cannot be written.

    Cheap and without side effects, so a caller can check before any work starts.
    """
    if _same_file(table.path, out):
        raise InputError(
            f"Writing the output to {out} would overwrite the input file; "
            "the input is never modified. Choose another output file (-o)."
        )
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"Cannot write a '{out.suffix}' output; use .xlsx or .csv.")
    if suffix == ".xlsm" and table.format != "xlsm":
        raise ConfigError("An .xlsm output is only made from an .xlsm input; use .xlsx.")


def result_headers(extra_columns: Sequence[str] = ()) -> list[str]:
    """The result columns written: the standard ones, then the optional ones asked for."""
    unknown = set(extra_columns) - set(OPTIONAL_RESULT_HEADERS)
    if unknown:
        raise ValueError(f"unknown optional result columns: {sorted(unknown)}")
    return [*RESULT_HEADERS, *(h for h in OPTIONAL_RESULT_HEADERS if h in extra_columns)]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a workbook is loaded, filled and saved.

    openpyxl makes a few objects per cell, millions for a large sheet, and the collector keeps
    walking all of them again as they pile up: a third of a 100,000-row write went to it. The
    objects made here are freed by reference counting; the collector resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- the rows' texts --------------------------------------------------------------------------


def _with_issue_text(results: Sequence[RowResult], issues: Sequence[Issue]) -> list[RowResult]:
    """Fill an empty Error (of an invalid row) or Warnings cell from the row's issues."""
    by_row: dict[int, list[Issue]] = defaultdict(list)
    for issue in issues:
        by_row[issue.row].append(issue)
    done: list[RowResult] = []
    for result in results:
        found = by_row.get(result.excel_row)
        if found:
            result = _fill_texts(result, found)
        done.append(result)
    return done


def _fill_texts(result: RowResult, found: list[Issue]) -> RowResult:
    errors = [f"{i.column}: {i.message}" for i in found if i.severity is Severity.ERROR]
    warned = tuple(f"{i.column}: {i.message}" for i in found if i.severity is Severity.WARNING)
    error = result.error
    if not error and errors and result.status is Status.INVALID:
        error = "\n".join(errors)
    warnings_ = result.warnings or warned
    if error == result.error and warnings_ == result.warnings:
        return result
    return replace(result, error=error, warnings=warnings_)


def _getters(headers: Sequence[str], extra: ExtraValues) -> list[Callable[[RowResult], Value]]:
    """One function per result column giving a row's value (extra values win)."""
    return [_overlay(_GETTERS[h], extra[h]) if extra.get(h) else _GETTERS[h] for h in headers]


def _overlay(
    base: Callable[[RowResult], Value], given: Mapping[int, str]
) -> Callable[[RowResult], Value]:
    return lambda r: given.get(r.index) or base(r)


def _clean(text: str) -> str:
    """Text Excel accepts: no control characters, at most 32,767 characters."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:_EXCEL_TEXT_LIMIT]


def _put(cell: Cell, value: str | int) -> None:
    """Write ``value``; text always stays text (``=…`` is not a formula, ``#N/A`` no error)."""
    if isinstance(value, str):
        cell.value = _clean(value)
        if cell.data_type != "s":
            cell.data_type = "s"
    else:
        cell.value = value


def _cell(ws: Worksheet, row: int, column: int) -> Cell:
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


def _width(value: str | int) -> int:
    text = str(value)
    return max(map(len, text.split("\n"))) if "\n" in text else len(text)


# --- the workbook -----------------------------------------------------------------------------


def _open_workbook(table: Table, *, keep_vba: bool) -> tuple[Workbook, Worksheet, str | None]:
    """The user's workbook and data sheet, or a new workbook holding the table.

    The third item, when set, says why the user's workbook could not be kept.
    """
    if table.format not in ("xlsx", "xlsm"):
        return (*_workbook_from_table(table), None)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about parts it drops (e.g. extension lists); nothing to act on.
            warnings.simplefilter("ignore", UserWarning)
            wb = openpyxl.load_workbook(table.path, keep_vba=keep_vba)
        ws = wb[table.sheet]
        if not isinstance(ws, Worksheet):
            raise TypeError(f"{table.sheet!r} is not a worksheet")
    except Exception as exc:  # whatever stops openpyxl, the results must still be written
        note = (
            f"The input workbook could not be reopened ({type(exc).__name__}: {exc}); "
            "this output holds its data sheet as text, without its formatting."
        )
        return (*_workbook_from_table(table), note)
    return wb, ws, None


def _workbook_from_table(table: Table) -> tuple[Workbook, Worksheet]:
    """A new workbook whose data sheet holds the table as text, at the same rows and columns."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = _sheet_title(table.sheet)
    for header, column in zip(table.headers, table.columns, strict=True):
        cell = _cell(ws, table.header_row, column)
        _put(cell, header)
        cell.font = Font(bold=True)
    stamper = _Stamper()
    widths = dict.fromkeys(table.columns, 0)
    rows = table.frame.itertuples(index=False, name=None)
    for excel_row, values in zip(table.excel_rows, rows, strict=True):
        for column, value in zip(table.columns, values, strict=True):
            if value:
                cell = _cell(ws, excel_row, column)
                stamper.stamp(cell, "text")
                _put(cell, str(value))
                widths[column] = max(widths[column], _width(str(value)))
    for header, column in zip(table.headers, table.columns, strict=True):
        width = max(widths[column], len(header)) + 3
        ws.column_dimensions[get_column_letter(column)].width = min(40, width)
    ws.freeze_panes = f"A{table.header_row + 1}"
    return wb, ws


def _sheet_title(name: str) -> str:
    """A valid sheet title: no ``[]:*?/\\``, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", "_", name).strip("'")[:31] or "Data"


def _activate(wb: Workbook, ws: Worksheet) -> None:
    """Open on the data sheet, with no other sheet selected along with it."""
    for sheet in wb.worksheets:
        if isinstance(sheet, Worksheet):
            sheet.sheet_view.tabSelected = sheet is ws
    wb.active = ws


def _fresh_sheet(wb: Workbook, name: str, data: Worksheet) -> Worksheet:
    """A new empty sheet called ``name``, replacing an earlier batchprov one.

    A sheet of that name that batchprov did not write (the user's own) is kept, and ours
    gets a ``(batchprov)`` suffix.
    """
    for title in (name, f"{name} (batchprov)"):
        if title not in wb.sheetnames:
            return _new_sheet(wb, title)
        old = wb[title]
        if old is not data and isinstance(old, Worksheet) and _is_ours(old):
            wb.remove(old)
            return _new_sheet(wb, title)
    return _new_sheet(wb, f"{name} (batchprov {len(wb.sheetnames)})")


def _new_sheet(wb: Workbook, title: str) -> Worksheet:
    ws = wb.create_sheet(title)
    assert isinstance(ws, Worksheet)
    return ws


def _is_ours(ws: Worksheet) -> bool:
    first = ws.cell(row=1, column=1).value
    if isinstance(first, str) and first.startswith("batchprov"):
        return True
    return tuple(ws.cell(row=1, column=c).value for c in range(1, 6)) == ERRORS_HEADERS


# --- the data sheet ---------------------------------------------------------------------------


class _Stamper:
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
            cell.number_format = "@"
            if kind == "wrap":
                cell.alignment = _WRAP
            self._looks[kind] = copy(cell._style)  # type: ignore[attr-defined]
        else:
            cell._style = copy(look)  # type: ignore[attr-defined]


def _annotate_sheet(
    ws: Worksheet,
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    headers: Sequence[str],
    extra: ExtraValues,
) -> None:
    """Write the result columns, colour the rows and mark every problem cell."""
    _undo_marks(ws, table.header_row)
    positions = _place_results(ws, table, len(headers))
    _write_header(ws, table.header_row, positions, headers)
    widths = _write_results(ws, positions, headers, results, extra)
    last_row = max((r.excel_row for r in results), default=table.header_row)
    _colour_rows(ws, positions, table.header_row + 1, last_row)
    sizes: dict[str, int] = {}
    for column, header, width in zip(positions, headers, widths, strict=True):
        minimum = 14 if header == "Status" else 8
        sizes[header] = min(_MAX_WIDTH, max(width, len(header) + 2, minimum) + 2)
        ws.column_dimensions[get_column_letter(column)].width = sizes[header]
    _fit_wrapped_rows(ws, results, sizes)
    _mark_issues(ws, table, issues, status_column=positions[0])
    _extend_autofilter(ws, table.header_row, max(positions))


def _undo_marks(ws: Worksheet, header_row: int) -> None:
    """Take back an earlier run's marks on the user's cells: its fills and its comments."""
    for cell in list(ws._cells.values()):
        comment = cell.comment
        if comment is None or comment.author != AUTHOR or (cell.row or 0) <= header_row:
            continue
        assert isinstance(cell, Cell)
        cell.fill = _NO_FILL
        _, marker, rest = comment.text.partition(_EARLIER)
        author, _, text = rest.partition(" ---\n")
        cell.comment = Comment(text, author) if marker else None


def _place_results(ws: Worksheet, table: Table, count: int) -> list[int]:
    """The sheet columns for ``count`` result columns, clearing an earlier run's columns.

    An earlier run's columns are reused in place; when more are needed and other columns follow
    them, the extra ones go after the last used column.
    """
    texts = [_text(c.value) for c in ws[table.header_row]]
    span = result_span(texts)
    old = range(span.start + 1, span.stop + 1)
    used = [c for c in table.columns if c not in old]
    used += [i + 1 for i, text in enumerate(texts) if text and i + 1 not in old]
    last = max(used, default=0)
    if not old:
        return [last + 1 + i for i in range(count)]
    _drop_cells(ws, old, table.header_row)
    _drop_formatting(ws, old)
    if old.stop > last:
        return [old.start + i for i in range(count)]
    inside = [old.start + i for i in range(min(count, len(old)))]
    return inside + [last + 1 + i for i in range(count - len(inside))]


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _drop_cells(ws: Worksheet, columns: range, from_row: int) -> None:
    """Remove every cell (value, look, comment) of ``columns`` from ``from_row`` down."""
    doomed = [key for key in ws._cells if key[1] in columns and key[0] >= from_row]
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
        cell = _cell(ws, row, column)
        cell.style = "Normal"
        cell.value = header
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.border = _HEADER_BORDER


def _write_results(
    ws: Worksheet,
    positions: Sequence[int],
    headers: Sequence[str],
    results: Sequence[RowResult],
    extra: ExtraValues,
) -> list[int]:
    """Write every row's result cells; return the widest text of each column."""
    stamper = _Stamper()
    kinds = [_KIND.get(h) for h in headers]
    columns = list(zip(positions, kinds, _getters(headers, extra), strict=True))
    widths = [0] * len(headers)
    for result in results:
        row = result.excel_row
        for i, (column, kind, get) in enumerate(columns):
            value = get(result)
            if value is None or value == "":
                continue  # an empty cell costs time to write and shows nothing
            cell = _cell(ws, row, column)
            if kind:
                stamper.stamp(cell, kind)
            _put(cell, value)
            widths[i] = max(widths[i], _width(value))
    return widths


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
        lines = max(_line_count(str(text), width) for text, width in texts if text)
        if lines > 1:
            dimension = ws.row_dimensions[result.excel_row]
            dimension.height = max(dimension.height or 0, 15.0 * lines)


def _line_count(text: str, width: int) -> int:
    per_line = max(1, width)
    return sum(max(1, -(-len(line) // per_line)) for line in text.split("\n"))


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
    for tone, statuses in _TONE_STATUSES.items():
        test = ",".join(f'${status}{first}="{s.value}"' for s in statuses)
        fill = PatternFill("solid", fgColor=_ROW_COLOUR[tone], bgColor=_ROW_COLOUR[tone])
        ws.conditional_formatting.add(
            f"{status}{first}:{status}{last}", _rule(f"OR({test})", fill, _TONE_FONT[tone])
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


def _mark_issues(ws: Worksheet, table: Table, issues: Sequence[Issue], status_column: int) -> None:
    """Fill each problem cell red (error) or amber (warning) and explain it in a comment.

    An issue about a column the sheet lacks is marked on the row's Status cell.
    """
    where = dict(zip(table.headers, table.columns, strict=True))
    grouped: dict[tuple[int, int], list[Issue]] = defaultdict(list)
    for issue in issues:
        column = where.get(issue.column) or where.get(issue.column.strip()) or status_column
        grouped[(issue.row, column)].append(issue)
    for (row, column), found in grouped.items():
        cell = _cell(ws, row, column)
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
    cell.comment = Comment(_clean(text), AUTHOR, height=min(400, 24 + 16 * lines), width=320)


def _extend_autofilter(ws: Worksheet, header_row: int, last_column: int) -> None:
    """An autofilter on the header row is widened to cover the result columns."""
    ref = ws.auto_filter.ref
    if not ref:
        return
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    if min_row == header_row and max_col is not None and max_col < last_column:
        first = get_column_letter(min_col or 1)
        ws.auto_filter.ref = f"{first}{min_row}:{get_column_letter(last_column)}{max_row}"


# --- the Summary and Errors sheets ------------------------------------------------------------

_MODE_TEXT = {
    "validate": "Validation only: every row was checked; nothing was ordered.",
    "dry-run": "Dry run: nothing was ordered. 'Request Body' shows what each row would send.",
    "run": "Numbers were ordered from the API named below.",
}


def _write_summary(
    ws: Worksheet, info: RunInfo, results: Sequence[RowResult], note: str | None
) -> None:
    title = "batchprov results"
    if info.sandbox:
        title += " — SANDBOX run (simulated, nothing was bought)"
    ws["A1"] = title
    ws["A1"].font = _TITLE_FONT
    line = _MODE_TEXT.get(info.mode, f"Mode: {info.mode}")
    if info.sandbox and info.mode == "run":
        line = "Sandbox run: numbers came from the built-in simulator; nothing was bought."
    ws["A2"] = line
    ws["A2"].font = _ALERT_FONT if info.sandbox else _NOTE_FONT
    row = _write_facts(ws, 4, _facts(info, len(results), note))
    row = _write_status_counts(ws, row + 1, results)
    row = _write_match_type_counts(ws, row + 1, results)
    if info.plan is not None:
        _write_plan(ws, row + 1, info.plan)
    ws.column_dimensions["A"].width = 22
    for letter in "BCDEFGHI":
        ws.column_dimensions[letter].width = 16
    ws.sheet_properties.tabColor = "C00000" if info.sandbox else "1F3864"


def _facts(info: RunInfo, rows: int, note: str | None) -> list[tuple[str, str | int, bool]]:
    """(label, value, alert) lines of the Summary's first table."""
    api = SANDBOX_NOTE if info.sandbox else info.api_url or "none (nothing was sent)"
    facts: list[tuple[str, str | int, bool]] = [
        ("Mode", info.mode, False),
        ("Input file", info.input_name, False),
        ("Input SHA-256", info.input_sha256, False),
        ("API", api, info.sandbox),
        ("Started", info.started_at, False),
        ("Ended", info.ended_at, False),
        ("Duration", _duration(info.started_at, info.ended_at), False),
        ("Tool version", f"batchprov {info.tool_version}", False),
        ("Rows", rows, False),
    ]
    if info.stopped_reason:
        facts.append(("Stopped early", info.stopped_reason, True))
    if note:
        facts.append(("Note", note, True))
    return facts


def _duration(started: str, ended: str) -> str:
    try:
        seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    except (ValueError, TypeError):
        return ""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)} min {rest:.1f} s" if minutes else f"{rest:.1f} s"


def _write_facts(ws: Worksheet, row: int, facts: Iterable[tuple[str, str | int, bool]]) -> int:
    for label, value, alert in facts:
        ws.cell(row=row, column=1, value=label).font = _LABEL_FONT
        cell = _cell(ws, row, 2)
        _put(cell, value)
        if alert:
            cell.font = _ALERT_FONT
        row += 1
    return row


def _table_header(ws: Worksheet, row: int, texts: Sequence[str], title: str) -> int:
    ws.cell(row=row, column=1, value=title).font = Font(bold=True, size=12, color="1F3864")
    for column, text in enumerate(texts, start=1):
        cell = ws.cell(row=row + 1, column=column, value=text)
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
    return row + 2


def _write_status_counts(ws: Worksheet, row: int, results: Sequence[RowResult]) -> int:
    counts = Counter(r.status for r in results)
    row = _table_header(ws, row, ("Status", "Rows"), "Rows by status")
    for status in (s for s in Status if counts[s]):
        tone = _TONE[status]
        label = ws.cell(row=row, column=1, value=status.value)
        label.font, label.fill = _TONE_FONT[tone], _ROW_FILL[tone]
        ws.cell(row=row, column=2, value=counts[status]).fill = _ROW_FILL[tone]
        row += 1
    _total_row(ws, row, ["Total", len(results)])
    return row + 1


def _write_match_type_counts(ws: Worksheet, row: int, results: Sequence[RowResult]) -> int:
    statuses = [s for s in Status if any(r.status is s for r in results)]
    grid = Counter((r.match_type or "", r.status) for r in results)
    known = [m.value for m in MatchType]
    kinds = known + sorted({m for m, _ in grid} - set(known))
    texts = ["Match type", *(s.value for s in statuses), "Total"]
    row = _table_header(ws, row, texts, "Rows by match type and status")
    for kind in kinds:
        counts = [grid[(kind, s)] for s in statuses]
        if not any(counts):
            continue
        ws.cell(row=row, column=1, value=kind or "(not determined)")
        for column, count in enumerate([*counts, sum(counts)], start=2):
            ws.cell(row=row, column=column, value=count)
        row += 1
    totals = [sum(grid[(k, s)] for k in kinds) for s in statuses]
    _total_row(ws, row, ["Total", *totals, len(results)])
    return row + 1


def _write_plan(ws: Worksheet, row: int, plan: Plan) -> int:
    """The plan shown before ordering: its facts, rows per area code, rows likely to fail."""
    ws.cell(row=row, column=1, value="Plan").font = Font(bold=True, size=12, color="1F3864")
    row = _write_facts(ws, row + 1, [(label, value, False) for label, value in plan.facts()])
    areas = ("Group", "Match type", "Area codes", "Rows")
    row = _write_lines(ws, _table_header(ws, row + 1, areas, "Plan by area code"), plan.per_area)
    if plan.at_risk:
        risks = ("Row", "Why no number is likely", "Fallbacks")
        row = _table_header(ws, row + 1, risks, "Rows likely to find no number")
        row = _write_lines(ws, row, plan.at_risk)
    return row


def _write_lines(ws: Worksheet, row: int, lines: Iterable[Sequence[str | int]]) -> int:
    for line in lines:
        for column, value in enumerate(line, start=1):
            if value != "":
                _put(_cell(ws, row, column), value)
        row += 1
    return row


def _total_row(ws: Worksheet, row: int, values: Sequence[str | int]) -> None:
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=column, value=value)
        cell.font = Font(bold=True)
        cell.border = Border(top=Side(style="thin", color="808080"))


def _error_lines(issues: Sequence[Issue], results: Sequence[RowResult]) -> list[list[Value]]:
    """One line per issue, plus one per failed row whose failure no issue describes."""
    lines: list[list[Value]] = [
        [i.row, i.column, i.value, i.message, i.severity.value] for i in issues
    ]
    described = {i.row for i in issues if i.severity is Severity.ERROR}
    for r in results:
        if r.status is Status.FAILED and r.excel_row not in described:
            lines.append([r.excel_row, "Status", "failed", r.error or "failed", "error"])
    lines.sort(key=lambda line: line[0] or 0)
    return lines


def _write_errors(ws: Worksheet, issues: Sequence[Issue], results: Sequence[RowResult]) -> None:
    ws.append(list(ERRORS_HEADERS))
    for cell in ws[1]:
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
    lines = _error_lines(issues, results)
    severity_font = {"error": _TONE_FONT[_BAD], "warning": _TONE_FONT[_IDLE]}
    widths = [6, 14, 14, 40, 10]  # at least
    for number, line in enumerate(lines, start=2):
        for column, value in enumerate(line, start=1):
            if value is not None and value != "":
                _put(_cell(ws, number, column), value)
                widths[column - 1] = max(widths[column - 1], _width(value) + 2)
        ws.cell(row=number, column=4).alignment = _WRAP
        ws.cell(row=number, column=5).font = severity_font.get(str(line[4]), Font())
    caps = (8, 30, 40, 90, 12)
    for column, (width, cap) in enumerate(zip(widths, caps, strict=True), start=1):
        ws.column_dimensions[get_column_letter(column)].width = min(width, cap)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:E{max(2, len(lines) + 1)}"


# --- CSV --------------------------------------------------------------------------------------


def _write_csv(
    table: Table,
    results: Sequence[RowResult],
    headers: Sequence[str],
    extra: ExtraValues,
    path: Path,
) -> None:
    """The user's columns with the result columns (replacing earlier ones), UTF-8 with BOM."""
    span = result_span(table.headers)
    start = span.start if span else len(table.headers)
    stop = span.stop if span else len(table.headers)
    getters = _getters(headers, extra)
    by_index = {r.index: r for r in results}
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*table.headers[:start], *headers, *table.headers[stop:]])
        rows = table.frame.itertuples(index=False, name=None)
        for index, values in enumerate(rows):
            cells = [str(v) for v in values]
            result = by_index.get(index)
            found = [get(result) for get in getters] if result else [None] * len(headers)
            texts = ["" if v is None else str(v) for v in found]
            writer.writerow([*cells[:start], *texts, *cells[stop:]])


# --- writing atomically -----------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _atomic_write(out: Path, source: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write`` into a temporary file beside ``out``, sync it, rename it.

    A crash leaves either the old ``out`` or the new one, never half a file. The new file takes
    the permissions of the file it replaces, else those of the input.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f"{out.suffix}.tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(out, source))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(out.parent)


def _mode_for(out: Path, source: Path) -> int:
    """Permissions of the file replaced, else of the input; always writable by its owner."""
    for path in (out, source):
        try:
            return stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR
        except OSError:
            continue
    return 0o644


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); not possible, and not needed, on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
