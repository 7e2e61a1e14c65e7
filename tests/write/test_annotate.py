"""The annotated output: result columns, marks, Summary and Errors sheets, CSV, atomic writes."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from batchprov.clock import local_datetime
from batchprov.errors import ConfigError, InputError
from batchprov.models import Issue, RowResult, Severity, Status, Table
from batchprov.read.headers import RESULT_HEADERS
from batchprov.report import RunInfo
from batchprov.write import output as annotate
from batchprov.write.output import AUTHOR, ERRORS_HEADERS, write_output

HEADERS = ("Advertiser", "Group ID", "Match Type", "Local To", "City", "Province", "Forward To")
ROWS = (
    ("Lakeshore Family Dental", "11623282", "localtonumber", "9056372046", "", "", "9056372046"),
    ("Peachtree Family Law", "11623282", "localtocity", "", "Atlanta", "GA", "4043993433"),
    ("Sunbelt Solar", "11623283", "tollfree", "", "", "", "6022297740"),
)
RED, AMBER = "00FFC7CE", "00FFE699"


# --- helpers ----------------------------------------------------------------------------------


def make_workbook(
    path: Path, rows: Sequence[Sequence[str]] = ROWS, *, header_row: int = 1
) -> Workbook:
    """A user's workbook: title rows above the header when header_row > 1."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "Advertisers"
    if header_row > 1:
        ws["A1"] = "March onboarding"
    for column, header in enumerate(HEADERS, start=1):
        ws.cell(row=header_row, column=column, value=header)
    for offset, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            ws.cell(row=header_row + offset, column=column, value=value or None)
    wb.save(path)
    return wb


def table_of(path: Path, *, fmt: str = "xlsx", sheet: str = "Advertisers") -> Table:
    """The Table the reader would make of a workbook written by make_workbook (or an output)."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    header_row = next(r for r in range(1, 10) if ws.cell(row=r, column=1).value == "Advertiser")
    headers = tuple(
        str(c.value) for c in ws[header_row] if c.value is not None and str(c.value).strip()
    )
    rows = [
        ["" if v is None else str(v) for v in values[: len(headers)]]
        for values in ws.iter_rows(min_row=header_row + 1, values_only=True)
        if any(v is not None for v in values[: len(headers)])
    ]
    frame = pd.DataFrame(rows, columns=list(headers), dtype=str)
    first = header_row + 1
    return Table(
        path=path,
        format=fmt,
        sheet=sheet,
        headers=headers,
        columns=tuple(range(1, len(headers) + 1)),
        header_row=header_row,
        frame=frame,
        excel_rows=tuple(range(first, first + len(rows))),
    )


def text_table(path: Path, rows: Sequence[Sequence[str]] = ROWS) -> Table:
    """A delimited-text Table (header on line 1) without touching the disk."""
    frame = pd.DataFrame([list(r) for r in rows], columns=list(HEADERS), dtype=str)
    return Table(
        path=path,
        format="csv",
        sheet=path.stem,
        headers=HEADERS,
        columns=tuple(range(1, len(HEADERS) + 1)),
        header_row=1,
        frame=frame,
        excel_rows=tuple(range(2, 2 + len(rows))),
        encoding="utf-8",
        delimiter=",",
    )


def info(*, sandbox: bool = False, mode: str = "run", stopped: str | None = None) -> RunInfo:
    return RunInfo(
        mode=mode,
        input_name="advertisers.xlsx",
        input_sha256="ab" * 32,
        api_url=None if sandbox else "https://api.telmetrics.com/v3/api",
        sandbox=sandbox,
        started_at="2026-03-04T15:00:00+00:00",
        ended_at="2026-03-04T15:01:30+00:00",
        tool_version="0.1.0",
        stopped_reason=stopped,
    )


def provisioned(index: int, row: int, number: str = "2898122093") -> RowResult:
    return RowResult(
        index=index,
        excel_row=row,
        status=Status.PROVISIONED,
        match_type="localtonumber",
        tracking_number=number,
        number_id="8660466",
        route_id="30474073",
        assigned_name="Lakeshore Family Dental",
        attempts=1,
        provisioned_at="2026-03-04T15:00:12Z",
    )


def standard_results(table: Table) -> list[RowResult]:
    """Row 1 provisioned, row 2 invalid, row 3 failed."""
    first, second, third = table.excel_rows
    return [
        provisioned(0, first),
        RowResult(1, second, Status.INVALID, match_type="localtocity", error="City: too far"),
        RowResult(2, third, Status.FAILED, match_type="tollfree", error="HTTP 422", attempts=1),
    ]


def column_of(ws: Worksheet, header: str, row: int = 1) -> int:
    """The column of ``header``; the rightmost one, since the user may have a 'Match Type' too."""
    matches = [c.column for c in ws[row] if c.value == header]
    assert matches, f"no {header!r} column"
    column = matches[-1]
    assert isinstance(column, int)
    return column


def cell(ws: Worksheet, header: str, row: int, header_row: int = 1) -> Cell:
    """The cell of a result column (found by its header) on an Excel row."""
    found = ws.cell(row=row, column=column_of(ws, header, header_row))
    assert isinstance(found, Cell)
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def user_book(tmp_path: Path) -> Path:
    path = tmp_path / "advertisers.xlsx"
    make_workbook(path)
    return path


def write(
    table: Table, out: Path, issues: Sequence[Issue] = (), extra: Sequence[str] = ()
) -> Worksheet:
    """Write the standard results and return the output's data sheet."""
    write_output(table, standard_results(table), issues, info(), out, extra_columns=extra)
    ws = openpyxl.load_workbook(out)[table.sheet]
    assert isinstance(ws, Worksheet)
    return ws


