"""Outputs never run what they hold: CSV formulas neutralised, xlsx text as text, columns fit."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from batchprov.errors import ConfigError
from batchprov.pipeline import validate_file
from batchprov.read.files import read_table
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
