"""The locality preview (`Expected Area`): the place and area codes of each valid row."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batchprov.config import RunConfig
from batchprov.models import MatchType, OrderRequest, Status
from batchprov.numbering.area import locality_of
from batchprov.pipeline import run_file, validate_file

LTN, LTC, TF = MatchType.LOCAL_TO_NUMBER, MatchType.LOCAL_TO_CITY, MatchType.TOLLFREE
ALL_TOLLFREE = "toll-free (800, 833, 844, 855, 866, 877, 888)"
HEADERS = ["name", "group_id", "match_type", "local_to_number", "city", "state"]
HEADERS += ["number_match_filter", "termination_number"]


def order(match_type: MatchType, **fields: Any) -> OrderRequest:
    """An order of the given match type and location fields."""
    return OrderRequest(
        group_id=11623282,
        name="ABC Company",
        match_type=match_type,
        termination_number="4165551234",
        **fields,
    )


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV input with the canonical headers."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADERS)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow(
                {"name": f"Row {i}", "group_id": "11623282", "termination_number": "4165551234"}
                | row
            )
    return path


def sheet_column(path: Path, header: str) -> list[Any]:
    """The values of one column of the output's data sheet, below its header."""
    ws = openpyxl.load_workbook(path).worksheets[0]
    headers = [c.value for c in ws[1]]
    column = headers.index(header) + 1
    return [ws.cell(row=r, column=column).value for r in range(2, ws.max_row + 1)]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"local_to_number": "9056372046"}, "Burlington, ON (289, 905)"),
        ({"local_to_number": "9056372046", "number_match_filter": "289"}, "Burlington, ON (289)"),
        (
            {"local_to_number": "9056372046", "number_match_filter": "905637"},
            "Burlington, ON (905-637)",
        ),
        ({"local_to_number": "9052000000"}, "Ontario (905)"),
    ],
    ids=["place", "overlay-filter", "exchange-filter", "region-only"],
)
def test_local_to_number_preview(fields: dict[str, str], text: str) -> None:
    """localtonumber: the rate centre of the number, its area codes (overlays too), the filter's."""
    assert locality_of(order(LTN, **fields)).text() == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"city": "Toronto", "state": "ON"}, "Toronto, ON (416, 437, 942)"),
        ({"city": "toronto", "state": "ON", "number_match_filter": "437"}, "Toronto, ON (437)"),
        ({"city": "Mississauga", "state": "ON"}, "Mississauga, ON (905)"),
        ({"city": "Atlanta", "state": "GA"}, "Atlanta, GA (404, 678, 770)"),
    ],
    ids=["overlays", "overlay-filter", "canadian-city", "us-city"],
)
def test_local_to_city_preview(fields: dict[str, str], text: str) -> None:
    """localtocity: the city's area codes, every overlay included, or the filter's."""
    assert locality_of(order(LTC, **fields)).text() == text


def test_tollfree_preview() -> None:
    """tollfree: every toll-free area code, or the filter's."""
    assert locality_of(order(TF)).text() == ALL_TOLLFREE
    assert locality_of(order(TF, number_match_filter="888")).text() == "toll-free (888)"
    assert locality_of(order(TF)).area_codes() == "any toll-free"


def test_unserved_filter_is_a_problem_in_the_warning_words() -> None:
    """A filter the place has no exchange of: shown in the text, explained like the warning."""
    found = locality_of(order(LTN, local_to_number="9056372046", number_match_filter="212"))
    assert found.text() == "Burlington, ON (289, 905) — filter 212 not served here"
    assert found.problem == "filter 212 is not an area code of Burlington, ON (289, 905)"
    assert found.expected_codes == ()


def test_unknown_city_suggests_the_closest_names() -> None:
    """A city the data does not know in its province: the problem names the closest one."""
    found = locality_of(order(LTC, city="Missisauga", state="ON"))
    assert found.text() == "Missisauga, ON (not in the numbering-plan data)"
    assert found.problem == (
        "city 'Missisauga' not found in ON in the numbering-plan data (did you mean Mississauga?)"
    )


def test_known_places_have_no_problem() -> None:
    """Rows the data can serve carry no problem, so the plan does not flag them."""
    for found in (
        locality_of(order(LTN, local_to_number="9056372046", number_match_filter="289")),
        locality_of(order(LTC, city="Burlington", state="Ontario")),
        locality_of(order(TF, number_match_filter="833")),
    ):
        assert found.problem == ""


def test_validate_writes_expected_area_and_reused_warnings(tmp_path: Path) -> None:
    """validate fills Expected Area per valid row; the place warnings appear once, unchanged."""
    source = write_csv(
        tmp_path / "in.csv",
        [
            {"local_to_number": "(905) 637-2046"},
            {"local_to_number": "9056372046", "number_match_filter": "212"},
            {"city": "Missisauga", "state": "Ontario"},
            {"match_type": "tollfree"},
            {"local_to_number": "123"},
        ],
    )
    out = tmp_path / "out.xlsx"
    report = validate_file(source, output=out)
    assert [r.expected_area for r in report.results] == [
        "Burlington, ON (289, 905)",
        "Burlington, ON (289, 905) — filter 212 not served here",
        "Missisauga, ON (not in the numbering-plan data)",
        ALL_TOLLFREE,
        None,
    ]
    assert report.results[4].status is Status.INVALID
    assert sheet_column(out, "Expected Area")[:4] == [r.expected_area for r in report.results[:4]]
    warnings = [w for r in report.results for w in r.warnings]
    assert warnings == [
        "number_match_filter: filter 212 is not an area code of Burlington, ON (289, 905)",
        "city: city 'Missisauga' not found in ON in the numbering-plan data "
        "(did you mean Mississauga?)",
    ]


def test_dry_run_writes_expected_area_beside_the_request_body(tmp_path: Path) -> None:
    """A dry run writes Expected Area, then Request Body."""
    source = write_csv(tmp_path / "in.csv", [{"city": "Toronto", "state": "ON"}])
    out = tmp_path / "out.xlsx"
    report = run_file(source, output=out, config=RunConfig(dry_run=True))
    ws = openpyxl.load_workbook(out).worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers[-2:] == ["Expected Area", "Request Body"]
    assert report.results[0].expected_area == "Toronto, ON (416, 437, 942)"
