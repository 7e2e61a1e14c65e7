"""Outputs never run what they hold: CSV formulas neutralised, xlsx text as text, columns fit."""

from __future__ import annotations

import csv
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hostile_files import beyond_last_row_xlsx
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.errors import ConfigError
from batchprov.models import Issue, Table
from batchprov.pipeline import validate_file
from batchprov.read.files import read_table
from batchprov.write import columns, reports
from batchprov.write.columns import MAX_ROWS, check_attention_room
from batchprov.write.output import MAX_COLUMNS, check_room, csv_safe

FORMULAS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_starts_get_a_leading_quote(text: str) -> None:
    """A cell starting with = + - @ tab or CR is written behind a '."""
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["", "ABC", "9056372046", "'=already", " =1", "a=b"])
def test_other_cells_are_unchanged(text: str) -> None:
    """Only the first character matters; anything else is written as is."""
    assert csv_safe(text) == text


def wide_sheet(path: Path, last: int) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for column, header in enumerate(["name", "group_id", "match_type", "local_to_number"], 1):
        ws.cell(row=1, column=column, value=header)
        ws.cell(row=2, column=column, value="x")
    ws.cell(row=1, column=last, value="Notes")
    ws.cell(row=2, column=last, value="far")
    wb.save(path)
    return path


def test_results_past_xfd_are_refused(tmp_path: Path) -> None:
    """Result columns that would end past column 16,384 are a ConfigError naming XFD."""
    table = read_table(wide_sheet(tmp_path / "wide.xlsx", MAX_COLUMNS - 3))
    with pytest.raises(ConfigError, match="XFD"):
        check_room(table, tmp_path / "out.xlsx")


def test_results_that_just_fit_are_accepted(tmp_path: Path) -> None:
    """Room for every result column: no error; a CSV output has no column limit at all."""
    table = read_table(wide_sheet(tmp_path / "wide.xlsx", MAX_COLUMNS - 30))
    check_room(table, tmp_path / "out.xlsx")
    wide = read_table(wide_sheet(tmp_path / "wider.xlsx", MAX_COLUMNS))
    check_room(wide, tmp_path / "out.csv")


def test_validate_writes_formula_text_as_strings(tmp_path: Path) -> None:
    """Sheet cells such as =HYPERLINK(...) come back in the xlsx as text, never formulas."""
    src = tmp_path / "in.csv"
    src.write_text(
        "name,group_id,match_type,local_to_number,termination_number,Notes\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",5,localtonumber,9056372046,4165551234,'
        "+cmd|' /C calc'!A0\n"
    )
    report = validate_file(src, tmp_path / "out.xlsx")
    assert report.output_path is not None
    with zipfile.ZipFile(report.output_path) as zf:
        sheets = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets)
    ws = openpyxl.load_workbook(report.output_path).worksheets[0]
    values = [c.value for row in ws.iter_rows() for c in row]
    assert "+cmd|' /C calc'!A0" in values
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_a_row_past_excel_s_last_row_is_refused_for_a_workbook_only(tmp_path: Path) -> None:
    """A data row at 1,048,577 is a ConfigError for an .xlsx output; a .csv output holds it."""
    table = read_table(beyond_last_row_xlsx(tmp_path))
    with pytest.raises(ConfigError, match="1,048,577.*Split the file.*csv"):
        check_room(table, tmp_path / "out.xlsx")
    check_room(table, tmp_path / "out.csv")


def test_a_hidden_row_past_the_last_row_counts_too(tmp_path: Path) -> None:
    """A hidden row is kept on the data sheet of a workbook output: it must fit as well."""
    table = read_table(wide_sheet(tmp_path / "in.xlsx", 10))
    with pytest.raises(ConfigError, match="1,048,577"):
        check_room(replace(table, hidden_rows=(MAX_ROWS + 1,)), tmp_path / "out.xlsx")
    check_room(replace(table, hidden_rows=(MAX_ROWS,)), tmp_path / "out.xlsx")


def long_table(tmp_path: Path, rows: int) -> Table:
    """A table of ``rows`` rows (header on row 1, every row filled), built without a file."""
    frame = pd.DataFrame({"name": ["x"] * rows, "group_id": ["5"] * rows})
    return Table(
        path=tmp_path / "in.csv",
        format="csv",
        sheet="in",
        headers=("name", "group_id"),
        columns=(1, 2),
        header_row=1,
        frame=frame,
        excel_rows=tuple(range(2, rows + 2)),
    )


def test_needs_attention_must_hold_every_row_under_its_title(tmp_path: Path) -> None:
    """A sheet filled to its last row fits the data sheet, not the Needs attention sheet."""
    full = long_table(tmp_path, MAX_ROWS - 1)  # rows 2 to 1,048,576
    with pytest.raises(ConfigError, match="Needs attention sheet.*1,048,577"):
        check_room(full, tmp_path / "out.xlsx")
    with pytest.raises(ConfigError, match="--failed-only workbook.*failed.csv"):
        check_attention_room(full, tmp_path / "failed.xlsx", failed_only=True)
    check_attention_room(full, tmp_path / "failed.csv", failed_only=True)
    check_room(long_table(tmp_path, MAX_ROWS - 2), tmp_path / "out.xlsx")


def test_validate_refuses_a_failed_only_workbook_that_may_not_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--failed-only to an .xlsx is checked for room before anything is written (a short sheet)."""
    monkeypatch.setattr(columns, "MAX_ROWS", 10)
    src = tmp_path / "in.csv"
    src.write_text("name,group_id,termination_number\n" + "x,5,\n" * 9)
    with pytest.raises(ConfigError, match="--failed-only workbook"):
        validate_file(src, tmp_path / "out.csv", failed_only=tmp_path / "failed.xlsx")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "failed.xlsx").exists()
    validate_file(src, tmp_path / "out.csv", failed_only=tmp_path / "failed.csv")
    with (tmp_path / "failed.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == 10


def test_the_errors_sheet_says_how_many_problems_it_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a sheet's last row, the Errors sheet's last line counts the problems not listed."""
    monkeypatch.setattr(reports, "ERRORS_LIMIT", 5)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    reports.write_errors(ws, [Issue(r, "name", "", f"problem {r}") for r in range(2, 12)], [])
    assert ws.max_row == 6
    assert [ws.cell(row=r, column=4).value for r in range(2, 6)] == [
        f"problem {r}" for r in range(2, 6)
    ]
    assert str(ws.cell(row=6, column=4).value).startswith("6 more problems are not listed")
