"""The Summary sheet (run facts, counts by status and match type, the plan) and the Errors sheet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.clock import local_datetime
from batchprov.models import Issue, MatchType, RowResult, Severity, Status
from batchprov.report import RunInfo
from batchprov.wording import match_type_words
from batchprov.write.columns import MAX_ROWS
from batchprov.write.styles import (
    BAD,
    HEADER_BORDER,
    HEADER_FILL,
    HEADER_FONT,
    IDLE,
    ROW_FILL,
    TONE,
    TONE_FONT,
    WRAP,
    Value,
    cell_at,
    line_count,
    print_setup,
    put,
    text_width,
)

if TYPE_CHECKING:
    from batchprov.plan import Plan

SUMMARY_SHEET = "Summary"
ERRORS_SHEET = "Errors"
ERRORS_HEADERS = ("Row", "Column", "Value", "Message", "Severity")
SANDBOX_NOTE = "SANDBOX (simulated, nothing was bought)"

_TITLE_FONT = Font(bold=True, size=14, color="1F3864")
_LABEL_FONT = Font(bold=True, color="595959")
_ALERT_FONT = Font(bold=True, color="C00000")
_NOTE_FONT = Font(italic=True, color="595959")
_LEFT = Alignment(horizontal="left")
_RIGHT = Alignment(horizontal="right")

#: The Summary's title: what the workbook holds, as its file name says.
_TITLES = {"validate": "batchprov check", "dry-run": "batchprov plan (dry run)"}
_MODE_TEXT = {
    "validate": "Validation only: every row was checked; nothing was ordered.",
    "dry-run": "Dry run: nothing was ordered. 'Request Body' shows what each row would send.",
    "run": "Numbers were ordered from the API named below.",
    "export": "Export: the numbers the account holds in these groups; nothing was ordered. "
    "Running this workbook orders nothing.",
    "release": "Release: the numbers marked 'released' were given back to the account and "
    "no longer ring through.",
}


# --- the Summary sheet ----------------------------------------------------------------------------


def write_summary(
    ws: Worksheet, info: RunInfo, results: Sequence[RowResult], note: str | None
) -> None:
    title = _TITLES.get(info.mode, "batchprov results")
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
    ws.column_dimensions["A"].width = 26  # "Reported again, not sent" fits
    ws.column_dimensions["B"].width = 21  # a date-time fits
    for letter in "CDEFGHI":
        ws.column_dimensions[letter].width = 16
    ws.sheet_properties.tabColor = "C00000" if info.sandbox else "1F3864"
    print_setup(ws, fit_width=True)


Fact = tuple[str, str | int | datetime, bool]


def _facts(info: RunInfo, rows: int, note: str | None) -> list[Fact]:
    """(label, value, alert) lines of the Summary's first table."""
    api = SANDBOX_NOTE if info.sandbox else info.api_url or "none (nothing was sent)"
    facts: list[Fact] = [
        ("Mode", info.mode, False),
        ("Input file", info.input_name, False),
        ("Input SHA-256", info.input_sha256, False),
        ("API", api, info.sandbox),
        ("Started", local_datetime(info.started_at) or info.started_at, False),
        ("Ended", local_datetime(info.ended_at) or info.ended_at, False),
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


def _write_facts(ws: Worksheet, row: int, facts: Iterable[Fact]) -> int:
    for label, value, alert in facts:
        ws.cell(row=row, column=1, value=label).font = _LABEL_FONT
        cell = cell_at(ws, row, 2)
        put(cell, value)
        cell.alignment = _LEFT  # numbers and dates under the texts, not at the far edge
        if alert:
            cell.font = _ALERT_FONT
        row += 1
    return row


def _table_header(
    ws: Worksheet, row: int, texts: Sequence[str], title: str, *, numeric: bool = False
) -> int:
    ws.cell(row=row, column=1, value=title).font = Font(bold=True, size=12, color="1F3864")
    for column, text in enumerate(texts, start=1):
        cell = ws.cell(row=row + 1, column=column, value=text)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
        if column > 1 and numeric:  # over the counts below, which stand at the right
            cell.alignment = _RIGHT
    return row + 2


def _write_status_counts(ws: Worksheet, row: int, results: Sequence[RowResult]) -> int:
    counts = Counter(r.status for r in results)
    row = _table_header(ws, row, ("Status", "Rows"), "Rows by status", numeric=True)
    for status in (s for s in Status if counts[s]):
        tone = TONE[status]
        label = ws.cell(row=row, column=1, value=status.value)
        label.font, label.fill = TONE_FONT[tone], ROW_FILL[tone]
        ws.cell(row=row, column=2, value=counts[status]).fill = ROW_FILL[tone]
        row += 1
    _total_row(ws, row, ["Total", len(results)])
    return row + 1


def _write_match_type_counts(ws: Worksheet, row: int, results: Sequence[RowResult]) -> int:
    statuses = [s for s in Status if any(r.status is s for r in results)]
    grid = Counter((r.match_type or "", r.status) for r in results)
    known = [m.value for m in MatchType]
    kinds = known + sorted({m for m, _ in grid} - set(known))
    texts = ["Match type", *(s.value for s in statuses), "Total"]
    row = _table_header(ws, row, texts, "Rows by match type and status", numeric=True)
    for kind in kinds:
        counts = [grid[(kind, s)] for s in statuses]
        if not any(counts):
            continue
        ws.cell(row=row, column=1, value=match_type_words(kind) or "(not determined)")
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
    lines = [(g, match_type_words(m) or "", a, n) for g, m, a, n in plan.per_area]
    row = _write_lines(ws, _table_header(ws, row + 1, areas, "Plan by area code"), lines)
    if plan.at_risk:
        risks = ("Row", "Why no number is likely", "Fallbacks")
        row = _table_header(ws, row + 1, risks, "Rows likely to find no number")
        row = _write_lines(ws, row, plan.at_risk)
    return row


def _write_lines(ws: Worksheet, row: int, lines: Iterable[Sequence[str | int]]) -> int:
    for line in lines:
        for column, value in enumerate(line, start=1):
            if value != "":
                put(cell_at(ws, row, column), value)
        row += 1
    return row


def _total_row(ws: Worksheet, row: int, values: Sequence[str | int]) -> None:
    for column, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=column, value=value)
        cell.font = Font(bold=True)
        cell.border = Border(top=Side(style="thin", color="808080"))


