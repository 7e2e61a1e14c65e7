"""The blank input template: what it holds, and that the committed copy is up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.check.checker import check_table
from batchprov.read.files import read_table
from batchprov.read.headers import CANONICAL_FIELDS, map_columns
from batchprov.write.template import FIXED_TIME, PREPARED_ROWS, write_template

COMMITTED = Path(__file__).resolve().parents[2] / "templates" / "advertisers_template.xlsx"
HEADERS = [
    "Advertiser",
    "Group ID",
    "Match type",
    "Local to number",
    "City",
    "State/Province",
    "Area code filter",
    "Forward calls to",
    "Routing",
    "Record calls",
    "Recording message",
    "Whisper message",
    "If no number matches",
]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("template") / "template.xlsx")


@pytest.fixture(scope="module")
def book(fresh: Path) -> Workbook:
    return openpyxl.load_workbook(fresh)


def sheet(book: Workbook, name: str) -> Worksheet:
    ws = book[name]
    assert isinstance(ws, Worksheet)
    return ws


def cells(ws: Worksheet) -> dict[str, tuple[Any, ...]]:
    """Every cell's value, comment and number format, by coordinate."""
    return {
        c.coordinate: (c.value, c.comment.text if c.comment else None, c.number_format)
        for row in ws.iter_rows()
        for c in row
    }


def validations(ws: Worksheet) -> list[tuple[str, str | None, str | None, str | None]]:
    return [
        (str(dv.sqref), dv.type, dv.formula1, dv.errorStyle)
        for dv in ws.data_validations.dataValidation
    ]


def test_committed_template_is_what_write_template_makes(fresh: Path) -> None:
    """templates/advertisers_template.xlsx equals a fresh template, cell by cell."""
    mine, committed = openpyxl.load_workbook(fresh), openpyxl.load_workbook(COMMITTED)
    assert mine.sheetnames == committed.sheetnames
    for name in mine.sheetnames:
        new, old = sheet(mine, name), sheet(committed, name)
        assert cells(new) == cells(old), f"sheet {name} differs; run write_template again"
        assert validations(new) == validations(old)
        assert (new.sheet_state, new.freeze_panes) == (old.sheet_state, old.freeze_panes)
        assert new.merged_cells.ranges == old.merged_cells.ranges


def test_template_reads_back_with_plain_headers_mapped_to_every_field(fresh: Path) -> None:
    """Read as an input, the template's plain-word headers map to every field, in order."""
    table = read_table(fresh)
    assert (table.sheet, table.header_row) == ("Advertisers", 1)
    assert list(table.headers) == HEADERS
    fields = map_columns(table.headers).fields
    assert list(fields) == list(CANONICAL_FIELDS)
    assert list(fields.values()) == HEADERS


def test_data_sheet_is_empty_so_nothing_is_ordered_by_accident(fresh: Path) -> None:
    """The sheet that is read holds no rows: the examples cannot be ordered."""
    assert len(read_table(fresh)) == 0
    assert len(read_table(fresh, sheet="Advertisers")) == 0


def test_examples_sheet_holds_one_valid_row_per_match_type(fresh: Path) -> None:
    """The Examples sheet has the documentation's three requests, in plain words, all valid."""
    table = read_table(fresh, sheet="Examples")
    fields = map_columns(table.headers).fields
    rows = [{f: r[h] for f, h in fields.items()} for r in table.frame.to_dict("records")]
    assert [r["match_type"] for r in rows] == ["Local to number", "Local to city", "Toll-free"]
    assert (rows[0]["local_to_number"], rows[0]["number_match_filter"]) == ("9056372046", "289")
    assert (rows[0]["termination_number"], rows[0]["group_id"]) == ("4165551234", "11623282")
    assert (rows[1]["city"], rows[1]["state"], rows[1]["number_match_filter"]) == (
        "Atlanta",
        "GA",
        "404",
    )
    assert (rows[2]["number_match_filter"], rows[2]["termination_number"]) == ("833", "4043993433")
    assert len({r["name"] for r in rows}) == 3
    outcome = check_table(table, fields)
    assert outcome.issues == ()
    assert [r.order.match_type.value for r in outcome.rows if r.order] == [
        "localtonumber",
        "localtocity",
        "tollfree",
    ]


