"""Cells that look fine and are not: invisible characters, uncalculated formulas, dates, floats."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_checks import BASE, HEADER_ROW, LOCAL, check, make_table

from batchprov.check.checker import FIELDS, UNCALCULATED, check_table
from batchprov.check.excelnum import excel_digits
from batchprov.check.parsers import parse_filter, parse_group_id
from batchprov.check.phones import check_phone
from batchprov.models import Parsed, Severity


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("ABC\u200b", "name contains a zero-width space (U+200B) after 'ABC'"),
        ("AB\x07C", "name contains a control character (U+0007) after 'AB'"),
        ("\u202eABC", "name contains a right-to-left override (U+202E) at the start"),
        ("A\ufeffB", "name contains a zero-width no-break space (U+FEFF) after 'A'"),
        ("A\u200bB\u200dC", "after 'A' (and 1 more such character); delete them"),
    ],
)
def test_invisible_characters_in_a_name_make_the_row_invalid(name: str, shown: str) -> None:
    """Zero-width, control and bidi characters in a name are an error that shows them."""
    outcome = check([{**BASE, "name": name, "match_type": "tollfree"}])
    assert outcome.rows[0].order is None
    assert any(shown in issue.message for issue in outcome.issues), outcome.issues


@pytest.mark.parametrize("field", ["city", "recording_message", "whisper_message"])
def test_invisible_characters_in_other_sent_texts_are_errors(field: str) -> None:
    """City and message texts, which are sent too, are held to the same rule."""
    row = {**BASE, "city": "Atlanta", "state": "GA", field: "Hello\u200bthere"}
    outcome = check([row])
    assert outcome.rows[0].order is None
    assert [f"{field} contains a zero-width space (U+200B) after 'Hello'"] == [
        i.message.split(";")[0] for i in outcome.issues if i.severity is Severity.ERROR
    ]


def test_only_the_row_holding_an_invisible_character_is_refused() -> None:
    """Among many clean rows, the one name with a zero-width space is the only one refused."""
    rows = [{**BASE, "name": f"Shop {i}", "match_type": "tollfree"} for i in range(30)]
    rows[17]["name"] = "Shop\u200b 17"
    outcome = check(rows)
    assert [row.order is None for row in outcome.rows] == [i == 17 for i in range(30)]
    assert [issue.row for issue in outcome.issues] == [outcome.rows[17].excel_row]


def test_ordinary_accents_and_spaces_are_not_invisible() -> None:
    """Accented letters, non-breaking spaces and emoji are ordinary text."""
    outcome = check([{**BASE, "name": "Café\u00a0Montréal 🍕", "match_type": "tollfree"}])
    assert outcome.rows[0].order is not None


def test_an_uncalculated_formula_is_not_reported_as_missing() -> None:
    """A formula cell without a cached value gets its own message, not "is required"."""
    table = make_table([{**LOCAL, "termination_number": "", "name": "Other"}, LOCAL])
    column = FIELDS.index("termination_number") + 1
    table = replace(table, uncalculated=((HEADER_ROW + 1, column),))
    outcome = check_table(table, {field: field for field in FIELDS})
    assert outcome.rows[0].order is None and outcome.rows[1].order is not None
    assert [(HEADER_ROW + 1, "termination_number", UNCALCULATED)] == [
        (i.row, i.column, i.message) for i in outcome.issues
    ]


def test_an_uncalculated_formula_in_an_optional_column_is_an_error() -> None:
    """A filter that was never calculated would be dropped silently; the row is refused."""
    table = make_table([LOCAL])
    column = FIELDS.index("number_match_filter") + 1
    table = replace(table, uncalculated=((HEADER_ROW + 1, column),))
    outcome = check_table(table, {field: field for field in FIELDS})
    assert outcome.rows[0].order is None
    assert [UNCALCULATED] == [i.message for i in outcome.issues]


@pytest.mark.parametrize("cell", ["2024-03-05", "2024-03-05T00:00:00"])
def test_a_date_in_a_phone_cell_says_so(cell: str) -> None:
    """A date (Excel turned the typed digits into one) is named, not counted as 8 digits."""
    assert check_phone(cell).problem == (
        "this cell holds a date (2024-03-05), not a phone number; "
        "format the column as Text and retype it"
    )


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("9056372046", "9056372046"),
        ("9056372046.0", "9056372046"),
        ("289.", "289"),
        ("9.056372046E+09", "9056372046"),
        ("1.1623282e7", "11623282"),
        ("1.5", None),
        ("+289", None),
        ("9.05E+20", "905" + "0" * 18),
        ("9.05E+99", None),
        ("1E+5000", None),
        ("9" * 5000, None),
    ],
)
def test_excel_digits(text: str, digits: str | None) -> None:
    """Excel's float spellings of whole numbers give their digits; anything else gives None."""
    assert digits == excel_digits(text)


def test_every_parser_undoes_excel_floats_alike() -> None:
    """Phones, group ids and filters all read Excel's float and exponent spellings."""
    assert "9056372046" == check_phone("9.056372046E+09").number
    assert Parsed(11623282) == parse_group_id("1.1623282E+07")
    assert Parsed("289") == parse_filter("2.89E+02")


@pytest.mark.parametrize("text", ["1E+5000", "9" * 5000, "1" * 4400 + ".0"])
def test_huge_numbers_never_crash_a_parser(text: str) -> None:
    """Texts that would become enormous integers get a message, never an exception."""
    assert check_phone(text).problem
    assert parse_group_id(text).problem
    assert parse_filter(text).problem