# --- the Errors sheet -----------------------------------------------------------------------------


#: The most lines the Errors sheet lists under its header: Excel's last row is 1,048,576.
ERRORS_LIMIT = MAX_ROWS - 1


def _error_lines(issues: Sequence[Issue], results: Sequence[RowResult]) -> list[list[Value]]:
    """One line per issue, plus one per failed row whose failure no issue describes.

    Past `ERRORS_LIMIT` lines, the last line says how many more there are: every one of them is
    still on its row of the data sheet (its Error and Warnings cells, its marked cells).
    """
    lines: list[list[Value]] = [
        [i.row, i.column, i.value, i.message, i.severity.value] for i in issues
    ]
    described = {i.row for i in issues if i.severity is Severity.ERROR}
    for r in results:
        if r.failed and r.excel_row not in described:
            lines.append([r.excel_row, "Status", r.status.value, r.error or "failed", "error"])
    lines.sort(key=lambda line: line[0] or 0)
    if len(lines) > ERRORS_LIMIT:
        left = len(lines) - (ERRORS_LIMIT - 1)
        note = (
            f"{left:,} more problems are not listed here: a sheet ends at row {MAX_ROWS:,}. "
            "Each is still shown on its row of the data sheet (Error and Warnings columns)."
        )
        lines = [*lines[: ERRORS_LIMIT - 1], [None, None, None, note, None]]
    return lines


def write_errors(ws: Worksheet, issues: Sequence[Issue], results: Sequence[RowResult]) -> None:
    ws.append(list(ERRORS_HEADERS))
    for cell in ws[1]:
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
    lines = _error_lines(issues, results)
    severity_font = {"error": TONE_FONT[BAD], "warning": TONE_FONT[IDLE]}
    widths = [6, 14, 14, 40, 10]  # at least
    for number, line in enumerate(lines, start=2):
        for column, value in enumerate(line, start=1):
            if value is not None and value != "":
                put(cell_at(ws, number, column), value)
                widths[column - 1] = max(widths[column - 1], text_width(value) + 2)
        ws.cell(row=number, column=4).alignment = WRAP
        ws.cell(row=number, column=5).font = severity_font.get(str(line[4]), Font())
    caps = (8, 30, 40, 90, 12)
    sizes = [min(width, cap) for width, cap in zip(widths, caps, strict=True)]
    for column, size in enumerate(sizes, start=1):
        ws.column_dimensions[get_column_letter(column)].width = size
    for number, line in enumerate(lines, start=2):  # LibreOffice grows no row for wrapped text
        count = line_count(str(line[3] or ""), sizes[3])
        if count > 1:
            ws.row_dimensions[number].height = 15.0 * count
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:E{max(2, len(lines) + 1)}"
    print_setup(ws, fit_width=True)
    ws.print_title_rows = "1:1"


# --- placing the sheets ---------------------------------------------------------------------------


def fresh_sheet(wb: Workbook, name: str, data: Worksheet) -> Worksheet:
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
