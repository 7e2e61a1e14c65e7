"""The results workbook as a person uses it: filter, frozen header, readable columns, dates,
the Needs attention sheet and the sandbox mark."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet
from test_annotate import (
    HEADERS,
    ROWS,
    column_of,
    info,
    make_workbook,
    standard_results,
    table_of,
    text_table,
)

from batchprov.config import RunConfig
from batchprov.models import Issue, RowResult, Status
from batchprov.pipeline import check_file
from batchprov.read.files import read_table
from batchprov.read.headers import RESULT_HEADERS, map_columns
from batchprov.write.output import write_output


def written(path: Path, tmp_path: Path, *, sandbox: bool = False) -> Path:
    """The standard results (provisioned, invalid, failed) written from ``path``."""
    table = table_of(path)
    out = tmp_path / "out.xlsx"
    issues = [Issue(3, "City", "Atlanta", "city is wrong; write another")]
    write_output(table, standard_results(table), issues, info(sandbox=sandbox), out)
    return out


def data_sheet(out: Path) -> Worksheet:
    ws = openpyxl.load_workbook(out)["Advertisers"]
    assert isinstance(ws, Worksheet)
    return ws


def test_data_sheet_has_a_filter_and_a_frozen_header(tmp_path: Path) -> None:
    """Without its own, the data sheet gets a filter over every column and a frozen header."""
    ws = data_sheet(written(make_workbook_path(tmp_path), tmp_path))
    last = ws.cell(row=1, column=ws.max_column).column_letter
    assert ws.auto_filter.ref == f"A1:{last}4"
    assert ws.freeze_panes == "A2"


def test_header_below_title_rows_is_frozen_under_it(tmp_path: Path) -> None:
    """With title rows above the header, the freeze and the filter start at the header row."""
    path = tmp_path / "advertisers.xlsx"
    make_workbook(path, header_row=3)
    ws = data_sheet(written(path, tmp_path))
    assert ws.freeze_panes == "A4"
    assert str(ws.auto_filter.ref).startswith("A3:")


def test_result_headers_are_unique_with_status_error_and_warnings_together(
    tmp_path: Path,
) -> None:
    """No header appears twice (the input's Match Type stays; ours is Ordered As), and Status,
    Error and Warnings sit side by side."""
    ws = data_sheet(written(make_workbook_path(tmp_path), tmp_path))
    headers = [c.value for c in ws[1] if c.value]
    assert len(headers) == len(set(headers))
    assert "Match Type" in HEADERS and "Ordered As" in headers
    status = headers.index("Status")
    assert headers[status : status + 3] == ["Status", "Error", "Warnings"]


def test_match_types_and_times_are_in_plain_form(tmp_path: Path) -> None:
    """Ordered As reads 'Local to number'; Provisioned At is a real Excel date-time."""
    ws = data_sheet(written(make_workbook_path(tmp_path), tmp_path))
    assert ws.cell(row=2, column=column_of(ws, "Ordered As")).value == "Local to number"
    assert ws.cell(row=3, column=column_of(ws, "Ordered As")).value == "Local to city"
    when = ws.cell(row=2, column=column_of(ws, "Provisioned At"))
    assert isinstance(when.value, datetime) and when.is_date
    moment = datetime.fromisoformat("2026-03-04T15:00:12+00:00").astimezone()
    assert when.value == moment.replace(tzinfo=None)
    summary = openpyxl.load_workbook(written(make_workbook_path(tmp_path), tmp_path))["Summary"]
    started = next(r[1] for r in summary.iter_rows(values_only=True) if r[0] == "Started")
    assert isinstance(started, datetime)


def test_output_read_again_finds_its_results_and_keeps_its_numbers(tmp_path: Path) -> None:
    """The new layout is still a valid input: result columns recognised, the number kept."""
    out = written(make_workbook_path(tmp_path), tmp_path)
    table = read_table(out)
    mapped = map_columns(table.headers)
    assert set(mapped.results) == set(RESULT_HEADERS)
    assert mapped.fields["match_type"] == "Match Type"
    checked = check_file(out)
    assert [r.owned for r in checked.rows] == [True, False, False]
    assert checked.rows[0].previous is not None
    assert checked.rows[0].previous.tracking_number == "2898122093"


def test_needs_attention_holds_only_invalid_and_failed_rows(tmp_path: Path) -> None:
    """The sheet holds the invalid and failed rows in the input layout, marked, and readable."""
    out = written(make_workbook_path(tmp_path), tmp_path)
    ws = openpyxl.load_workbook(out)["Needs attention"]
    assert "2 rows need attention" in str(ws["A1"].value)
    assert [c.value for c in ws[2]][: len(HEADERS)] == list(HEADERS)
    assert [ws.cell(row=r, column=1).value for r in (3, 4)] == [ROWS[1][0], ROWS[2][0]]
    status = column_of(ws, "Status", 2)
    assert [ws.cell(row=r, column=status).value for r in (3, 4)] == ["invalid", "failed"]
    city = HEADERS.index("City") + 1
    assert ws.cell(row=3, column=city).comment is not None  # the problem cell is marked
    assert ws.cell(row=3, column=ws.max_column).value == 3  # its row on the data sheet
    table = read_table(out, sheet="Needs attention")
    assert (table.header_row, len(table)) == (2, 2)
    again = check_file(out, config=RunConfig(sheet="Needs attention"))
    assert [r.owned for r in again.rows] == [False, False]


def test_needs_attention_says_so_when_nothing_does(tmp_path: Path) -> None:
    """When every row is fine the sheet says so and holds no row."""
    table = text_table(tmp_path / "in.csv")
    results = [RowResult(i, r, Status.VALID) for i, r in enumerate(table.excel_rows)]
    out = tmp_path / "out.xlsx"
    write_output(table, results, (), info(mode="validate"), out)
    ws = openpyxl.load_workbook(out)["Needs attention"]
    assert "no row needs attention" in str(ws["A1"].value)
    assert ws.max_row == 2


def test_sandbox_numbers_say_sandbox_and_are_never_taken_as_bought(tmp_path: Path) -> None:
    """A sandbox run's Status reads 'provisioned (sandbox)'; read again, the row owns nothing."""
    out = written(make_workbook_path(tmp_path), tmp_path, sandbox=True)
    ws = data_sheet(out)
    assert ws.cell(row=2, column=column_of(ws, "Status")).value == "provisioned (sandbox)"
    assert ws.cell(row=3, column=column_of(ws, "Status")).value == "invalid"
    rules = [r.formula[0] for area in ws.conditional_formatting for r in area.rules]
    assert any('"provisioned (sandbox)"' in f for f in rules)  # coloured like provisioned
    assert [r.owned for r in check_file(out).rows] == [False, False, False]


def make_workbook_path(tmp_path: Path) -> Path:
    path = tmp_path / "advertisers.xlsx"
    if not path.exists():
        make_workbook(path)
    return path


def _result_headers(out: Path) -> list[str]:
    """The result columns of a written workbook's data sheet, in order."""
    ws = openpyxl.load_workbook(out).worksheets[0]
    texts = [str(c.value or "") for c in ws[1]]
    return texts[texts.index("Status") :]


def test_checks_and_dry_runs_leave_out_the_purchase_columns(tmp_path: Path) -> None:
    """Validate and dry run write no column only a purchase can fill; a run writes them all."""
    from batchprov.pipeline import run_file, validate_file
    from batchprov.sandbox import sandbox_session

    source = make_workbook_path(tmp_path)
    validate_file(source, tmp_path / "v.xlsx")
    assert _result_headers(tmp_path / "v.xlsx") == [
        "Status",
        "Error",
        "Warnings",
        "Ordered As",
        "Expected Area",
    ]
    run_file(source, tmp_path / "p.xlsx", config=RunConfig(dry_run=True))
    assert _result_headers(tmp_path / "p.xlsx")[-2:] == ["Expected Area", "Request Body"]
    assert "Tracking Number" not in _result_headers(tmp_path / "p.xlsx")
    with sandbox_session() as session:
        run_file(source, tmp_path / "r.xlsx", api=session.api)
    assert _result_headers(tmp_path / "r.xlsx") == [*RESULT_HEADERS, "Expected Area"]


def test_a_check_of_a_results_workbook_carries_its_purchases_over(tmp_path: Path) -> None:
    """Validating (or planning) a results workbook keeps its purchase columns, unchanged."""
    from batchprov.pipeline import run_file, validate_file

    table = table_of(make_workbook_path(tmp_path))
    results = tmp_path / "results.xlsx"
    write_output(table, standard_results(table), (), info(), results)
    before = read_table(results)
    for out, run in [
        (tmp_path / "v.xlsx", lambda o: validate_file(results, o)),
        (tmp_path / "p.xlsx", lambda o: run_file(results, o, config=RunConfig(dry_run=True))),
    ]:
        run(out)
        assert _result_headers(out)[: len(RESULT_HEADERS)] == list(RESULT_HEADERS)
        after = read_table(out)
        for header in ("Tracking Number", "Number ID", "Route ID", "Provisioned At"):
            assert after.frame[header].iloc[0] == before.frame[header].iloc[0] != "", header
        assert after.frame["Status"].iloc[0] == "already provisioned"


def test_printed_sheets_are_landscape_with_the_header_on_every_page(tmp_path: Path) -> None:
    """Printed, the data and Needs attention sheets repeat their header row (the data sheet
    its first column too) and stop at the last result column; Summary and Errors fit one page
    wide; the user's own print setup is kept."""
    wb = openpyxl.load_workbook(written(make_workbook_path(tmp_path), tmp_path))
    data, attention = wb["Advertisers"], wb["Needs attention"]
    assert data.page_setup.orientation == "landscape"
    assert (data.print_title_rows, data.print_title_cols) == ("$1:$1", "$A:$A")
    assert data.print_area == f"'Advertisers'!$A$1:${data.cell(1, data.max_column).column_letter}$4"
    assert (attention.print_title_rows, attention.print_title_cols) == ("$2:$2", None)
    for name in ("Summary", "Errors"):
        ws = wb[name]
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), name
    path = tmp_path / "own.xlsx"
    make_workbook(path)
    own = openpyxl.load_workbook(path)
    own.active.page_setup.orientation = "portrait"  # type: ignore[union-attr]
    own.save(path)
    kept = data_sheet(written(path, tmp_path))
    assert (kept.page_setup.orientation, kept.print_title_rows) == ("portrait", None)


