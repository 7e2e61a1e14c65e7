"""The annotated output (docs/design.md §2.3): every result and every problem beside the data.

A workbook input is reopened with openpyxl and kept as it is (other sheets, formatting, data
validation, frozen panes); the result columns are appended to its data sheet, or overwritten in
place when the sheet already holds them (a re-run). Other inputs get a new workbook laid out the
same way, so row numbers in messages still match. `Summary`, `Needs attention` (the invalid
and failed rows alone, in the input's layout, ready to fix and run again) and `Errors` sheets
follow. A `.csv`
output holds the user's columns, then the result columns. Every output is written to a
temporary file beside the target and renamed into place.

Layout: `datasheet` writes the data sheet, `reports` the Summary and Errors sheets,
`styles` holds the looks they share and `atomic` the write-and-rename.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import openpyxl
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.collector import collector_paused
from batchprov.models import Issue, RowResult, Severity, Status, Table
from batchprov.read.headers import result_span
from batchprov.report import RunInfo
from batchprov.write.ahead import take_ahead
from batchprov.write.atomic import atomic_write
from batchprov.write.attention import (
    ATTENTION_SHEET,
    attention_rows,
    attention_table,
    origin_header,
    write_attention,
)
from batchprov.write.columns import (
    MAX_COLUMNS,
    OUTPUT_SUFFIXES,
    PURCHASE_HEADERS,
    carried_headers,
    check_output,
    check_room,
    csv_safe,
    result_headers,
    sheet_title,
)
from batchprov.write.datasheet import (
    AUTHOR,
    LAST_ROW,
    ExtraValues,
    fill_sheet,
    prepare_sheet,
    result_getters,
)
from batchprov.write.reports import (
    ERRORS_HEADERS,
    ERRORS_SHEET,
    SANDBOX_NOTE,
    SUMMARY_SHEET,
    fresh_sheet,
    write_errors,
    write_summary,
)
from batchprov.write.stream import NotStreamable, StreamedSheet, open_streamed, save_streamed

__all__ = [
    "ATTENTION_SHEET",
    "AUTHOR",
    "ERRORS_HEADERS",
    "ERRORS_SHEET",
    "OUTPUT_SUFFIXES",
    "PURCHASE_HEADERS",
    "SANDBOX_NOTE",
    "SUMMARY_SHEET",
    "MAX_COLUMNS",
    "ExtraValues",
    "check_output",
    "carried_headers",
    "check_room",
    "csv_safe",
    "result_headers",
    "result_span",
    "write_failed_only",
    "write_output",
]

#: The modes that buy nothing (`report.RunInfo.mode`).
_CHECK_MODES = frozenset({"validate", "dry-run"})


# --- public API -----------------------------------------------------------------------------------


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
    by header and row index where a `RowResult` has none. A validate or dry run (``info.mode``)
    leaves out the purchase columns (`PURCHASE_HEADERS`) that the input does not have.

    Raises:
        InputError: ``out`` is the input file.
        ConfigError: ``out`` has a suffix batchprov cannot write.
    """
    out = Path(out)
    check_output(table, out)
    purchases = info.mode not in _CHECK_MODES
    headers = result_headers(extra_columns, purchases=purchases, carried=carried_headers(table))
    results = _with_issue_text(results, issues)
    extra = extra_values or {}
    if out.suffix.lower() == ".csv":
        write = _csv_writer(table, results, headers, extra, sandbox=info.sandbox)
        atomic_write(out, table.path, write)
        return out
    with collector_paused():
        try:
            _write_workbook(table, results, issues, headers, extra, info, out, stream=True)
        except NotStreamable:
            _write_workbook(table, results, issues, headers, extra, info, out, stream=False)
    return out


def write_failed_only(
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    info: RunInfo,
    out: Path,
    *,
    extra_columns: Sequence[str] = (),
    extra_values: ExtraValues | None = None,
) -> int:
    """Write only the rows needing attention (invalid and failed) to ``out``, in the input's
    layout, as the Needs attention sheet holds them: a file to fix and run again.

    ``.csv`` by its suffix (the header on the first line, cells neutralised as in every CSV),
    else a workbook of one sheet. Returns how many rows it holds (the file is written even
    when there are none). Raises as `write_output`.
    """
    out = Path(out)
    check_output(table, out)
    purchases = info.mode not in _CHECK_MODES
    headers = result_headers(extra_columns, purchases=purchases, carried=carried_headers(table))
    results = _with_issue_text(results, issues)
    extra = extra_values or {}
    if out.suffix.lower() == ".csv":
        chosen = attention_rows(results)
        sub = _with_origin(attention_table(table, chosen, header_row=1), chosen, table.sheet)
        moved = [replace(r, index=i, excel_row=i + 2) for i, r in enumerate(chosen)]
        where = {r.index: i for i, r in enumerate(chosen)}
        shifted = {h: {where[k]: v for k, v in m.items() if k in where} for h, m in extra.items()}
        write = _csv_writer(sub, moved, headers, shifted, sandbox=info.sandbox)
        atomic_write(out, table.path, write)
        return len(chosen)
    with collector_paused():
        wb = Workbook()
        ws = wb.active
        assert isinstance(ws, Worksheet)
        ws.title = ATTENTION_SHEET
        count = write_attention(
            ws, table, results, issues, headers, extra, sandbox=info.sandbox, standalone=True
        )
        atomic_write(out, table.path, lambda tmp: wb.save(tmp))
    return count


