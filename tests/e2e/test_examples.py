"""The shipped examples: the good one validates cleanly, the bad one shows each planted mistake."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from batchprov import validate_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: (Excel row, column header, words the cell's comment must contain)
PLANTED = [
    (5, "Advertiser Name", "Duplicate name 'Kitsilano Veterinary Clinic'"),
    (6, "Advertiser Name", "Duplicate name 'Kitsilano Veterinary Clinic'"),
    (9, "Province", "unknown state/province 'Albrta'"),
    (10, "City", "City is needed for a number local to a city"),
    (11, "Area Code", "filter 800 is a toll-free area code"),
    (13, "Ring To", "411 is a service code, like 911, not an area code"),
    (14, "Ring To", "7 digits"),
    (15, "Area Code", "must be an area code (3 digits"),
]


@pytest.fixture(scope="module")
def needs_fixing(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    out = tmp_path_factory.mktemp("nf") / "out.xlsx"
    report = validate_file(EXAMPLES / "needs_fixing.xlsx", output=out)
    assert 1 == report.exit_code
    return openpyxl.load_workbook(out)


def test_good_example_is_all_valid(tmp_path: Path) -> None:
    """examples/advertisers.xlsx: every row valid, no warning, exit 0."""
    report = validate_file(EXAMPLES / "advertisers.xlsx", output=tmp_path / "o.xlsx")
    assert {"valid": 26} == report.counts()
    assert [] == [i for i in report.issues]
    assert 0 == report.exit_code


def test_csv_example_matches_the_workbook(tmp_path: Path) -> None:
    """examples/advertisers.csv holds the same valid rows as the workbook."""
    report = validate_file(EXAMPLES / "advertisers.csv", output=tmp_path / "o.xlsx")
    assert {"valid": 26} == report.counts()


@pytest.mark.parametrize(
    ("row", "header", "words"), PLANTED, ids=[f"{r}-{h}" for r, h, _ in PLANTED]
)
def test_each_planted_mistake_is_on_its_cell(
    needs_fixing: openpyxl.Workbook, row: int, header: str, words: str
) -> None:
    """Each planted mistake's cell is filled and carries a comment saying what is wrong."""
    sheet = needs_fixing.worksheets[0]
    headers = [c.value for c in sheet[3]]
    cell = sheet.cell(row=row, column=headers.index(header) + 1)
    assert cell.comment is not None and words in cell.comment.text
    assert cell.fill.fgColor.rgb not in (None, "00000000")
    assert "invalid" == sheet.cell(row=row, column=headers.index("Status") + 1).value


def test_needs_fixing_lists_every_problem_on_the_errors_sheet(
    needs_fixing: openpyxl.Workbook,
) -> None:
    """The Errors sheet has one line per planted mistake, with row, column and message."""
    lines = list(needs_fixing["Errors"].iter_rows(min_row=2, values_only=True))
    found = {(line[0], line[1]) for line in lines if line[0] is not None}
    assert {(r, h) for r, h, _ in PLANTED} <= found