def test_needs_attention_filter_covers_the_row_column(tmp_path: Path) -> None:
    """The filter of the Needs attention sheet reaches its last column (the data sheet row)."""
    ws = openpyxl.load_workbook(written(make_workbook_path(tmp_path), tmp_path))["Needs attention"]
    last = ws.cell(2, ws.max_column)
    assert str(last.value).startswith("Row on ")
    assert ws.auto_filter.ref == f"A2:{last.column_letter}4"


def test_errors_sheet_rows_grow_for_wrapped_messages(tmp_path: Path) -> None:
    """A message longer than its column is wrapped in a row tall enough to show all of it."""
    table = table_of(make_workbook_path(tmp_path))
    long = "the city is not served here; " * 12
    issues = [Issue(2, "City", "x", "short"), Issue(3, "City", "Atlanta", long)]
    out = tmp_path / "out.xlsx"
    write_output(table, standard_results(table), issues, info(), out)
    ws = openpyxl.load_workbook(out)["Errors"]
    assert ws.row_dimensions[2].height is None
    assert (ws.row_dimensions[3].height or 0) >= 15.0 * 4


def test_line_count_wraps_at_words() -> None:
    """Lines are counted as a spreadsheet wraps them: at spaces, each line break kept."""
    from batchprov.write.styles import line_count

    assert line_count("short", 50) == 1
    assert line_count("word " * 40, 20) >= 9
    assert line_count("one\ntwo\nthree", 50) == 3


def test_a_rerun_prints_its_new_result_columns(tmp_path: Path) -> None:
    """Running a checked workbook adds the purchase columns; the print area grows with them."""
    from batchprov.pipeline import run_file, validate_file
    from batchprov.sandbox import sandbox_session

    checked = tmp_path / "v.xlsx"
    validate_file(make_workbook_path(tmp_path), checked)
    with sandbox_session() as session:
        run_file(checked, tmp_path / "r.xlsx", api=session.api)
    ws = data_sheet(tmp_path / "r.xlsx")
    assert ws.print_area == f"'Advertisers'!$A$1:${ws.cell(1, ws.max_column).column_letter}$4"