# --- result columns ---------------------------------------------------------------------------


def test_result_headers_follow_the_last_user_column(user_book: Path, tmp_path: Path) -> None:
    """The ten result headers are appended, in order, right after the user's columns."""
    ws = write(table_of(user_book), tmp_path / "out.xlsx")
    headers = [c.value for c in ws[1]]
    assert headers == [*HEADERS, *RESULT_HEADERS]
    status = ws.cell(row=1, column=len(HEADERS) + 1)
    assert status.font.bold
    assert status.fill.fgColor.rgb != "00000000"


def test_result_values_are_written_per_row(user_book: Path, tmp_path: Path) -> None:
    """Each row gets its status, number, ids, name, match type, error, attempts and time."""
    ws = write(table_of(user_book), tmp_path / "out.xlsx")
    values = {h: ws.cell(row=2, column=column_of(ws, h)).value for h in RESULT_HEADERS}
    assert values == {
        "Status": "provisioned",
        "Tracking Number": "2898122093",
        "Number ID": "8660466",
        "Route ID": "30474073",
        "Assigned Name": "Lakeshore Family Dental",
        "Ordered As": "Local to number",
        "Error": None,
        "Warnings": None,
        "Attempts": 1,
        "Provisioned At": local_datetime("2026-03-04T15:00:12Z"),
    }
    assert cell(ws, "Status", 3).value == "invalid"
    assert cell(ws, "Error", 4).value == "HTTP 422"


def test_phone_numbers_and_ids_are_stored_as_text(user_book: Path, tmp_path: Path) -> None:
    """Tracking Number, Number ID and Route ID are text cells formatted '@', never numbers."""
    ws = write(table_of(user_book), tmp_path / "out.xlsx")
    for header in ("Tracking Number", "Number ID", "Route ID"):
        target = cell(ws, header, 2)
        assert target.data_type == "s"
        assert target.number_format == "@"
    assert isinstance(cell(ws, "Attempts", 2).value, int)


def test_rows_are_coloured_by_status(user_book: Path, tmp_path: Path) -> None:
    """Conditional formatting colours each row's result cells green, red or amber by status."""
    ws = write(table_of(user_book), tmp_path / "out.xlsx")
    rules = {
        str(area.sqref): [(r.formula[0], r.dxf.fill.fgColor.rgb) for r in area.rules]
        for area in ws.conditional_formatting
    }
    assert set(rules) == {"H2:H4", "I2:Q4"}
    by_formula = dict(rules["I2:Q4"])
    green = next(c for f, c in by_formula.items() if '"provisioned"' in f)
    red = next(c for f, c in by_formula.items() if '"invalid"' in f)
    amber = next(c for f, c in by_formula.items() if '"not attempted"' in f)
    assert len({green, red, amber}) == 3
    assert '"failed"' in next(f for f, c in by_formula.items() if c == red)
    assert all(r.dxf.font.b for area in ws.conditional_formatting for r in area.rules
               if str(area.sqref) == "H2:H4")  # fmt: skip