def _with_origin(sub: Table, chosen: Sequence[RowResult], sheet: str) -> Table:
    """``sub`` with a last column giving each row's number on the data sheet."""
    frame = sub.frame.copy()
    header = origin_header(sheet)
    frame[header] = [str(r.excel_row) for r in chosen]
    return replace(
        sub,
        headers=(*sub.headers, header),
        columns=(*sub.columns, len(sub.columns) + 1),
        frame=frame,
    )


def _write_workbook(
    table: Table,
    results: Sequence[RowResult],
    issues: Sequence[Issue],
    headers: Sequence[str],
    extra: ExtraValues,
    info: RunInfo,
    out: Path,
    *,
    stream: bool,
) -> None:
    """The workbook output; with ``stream``, its data sheet's rows are streamed (`stream`).

    Raises:
        NotStreamable: ``stream`` was asked, and the data sheet cannot be streamed.
    """
    keep_vba = out.suffix.lower() == ".xlsm"
    wb, ws, note, source = _open_workbook(table, keep_vba=keep_vba, stream=stream)
    work = prepare_sheet(ws, table, results, issues, headers, extra, sandbox=info.sandbox)
    if source is None:
        work.apply(ws, 1, LAST_ROW)
    write_summary(fresh_sheet(wb, SUMMARY_SHEET, ws), info, results, note)
    attention = fresh_sheet(wb, ATTENTION_SHEET, ws)
    write_attention(attention, table, results, issues, headers, extra, sandbox=info.sandbox)
    write_errors(fresh_sheet(wb, ERRORS_SHEET, ws), issues, results)
    _activate(wb, ws)
    if source is None:
        atomic_write(out, table.path, lambda tmp: wb.save(tmp))
    else:
        streamed = source
        atomic_write(out, table.path, lambda tmp: save_streamed(wb, ws, streamed, work, tmp))


# --- the rows' texts ------------------------------------------------------------------------------


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


# --- the workbook ---------------------------------------------------------------------------------


def _open_workbook(
    table: Table, *, keep_vba: bool, stream: bool
) -> tuple[Workbook, Worksheet, str | None, StreamedSheet | None]:
    """The user's workbook and data sheet, or a new workbook holding the table.

    The third item, when set, says why the user's workbook could not be kept; the fourth,
    when set, where the data sheet's rows are to be streamed from (they are not loaded).
    """
    if table.format not in ("xlsx", "xlsm"):
        return (*_workbook_from_table(table), None, None)
    source: StreamedSheet | None = None
    try:
        opened = take_ahead(table, keep_vba=keep_vba) if stream else None
        if opened is not None:
            wb, source = opened
        elif stream:
            wb, source = open_streamed(table.path, table.sheet, table.header_row, keep_vba=keep_vba)
        else:
            with warnings.catch_warnings():
                # openpyxl warns about parts it drops (e.g. extension lists); nothing to act on.
                warnings.simplefilter("ignore", UserWarning)
                wb = openpyxl.load_workbook(table.path, keep_vba=keep_vba)
        ws = wb[table.sheet]
        if not isinstance(ws, Worksheet):
            raise TypeError(f"{table.sheet!r} is not a worksheet")
    except NotStreamable:
        raise
    except Exception as exc:  # whatever stops openpyxl, the results must still be written
        note = (
            f"The input workbook could not be reopened ({type(exc).__name__}: {exc}); "
            "this output holds its data sheet as text, without its formatting."
        )
        return (*_workbook_from_table(table), note, None)
    return wb, ws, None, source


def _workbook_from_table(table: Table) -> tuple[Workbook, Worksheet]:
    """A new workbook whose data sheet holds the table as text, at the same rows and columns."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = sheet_title(table.sheet)
    fill_sheet(ws, table)
    return wb, ws


def _activate(wb: Workbook, ws: Worksheet) -> None:
    """Open on the data sheet, with no other sheet selected along with it."""
    for sheet in wb.worksheets:
        if isinstance(sheet, Worksheet):
            sheet.sheet_view.tabSelected = sheet is ws
    wb.active = ws


# --- CSV ------------------------------------------------------------------------------------------


def _csv_writer(
    table: Table,
    results: Sequence[RowResult],
    headers: Sequence[str],
    extra: ExtraValues,
    *,
    sandbox: bool,
) -> Callable[[Path], None]:
    return lambda path: _write_csv(table, results, headers, extra, path, sandbox=sandbox)


def _write_csv(
    table: Table,
    results: Sequence[RowResult],
    headers: Sequence[str],
    extra: ExtraValues,
    path: Path,
    *,
    sandbox: bool,
) -> None:
    """The user's columns with the result columns (replacing earlier ones), UTF-8 with BOM."""
    span = result_span(table.headers)
    start = span.start if span else len(table.headers)
    stop = span.stop if span else len(table.headers)
    getters = result_getters(headers, extra, sandbox=sandbox)
    by_index = {r.index: r for r in results}
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        row = [*table.headers[:start], *headers, *table.headers[stop:]]
        writer.writerow([csv_safe(cell) for cell in row])
        rows = table.frame.itertuples(index=False, name=None)
        for index, values in enumerate(rows):
            cells = [str(v) for v in values]
            result = by_index.get(index)
            found = [get(result) for get in getters] if result else [None] * len(headers)
            texts = ["" if v is None else str(v) for v in found]
            row = [*cells[:start], *texts, *cells[stop:]]
            # Cells from the sheet and from the API's answers alike: neither may run as a formula.
            writer.writerow([csv_safe(cell) for cell in row])