def test_every_header_explains_itself(book: Workbook) -> None:
    """Each header cell carries a comment saying whether it is required, and what it holds."""
    for cell in sheet(book, "Advertisers")[1]:
        assert cell.comment is not None, cell.value
        assert cell.comment.text.startswith(f"{cell.value} (")
        assert "REQUIRED" in cell.comment.text or "OPTIONAL" in cell.comment.text


def test_dropdowns_cover_the_prepared_rows(book: Workbook) -> None:
    """Match type, State/Province, Routing and Record calls offer drop-down lists."""
    last = PREPARED_ROWS + 1
    assert validations(sheet(book, "Advertisers")) == [
        (f"C2:C{last}", "list", '"Local to number,Local to city,Toll-free"', "warning"),
        (f"F2:F{last}", "list", "Lists!$A$2:$A$65", "warning"),
        (f"I2:I{last}", "list", '"Basic"', "warning"),
        (f"J2:J{last}", "list", '"yes,no"', "warning"),
    ]


def test_state_list_lives_on_a_hidden_sheet(book: Workbook) -> None:
    """The hidden Lists sheet holds the 51 US codes (with DC) and the 13 Canadian ones."""
    lists = sheet(book, "Lists")
    assert lists.sheet_state == "hidden"
    codes = [c.value for c in lists["A"][1:]]
    assert len(codes) == len(set(codes)) == 64
    assert {"GA", "DC", "ON", "QC", "YT", "NU"} <= set(codes)


def test_phone_columns_are_formatted_as_text(book: Workbook) -> None:
    """Group ID, Local to number, Area code filter and Forward calls to are text cells."""
    ws = sheet(book, "Advertisers")
    for letter in "BDGH":
        formats = {ws[f"{letter}{row}"].number_format for row in range(2, PREPARED_ROWS + 2)}
        assert formats == {"@"}, letter
    assert ws["E2"].number_format == "General"


def test_header_row_is_frozen_and_first(book: Workbook) -> None:
    """Advertisers comes first with a frozen header; Examples, Instructions, hidden Lists."""
    assert book.sheetnames == ["Advertisers", "Examples", "Instructions", "Lists"]
    assert sheet(book, "Examples").freeze_panes == "A3"  # under its title row
    assert sheet(book, "Advertisers").freeze_panes == "A2"
    assert sheet(book, "Advertisers").column_dimensions["A"].width >= 20


def test_instructions_explain_match_types_commands_and_results(book: Workbook) -> None:
    """Instructions name the three match types, the commands and the result columns."""
    text = " ".join(str(c.value) for row in sheet(book, "Instructions").iter_rows() for c in row)
    for needed in ("Local to number", "Local to city", "Toll-free", "batchprov validate"):
        assert needed in text
    assert "batchprov run" in text and "--sandbox" in text
    assert "Tracking Number" in text and "never changed" in text
    assert "advertisers.checked.xlsx" in text and "advertisers.sandbox.results.xlsx" in text
    assert "localtonumber" not in text and "termination_number" not in text


def test_file_properties_are_fixed(book: Workbook) -> None:
    """Created and modified times are fixed, so the output does not depend on the clock."""
    assert (book.properties.created, book.properties.modified) == (FIXED_TIME, FIXED_TIME)


def test_write_template_replaces_atomically(tmp_path: Path) -> None:
    """write_template returns its path, replaces an old file and leaves no temporary file."""
    out = tmp_path / "t.xlsx"
    out.write_bytes(b"old")
    assert write_template(out) == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.xlsx"]
    assert sheet(openpyxl.load_workbook(out), "Advertisers")["A1"].value == "Advertiser"