def test_result_columns_are_sized_to_content(user_book: Path, tmp_path: Path) -> None:
    """Result columns get a width fitted to their texts, at most 50."""
    table = table_of(user_book)
    results = standard_results(table)
    results[1] = RowResult(1, 3, Status.INVALID, error="x" * 200)
    write_output(table, results, (), info(), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Advertisers"]
    dims = ws.column_dimensions
    assert dims["H"].width >= 14  # Status
    assert dims["I"].width == 50  # Error, beside Status, capped
    assert ws["I3"].alignment.wrap_text
    assert ws.row_dimensions[3].height >= 60


def test_formula_like_and_control_characters_stay_plain_text(
    user_book: Path, tmp_path: Path
) -> None:
    """Text starting with '=' is not a formula; control characters are dropped."""
    table = table_of(user_book)
    results = standard_results(table)
    results[2] = RowResult(2, 4, Status.FAILED, assigned_name="=HYPERLINK(1)", error="bad\x07!")
    write_output(table, results, (), info(), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Advertisers"]
    assigned = cell(ws, "Assigned Name", 4)
    assert (assigned.value, assigned.data_type) == ("=HYPERLINK(1)", "s")
    assert cell(ws, "Error", 4).value == "bad!"


def test_invalid_row_without_error_text_gets_its_issues(user_book: Path, tmp_path: Path) -> None:
    """An invalid row whose result has no error text shows its issues in the Error column."""
    table = table_of(user_book)
    results = [*standard_results(table)]
    results[1] = RowResult(1, 3, Status.INVALID)
    issues = [Issue(3, "City", "Atlanta", "is required"), Issue(3, "Province", "GA", "unknown")]
    write_output(table, results, issues, info(), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Advertisers"]
    assert cell(ws, "Error", 3).value == "City: is required\nProvince: unknown"


def test_request_body_column_on_dry_runs(user_book: Path, tmp_path: Path) -> None:
    """extra_columns=("Request Body",) adds the column with each row's JSON body."""
    table = table_of(user_book)
    body = '{"name":"Lakeshore Family Dental"}'
    results = [RowResult(0, 2, Status.PLANNED, request_body=body)]
    out = tmp_path / "out.xlsx"
    write_output(table, results, (), info(mode="dry-run"), out, extra_columns=("Request Body",))
    ws = openpyxl.load_workbook(out)["Advertisers"]
    assert ws.cell(row=1, column=ws.max_column).value == "Request Body"
    assert cell(ws, "Request Body", 2).value == body


def test_extra_values_fill_expected_area(user_book: Path, tmp_path: Path) -> None:
    """Values given per header and row index fill an optional column such as Expected Area."""
    table = table_of(user_book)
    out = tmp_path / "out.xlsx"
    write_output(
        table,
        standard_results(table),
        (),
        info(),
        out,
        extra_columns=("Expected Area",),
        extra_values={"Expected Area": {0: "Burlington, ON"}},
    )
    ws = openpyxl.load_workbook(out)["Advertisers"]
    assert cell(ws, "Expected Area", 2).value == "Burlington, ON"


def test_unknown_extra_column_is_refused(user_book: Path, tmp_path: Path) -> None:
    """An optional column batchprov does not know is a programming error."""
    with pytest.raises(ValueError, match="Colour"):
        write(table_of(user_book), tmp_path / "out.xlsx", extra=("Colour",))


# --- marks on the user's cells ----------------------------------------------------------------


def test_error_issue_marks_the_users_cell(user_book: Path, tmp_path: Path) -> None:
    """An error fills the cell under the issue's header red and explains it in a comment."""
    issues = [Issue(3, "City", "Atlanta", "City is not served")]
    ws = write(table_of(user_book), tmp_path / "out.xlsx", issues=issues)
    target = ws["E3"]
    assert target.fill.fgColor.rgb == RED
    assert target.comment is not None
    assert (target.comment.text, target.comment.author) == ("City is not served", AUTHOR)
    assert ws["E2"].comment is None


def test_several_issues_on_one_cell_share_one_comment(user_book: Path, tmp_path: Path) -> None:
    """Two messages about one cell become one comment, errors before warnings."""
    issues = [
        Issue(3, "City", "Atlanta", "Looks odd", Severity.WARNING),
        Issue(3, "City", "Atlanta", "Is required"),
    ]
    ws = write(table_of(user_book), tmp_path / "out.xlsx", issues=issues)
    comment = ws["E3"].comment
    assert comment is not None
    assert comment.text == "• Is required\n• Warning: Looks odd"
    assert ws["E3"].fill.fgColor.rgb == RED


def test_warning_issue_marks_the_cell_amber(user_book: Path, tmp_path: Path) -> None:
    """A warning fills its cell amber, with a comment saying it is a warning."""
    issues = [Issue(2, "Forward To", "9056372046", "Same as the local number", Severity.WARNING)]
    ws = write(table_of(user_book), tmp_path / "out.xlsx", issues=issues)
    assert ws["G2"].fill.fgColor.rgb == AMBER
    assert ws["G2"].comment is not None
    assert ws["G2"].comment.text == "Warning: Same as the local number"


def test_issue_about_an_absent_column_marks_the_status_cell(
    user_book: Path, tmp_path: Path
) -> None:
    """A problem with a column the sheet lacks is shown on the row's Status cell."""
    issues = [
        Issue(
            3,
            "termination_number",
            "",
            "termination_number is empty; give the 10-digit number that calls to the new "
            "number should ring",
        )
    ]
    ws = write(table_of(user_book), tmp_path / "out.xlsx", issues=issues)
    comment = cell(ws, "Status", 3).comment
    assert comment is not None
    assert (
        comment.text
        == "termination_number is empty; give the 10-digit number that calls to the new number "
        "should ring"
    )


def test_users_own_comment_is_kept_and_restored(tmp_path: Path) -> None:
    """A comment the user had stays below ours, and comes back alone once the cell is fixed."""
    source = tmp_path / "in.xlsx"
    wb = make_workbook(source)
    wb["Advertisers"]["E3"].comment = Comment("Ask Priya", "Dana")
    wb.save(source)
    table = table_of(source)
    first = tmp_path / "first.xlsx"
    write_output(table, standard_results(table), [Issue(3, "City", "", "Bad")], info(), first)
    mark = openpyxl.load_workbook(first)["Advertisers"]["E3"].comment
    assert mark is not None
    assert mark.text.startswith("Bad") and "Ask Priya" in mark.text
    second = tmp_path / "second.xlsx"
    write_output(table_of(first), standard_results(table), (), info(), second)
    restored = openpyxl.load_workbook(second)["Advertisers"]["E3"]
    assert restored.comment is not None
    assert (restored.comment.text, restored.comment.author) == ("Ask Priya", "Dana")
    assert restored.fill.fill_type is None


# --- the user's workbook survives -------------------------------------------------------------


def test_users_workbook_features_survive(tmp_path: Path) -> None:
    """Other sheets, fonts, fills, data validation, frozen panes and widths are kept."""
    source = tmp_path / "in.xlsx"
    wb = make_workbook(source)
    user = wb["Advertisers"]
    assert isinstance(user, Worksheet)
    user["A2"].font = Font(italic=True, color="FF0000")
    user["B2"].fill = PatternFill("solid", fgColor="FFFF00")
    user.freeze_panes = "B2"
    user.column_dimensions["A"].width = 33
    rule = DataValidation(type="list", formula1='"localtonumber,localtocity,tollfree"')
    rule.add("C2:C100")
    user.add_data_validation(rule)
    notes = wb.create_sheet("Notes")
    notes["A1"] = "keep me"
    wb.save(source)
    ws = write(table_of(source), tmp_path / "out.xlsx")
    out = ws.parent
    assert out is not None
    assert out.sheetnames == ["Advertisers", "Notes", "Summary", "Needs attention", "Errors"]
    assert out["Notes"]["A1"].value == "keep me"
    assert ws["A2"].font.italic and ws["A2"].font.color.rgb == "00FF0000"
    assert ws["B2"].fill.fgColor.rgb == "00FFFF00"
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["A"].width == 33
    assert [str(dv.sqref) for dv in ws.data_validations.dataValidation] == ["C2:C100"]
    assert out.active is not None and out.active.title == "Advertisers"


def test_title_rows_above_the_header_are_kept(tmp_path: Path) -> None:
    """With the header on row 3, results go on row 3 and the title rows stay."""
    source = tmp_path / "in.xlsx"
    make_workbook(source, header_row=3)
    table = table_of(source)
    assert table.header_row == 3
    ws = write(table, tmp_path / "out.xlsx")
    assert ws["A1"].value == "March onboarding"
    assert cell(ws, "Status", 4, header_row=3).value == "provisioned"
    assert ws.cell(row=1, column=8).value is None


def test_autofilter_on_the_header_is_widened(tmp_path: Path) -> None:
    """An autofilter over the user's header row is extended over the result columns."""
    source = tmp_path / "in.xlsx"
    wb = make_workbook(source)
    wb["Advertisers"].auto_filter.ref = "A1:G4"
    wb.save(source)
    ws = write(table_of(source), tmp_path / "out.xlsx")
    assert ws.auto_filter.ref == "A1:Q4"


def test_unreadable_workbook_still_gets_an_output(tmp_path: Path) -> None:
    """If openpyxl cannot reopen the input, the data goes to a new workbook and Summary says so."""
    source = tmp_path / "in.xlsx"
    source.write_text("not a zip")
    table = text_table(source)
    table = Table(**{**{f: getattr(table, f) for f in Table.__slots__}, "format": "xlsx"})
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), (), info(), out)
    wb = openpyxl.load_workbook(out)
    assert wb["in"]["A2"].value == "Lakeshore Family Dental"
    notes = [c.value for c in wb["Summary"]["A"] if c.value == "Note"]
    assert notes == ["Note"]


# --- re-runs ----------------------------------------------------------------------------------


def test_rerun_reuses_result_columns(user_book: Path, tmp_path: Path) -> None:
    """Writing over an output reuses its result columns: no duplicates, old values replaced."""
    first = tmp_path / "first.xlsx"
    write(table_of(user_book), first, issues=[Issue(3, "City", "Atlanta", "Bad city")])
    table = table_of(first)
    assert table.headers == (*HEADERS, *RESULT_HEADERS)
    results = [
        RowResult(0, 2, Status.ALREADY_PROVISIONED, tracking_number="2898122093"),
        provisioned(1, 3, number="4043411266"),
        RowResult(2, 4, Status.NOT_ATTEMPTED),
    ]
    second = tmp_path / "second.xlsx"
    write_output(table, results, (), info(), second)
    wb = openpyxl.load_workbook(second)
    ws = wb["Advertisers"]
    assert [c.value for c in ws[1]] == [*HEADERS, *RESULT_HEADERS]
    assert cell(ws, "Tracking Number", 3).value == "4043411266"
    assert cell(ws, "Error", 3).value is None
    assert cell(ws, "Error", 4).value is None
    assert cell(ws, "Attempts", 4).value is None
    assert ws["E3"].comment is None and ws["E3"].fill.fill_type is None
    assert len(list(ws.conditional_formatting)) == 2
    assert wb.sheetnames == ["Advertisers", "Summary", "Needs attention", "Errors"]


def test_rerun_keeps_a_user_column_after_the_results(user_book: Path, tmp_path: Path) -> None:
    """A user column after the result columns stays; a new result column goes after it."""
    first = tmp_path / "first.xlsx"
    write(table_of(user_book), first)
    wb = openpyxl.load_workbook(first)
    wb["Advertisers"]["R1"], wb["Advertisers"]["R2"] = "Owner", "Dana"
    wb.save(first)
    table = table_of(first)
    second = tmp_path / "second.xlsx"
    write_output(
        table, standard_results(table), (), info(), second, extra_columns=("Request Body",)
    )
    ws = openpyxl.load_workbook(second)["Advertisers"]
    headers = [c.value for c in ws[1]]
    assert headers == [*HEADERS, *RESULT_HEADERS, "Owner", "Request Body"]
    assert ws["R2"].value == "Dana"


def test_rerun_drops_an_optional_column_no_longer_written(user_book: Path, tmp_path: Path) -> None:
    """A Request Body column from a dry run is cleared when the next run does not write it."""
    first = tmp_path / "first.xlsx"
    table = table_of(user_book)
    planned = [RowResult(0, 2, Status.PLANNED, request_body="{}")]
    write_output(table, planned, (), info(), first, extra_columns=("Request Body",))
    second = tmp_path / "second.xlsx"
    write_output(table_of(first), standard_results(table), (), info(), second)
    ws = openpyxl.load_workbook(second)["Advertisers"]
    assert [c.value for c in ws[1] if c.value] == [*HEADERS, *RESULT_HEADERS]
    assert ws.cell(row=2, column=len(HEADERS) + len(RESULT_HEADERS) + 1).value is None


def test_users_sheet_named_summary_is_not_replaced(tmp_path: Path) -> None:
    """A Summary sheet the user wrote is kept; ours gets a suffixed name."""
    source = tmp_path / "in.xlsx"
    wb = make_workbook(source)
    wb.create_sheet("Summary")["A1"] = "Q1 budget"
    wb.save(source)
    write(table_of(source), tmp_path / "out.xlsx")
    out = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert out["Summary"]["A1"].value == "Q1 budget"
    assert str(out["Summary (batchprov)"]["A1"].value).startswith("batchprov")


# --- Summary and Errors -----------------------------------------------------------------------


def summary_facts(ws: Worksheet) -> dict[str, object]:
    return {str(a.value): b.value for a, b in ws.iter_rows(min_col=1, max_col=2) if a.value}


def test_summary_names_the_run(user_book: Path, tmp_path: Path) -> None:
    """Summary gives mode, input name and SHA-256, API, times, version and counts by status."""
    write(table_of(user_book), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Summary"]
    facts = summary_facts(ws)
    assert facts["Mode"] == "run"
    assert facts["Input file"] == "advertisers.xlsx"
    assert facts["Input SHA-256"] == "ab" * 32
    assert facts["API"] == "https://api.telmetrics.com/v3/api"
    assert facts["Started"] == local_datetime("2026-03-04T15:00:00+00:00")  # a real date-time
    assert facts["Duration"] == "1 min 30.0 s"
    assert facts["Tool version"] == "batchprov 0.1.0"
    assert (facts["provisioned"], facts["invalid"], facts["failed"]) == (1, 1, 1)
    assert "SANDBOX" not in str(ws["A1"].value)


def test_summary_counts_by_match_type_and_status(user_book: Path, tmp_path: Path) -> None:
    """The second table crosses match types with statuses, with totals."""
    write(table_of(user_book), tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Summary"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_col=1, max_col=5)]
    start = next(i for i, r in enumerate(rows) if r[0] == "Match type")
    assert rows[start] == ["Match type", "provisioned", "invalid", "failed", "Total"]
    assert rows[start + 1] == ["Local to number", 1, 0, 0, 1]
    assert rows[start + 4] == ["Total", 1, 1, 1, 3]


def test_sandbox_runs_say_so(user_book: Path, tmp_path: Path) -> None:
    """A sandbox run's Summary title and API line say it was simulated and nothing was bought."""
    table = table_of(user_book)
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), (), info(sandbox=True), out)
    ws = openpyxl.load_workbook(out)["Summary"]
    assert "SANDBOX" in str(ws["A1"].value)
    assert summary_facts(ws)["API"] == "SANDBOX (simulated, nothing was bought)"


def test_stopped_run_gives_its_reason(user_book: Path, tmp_path: Path) -> None:
    """A run cut short names the reason in the Summary."""
    table = table_of(user_book)
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), (), info(stopped="token rejected (401)"), out)
    facts = summary_facts(openpyxl.load_workbook(out)["Summary"])
    assert facts["Stopped early"] == "token rejected (401)"


def test_errors_sheet_lists_every_problem(user_book: Path, tmp_path: Path) -> None:
    """Errors has one line per issue (and per failed row), with filter and frozen header."""
    issues = [
        Issue(3, "Province", "GA", "Looks odd", Severity.WARNING),
        Issue(3, "City", "Atlanta", "Bad city"),
    ]
    write(table_of(user_book), tmp_path / "out.xlsx", issues=issues)
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Errors"]
    rows = [tuple(c.value for c in row) for row in ws.iter_rows()]
    assert rows == [
        ERRORS_HEADERS,
        (3, "Province", "GA", "Looks odd", "warning"),
        (3, "City", "Atlanta", "Bad city", "error"),
        (4, "Status", "failed", "HTTP 422", "error"),
    ]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:E4"
    assert ws.column_dimensions["D"].width >= 12


# --- other inputs and outputs -----------------------------------------------------------------


def test_csv_input_gets_a_new_workbook_of_text(tmp_path: Path) -> None:
    """A CSV input becomes a workbook whose data sheet holds every cell as text."""
    table = text_table(tmp_path / "march_advertisers.csv")
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), [Issue(3, "City", "Atlanta", "Bad")], info(), out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["march_advertisers", "Summary", "Needs attention", "Errors"]
    ws = wb["march_advertisers"]
    assert [c.value for c in ws[1]] == [*HEADERS, *RESULT_HEADERS]
    assert (ws["B2"].value, ws["B2"].data_type, ws["B2"].number_format) == ("11623282", "s", "@")
    assert ws["D2"].value == "9056372046"
    assert ws["E3"].comment is not None
    assert ws.freeze_panes == "A2"


def test_long_sheet_names_are_cut_to_31_characters(tmp_path: Path) -> None:
    """A CSV file's long stem makes a valid sheet name."""
    table = text_table(tmp_path / ("advertisers_for_march_onboarding_west[1].csv"))
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), (), info(), out)
    name = openpyxl.load_workbook(out).sheetnames[0]
    assert name == "advertisers_for_march_onboardin" and len(name) == 31


def test_csv_output_holds_user_then_result_columns(user_book: Path, tmp_path: Path) -> None:
    """A .csv output is UTF-8 with BOM: the user's columns, then the result columns."""
    out = tmp_path / "out.csv"
    table = table_of(user_book)
    write_output(table, standard_results(table), (), info(), out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == [*HEADERS, *RESULT_HEADERS]
    assert rows[1][:8] == [*ROWS[0], "provisioned"]
    assert rows[1][len(HEADERS) + RESULT_HEADERS.index("Tracking Number")] == "2898122093"
    assert rows[3][len(HEADERS) + RESULT_HEADERS.index("Attempts")] == "1"
    assert not (tmp_path / "out.xlsx").exists()


def test_csv_output_replaces_earlier_result_columns(user_book: Path, tmp_path: Path) -> None:
    """Writing CSV from an output that already has result columns does not duplicate them."""
    first = tmp_path / "first.xlsx"
    write(table_of(user_book), first)
    table = table_of(first)
    out = tmp_path / "again.csv"
    write_output(table, [RowResult(0, 2, Status.ALREADY_PROVISIONED)], (), info(), out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*HEADERS, *RESULT_HEADERS]
    assert rows[1][len(HEADERS)] == "already provisioned"
    assert rows[2][len(HEADERS) :] == [""] * len(RESULT_HEADERS)


# --- writing safely ---------------------------------------------------------------------------


def test_output_is_written_atomically(user_book: Path, tmp_path: Path) -> None:
    """The output appears whole, no temporary file is left, and the input is untouched."""
    before = sha256(user_book)
    out = tmp_path / "out.xlsx"
    write(table_of(user_book), out)
    assert sha256(user_book) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advertisers.xlsx", "out.xlsx"]


def test_failed_write_keeps_the_previous_output(
    user_book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash while saving leaves the earlier output as it was and no temporary file."""
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"earlier output")

    def crash(self: ExcelWriter) -> None:
        self._archive.writestr("xl/half.xml", b"half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(ExcelWriter, "save", crash)
    table = table_of(user_book)
    with pytest.raises(OSError, match="disk full"):
        write_output(table, standard_results(table), (), info(), out)
    assert out.read_bytes() == b"earlier output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advertisers.xlsx", "out.xlsx"]


def test_refuses_to_overwrite_the_input(user_book: Path) -> None:
    """An output path equal to the input is refused before anything is written."""
    before = sha256(user_book)
    with pytest.raises(InputError, match="overwrite the input"):
        write(table_of(user_book), user_book.parent / "." / user_book.name)
    assert sha256(user_book) == before


@pytest.mark.parametrize("name", ["out.xls", "out.ods", "out.xlsm"], ids=["xls", "ods", "xlsm"])
def test_unwritable_suffixes_are_refused(user_book: Path, tmp_path: Path, name: str) -> None:
    """Only .xlsx, .csv and (for an .xlsm input) .xlsm outputs are written."""
    with pytest.raises(ConfigError):
        annotate.check_output(table_of(user_book), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_result_span_finds_only_our_own_run() -> None:
    """Result columns start at Status followed by Tracking Number and end at the first other."""
    headers = ["Name", "Status", "Tracking Number", "Number ID", "Notes", "Error"]
    assert annotate.result_span(headers) == range(1, 4)
    assert annotate.result_span(["Name", "Status", "Number ID"]) == range(0)
