"""Tests for batchprov.check.checker: every rule of docs/design.md §2.2, message and verdict."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchprov.check.checker import FIELDS, CheckOutcome, check_table
from batchprov.models import CheckedRow, Issue, MatchType, Severity, Table

ERROR, WARNING = Severity.ERROR, Severity.WARNING
LTN, LTC, TF = MatchType.LOCAL_TO_NUMBER, MatchType.LOCAL_TO_CITY, MatchType.TOLLFREE
HEADER_ROW = 3  # data starts on Excel row 4, as below a title and a blank row

BASE = {"name": "ABC Company", "group_id": "11623282", "termination_number": "4165551234"}
LOCAL = {**BASE, "local_to_number": "9056372046"}
CITY = {**BASE, "city": "atlanta", "state": "ga"}
TOLLFREE = {**BASE, "match_type": "tollfree"}


def make_table(rows: list[dict[str, str]], headers: dict[str, str] | None = None) -> Table:
    """A Table whose columns are the canonical fields (or ``headers``' texts), all str."""
    headers = headers or {field: field for field in FIELDS}
    frame = pd.DataFrame(
        [{headers[field]: row.get(field, "") for field in headers} for row in rows],
        columns=list(headers.values()),
        dtype=str,
    )
    return Table(
        path=Path("advertisers.xlsx"),
        format="xlsx",
        sheet="Sheet1",
        headers=tuple(frame.columns),
        columns=tuple(range(1, len(frame.columns) + 1)),
        header_row=HEADER_ROW,
        frame=frame,
        excel_rows=tuple(range(HEADER_ROW + 1, HEADER_ROW + 1 + len(frame))),
    )


def check(
    rows: list[dict[str, str]],
    headers: dict[str, str] | None = None,
    default_group_id: int | None = None,
) -> CheckOutcome:
    """check_table on rows given as canonical field → cell text."""
    headers = headers or {field: field for field in FIELDS}
    return check_table(make_table(rows, headers), headers, default_group_id=default_group_id)


def messages(outcome: CheckOutcome, severity: Severity | None = None) -> list[str]:
    """The messages found, in order, optionally of one severity."""
    return [i.message for i in outcome.issues if severity is None or i.severity is severity]


def only_issue(row: dict[str, str], headers: dict[str, str] | None = None) -> Issue:
    """The single issue a one-row sheet gets."""
    outcome = check([row], headers)
    assert len(outcome.issues) == 1, outcome.issues
    return outcome.issues[0]


# --- valid rows and their orders ------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "body"),
    [
        (
            {**LOCAL, "number_match_filter": "289"},
            {
                "name": "ABC Company",
                "phone_number_request": {
                    "match_type": "localtonumber",
                    "local_to_number": "9056372046",
                    "number_match_filter": "289",
                },
                "call_routes": {
                    "route_type": "Basic",
                    "route": {"termination_number": "4165551234"},
                },
            },
        ),
        (
            {**CITY, "number_match_filter": "404", "termination_number": "4043993433"},
            {
                "name": "ABC Company",
                "phone_number_request": {
                    "match_type": "localtocity",
                    "city": "atlanta",
                    "state": "GA",  # the documentation writes "ga"; codes are sent upper case
                    "number_match_filter": "404",
                },
                "call_routes": {
                    "route_type": "Basic",
                    "route": {"termination_number": "4043993433"},
                },
            },
        ),
        (
            {**TOLLFREE, "number_match_filter": "833", "termination_number": "4043993433"},
            {
                "name": "ABC Company",
                "phone_number_request": {"match_type": "tollfree", "number_match_filter": "833"},
                "call_routes": {
                    "route_type": "Basic",
                    "route": {"termination_number": "4043993433"},
                },
            },
        ),
    ],
    ids=["localtonumber", "localtocity", "tollfree"],
)
def test_documented_examples_check_clean_and_map_exactly(
    row: dict[str, str], body: dict[str, object]
) -> None:
    """The documentation's three examples, typed as sheet rows, give its three bodies."""
    outcome = check([row])
    assert outcome.issues == ()
    order = outcome.rows[0].order
    assert order is not None
    assert json.dumps(order.body()) == json.dumps(body)
    assert order.group_id == 11623282


def test_checked_rows_follow_the_sheet() -> None:
    """One CheckedRow per row, in order, with frame index, Excel row and match type."""
    outcome = check([LOCAL, {**CITY, "name": "Other"}, {**BASE, "name": "Bad", "group_id": ""}])
    assert [(r.index, r.excel_row, r.match_type) for r in outcome.rows] == [
        (0, 4, LTN),
        (1, 5, LTC),
        (2, 6, None),
    ]
    assert [r.order is not None for r in outcome.rows] == [True, True, False]
    assert all(r.previous is None for r in outcome.rows)
    assert isinstance(outcome.rows[0], CheckedRow)


def test_spellings_are_normalised_into_the_order() -> None:
    """Phone spellings, Excel floats, state names and padded names are cleaned up."""
    row = {
        "name": "  Smile   Dental ",
        "group_id": "11623282.0",
        "match_type": "Local to City",
        "city": " Atlanta ",
        "state": "Georgia",
        "number_match_filter": "404.0",
        "termination_number": "(404) 399-3433",
        "route_type": "BASIC",
        "record_calls": "TRUE",
        "recording_message": "  This call  may be recorded ",
        "whisper_message": "Call from web",
    }
    outcome = check([row])
    assert outcome.issues == ()
    order = outcome.rows[0].order
    assert order is not None
    assert (order.name, order.group_id, order.city, order.state) == (
        "Smile Dental",
        11623282,
        "Atlanta",
        "GA",
    )
    assert (order.number_match_filter, order.termination_number) == ("404", "4043993433")
    assert (order.route_type, order.record_calls) == ("Basic", True)
    assert (order.recording_message, order.whisper_message) == (
        "This call may be recorded",
        "Call from web",
    )


# --- issues name the row, the user's column and the value ---------------------------------


def test_issue_names_excel_row_user_header_and_cell_text() -> None:
    """Issues carry the Excel row, the header as the user wrote it and the raw cell text."""
    headers = {**{f: f for f in FIELDS}, "termination_number": "Forward To"}
    outcome = check([LOCAL, {**LOCAL, "name": "B", "termination_number": "555-1234"}], headers)
    assert outcome.issues == (
        Issue(
            row=5,
            column="Forward To",
            value="555-1234",
            message="has 7 digits; write the full 10-digit number, with its area code",
        ),
    )


def test_absent_column_is_named_by_its_field() -> None:
    """A rule on a column the sheet lacks names the canonical field, with an empty value."""
    headers = {"name": "Advertiser", "group_id": "Group", "termination_number": "Ring To"}
    outcome = check([{"name": "A", "group_id": "1", "termination_number": "4165551234"}], headers)
    assert [(i.column, i.value) for i in outcome.issues] == [("match_type", "")]
    assert messages(outcome) == [
        "Cannot tell the match type: fill local_to_number, or city and state, "
        "or set match_type to Toll-free"
    ]


def test_every_problem_of_a_row_is_reported_in_column_order() -> None:
    """A row with many problems gets one issue per problem, not only the first."""
    row = {
        "name": "",
        "group_id": "abc",
        "match_type": "localtonumber",
        "local_to_number": "411",
        "number_match_filter": "12",
        "termination_number": "+44 20 7946 0958",
        "route_type": "Advanced",
        "record_calls": "maybe",
    }
    outcome = check([row])
    assert [(i.column, i.severity) for i in outcome.issues] == [
        ("name", ERROR),
        ("group_id", ERROR),
        ("local_to_number", ERROR),
        ("number_match_filter", ERROR),
        ("termination_number", ERROR),
        ("route_type", ERROR),
        ("record_calls", ERROR),
    ]
    assert outcome.rows[0].order is None


# --- name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name is empty; give the advertiser's name"),
        ("   ", "name is empty; give the advertiser's name"),
        ("x" * 101, "name is 101 characters long; the limit is 100"),
    ],
    ids=["empty", "spaces", "too-long"],
)
def test_name_rules(name: str, message: str) -> None:
    """A name is required and at most 100 characters."""
    issue = only_issue({**LOCAL, "name": name})
    assert (issue.column, issue.value, issue.message) == ("name", name, message)


def test_name_of_100_characters_is_fine() -> None:
    """Exactly 100 characters is within the limit."""
    assert check([{**LOCAL, "name": "x" * 100}]).issues == ()


def test_duplicate_names_invalidate_every_occurrence() -> None:
    """Names repeated in a group (any case, any spacing) make all their rows invalid."""
    rows = [
        {**LOCAL, "name": "Smile Dental"},
        {**LOCAL, "name": "Other"},
        {**LOCAL, "name": " smile  DENTAL "},
        {**LOCAL, "name": "Smile Dental", "group_id": "999"},
        {**LOCAL, "name": "SMILE DENTAL", "group_id": "11623282.0"},
    ]
    outcome = check(rows)
    assert [(i.row, i.message) for i in outcome.issues] == [
        (
            4,
            "Duplicate name 'Smile Dental' in group 11623282 (also on rows 6 and 8); give each "
            "row its own name",
        ),
        (
            6,
            "Duplicate name 'smile DENTAL' in group 11623282 (also on rows 4 and 8); give each "
            "row its own name",
        ),
        (
            8,
            "Duplicate name 'SMILE DENTAL' in group 11623282 (also on rows 4 and 6); give each "
            "row its own name",
        ),
    ]
    assert [r.order is not None for r in outcome.rows] == [False, True, False, True, False]


def test_duplicate_names_with_many_rows_are_summarised() -> None:
    """Beyond five other rows, the message says how many more."""
    outcome = check([{**LOCAL, "name": "Same"}] * 8)
    assert messages(outcome)[0] == (
        "Duplicate name 'Same' in group 11623282 (also on rows 5, 6, 7, 8, 9 and 2 more); give "
        "each row its own name"
    )
    assert len(outcome.issues) == 8


def test_duplicates_use_the_default_group_for_blank_cells() -> None:
    """A blank group cell counts as the default group when looking for duplicates."""
    rows = [{**LOCAL, "group_id": ""}, {**LOCAL, "group_id": "77"}]
    outcome = check(rows, default_group_id=77)
    assert messages(outcome) == [
        "Duplicate name 'ABC Company' in group 77 (also on row 5); give each row its own name",
        "Duplicate name 'ABC Company' in group 77 (also on row 4); give each row its own name",
    ]


# --- group_id -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            "",
            "group_id is empty; give the Telmetrics group ID (a whole number), or run with "
            "--group-id",
        ),
        ("abc", "group id 'abc' is not a whole number, e.g. 11623282"),
        ("0", "group id '0' must be a positive number"),
        ("-3", "group id '-3' must be a positive number"),
    ],
    ids=["blank", "text", "zero", "negative"],
)
def test_group_id_rules(group: str, message: str) -> None:
    """group_id is required and a positive whole number."""
    issue = only_issue({**LOCAL, "group_id": group})
    assert (issue.column, issue.value, issue.message) == ("group_id", group, message)


def test_default_group_fills_blank_cells_only() -> None:
    """With a default, blank cells use it, filled cells keep theirs, bad cells stay errors."""
    rows = [
        {**LOCAL, "name": "A", "group_id": ""},
        {**LOCAL, "name": "B", "group_id": "5"},
        {**LOCAL, "name": "C", "group_id": "x"},
    ]
    outcome = check(rows, default_group_id=42)
    groups = [r.order.group_id if r.order else None for r in outcome.rows]
    assert groups == [42, 5, None]
    assert messages(outcome) == ["group id 'x' is not a whole number, e.g. 11623282"]


def test_default_group_without_group_column() -> None:
    """A sheet without a group column is fine when a default group is given."""
    headers = {f: f for f in FIELDS if f != "group_id"}
    outcome = check([LOCAL], headers, default_group_id=9)
    assert outcome.issues == ()
    assert outcome.rows[0].order is not None
    assert outcome.rows[0].order.group_id == 9


# --- match_type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "match_type"),
    [
        ({**BASE, "local_to_number": "9056372046", "city": "Toronto"}, LTN),
        ({**BASE, "city": "Atlanta", "state": "GA"}, LTC),
        ({**BASE, "number_match_filter": "833"}, TF),
        ({**BASE, "number_match_filter": "800555"}, TF),
    ],
    ids=["local-number-wins", "city-and-state", "tollfree-filter", "tollfree-6-digit-filter"],
)
def test_blank_match_type_is_inferred(row: dict[str, str], match_type: MatchType) -> None:
    """A blank match type is inferred from the filled cells."""
    outcome = check([row])
    assert outcome.rows[0].match_type is match_type
    assert outcome.rows[0].order is not None


def test_match_type_cannot_be_told() -> None:
    """A row with no location and no toll-free filter is an error, not silently toll-free."""
    issue = only_issue({**BASE, "number_match_filter": "905"})
    assert (issue.column, issue.severity) == ("match_type", ERROR)
    assert issue.message == (
        "Cannot tell the match type: fill local_to_number, or city and state, "
        "or set match_type to Toll-free"
    )


def test_cannot_tell_message_uses_the_users_headers() -> None:
    """The inference message names the user's own columns."""
    headers = {
        "name": "Advertiser",
        "group_id": "Group",
        "match_type": "Type",
        "local_to_number": "Local To",
        "city": "Town",
        "state": "Province",
        "termination_number": "Ring To",
    }
    issue = only_issue(BASE, headers=headers)
    assert issue.message == (
        "Cannot tell the match type: fill Local To, or Town and Province, or set Type to Toll-free"
    )


def test_unknown_match_type() -> None:
    """An unknown match type is an error listing the accepted values; nothing is inferred."""
    outcome = check([{**LOCAL, "match_type": "nearby"}])
    assert messages(outcome) == [
        "unknown match type 'nearby'; write Local to number, Local to city or Toll-free, or "
        "leave it empty"
    ]
    assert outcome.rows[0].match_type is None


# --- local_to_number ------------------------------------------------------------------------


def test_local_to_number_required_for_localtonumber() -> None:
    """localtonumber rows need local_to_number."""
    issue = only_issue({**BASE, "match_type": "ltn"})
    assert (issue.column, issue.message) == (
        "local_to_number",
        "local_to_number is needed for a number local to the advertiser's phone (match type "
        "Local to number); fill it, or change the match type",
    )


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4115551234", "411 is a service code, like 911, not an area code; check the number"),
        ("905-1234", "has 7 digits; write the full 10-digit number, with its area code"),
        ("+44 20 7946 0958", "is not a North American number (+44); give a US or Canadian one"),
        ("call me", "contains letters; write the number in digits only"),
        ("9999999999", "is not a phone number in use in North America; check the digits"),
    ],
    ids=["n11", "seven-digits", "foreign", "letters", "unassigned"],
)
def test_local_to_number_must_be_valid(number: str, message: str) -> None:
    """An invalid local_to_number says why."""
    issue = only_issue({**LOCAL, "local_to_number": number})
    assert (issue.column, issue.value, issue.message, issue.severity) == (
        "local_to_number",
        number,
        message,
        ERROR,
    )


def test_tollfree_local_to_number_is_a_warning() -> None:
    """A toll-free local_to_number is legal but likely wrong: a warning, still ordered."""
    outcome = check([{**LOCAL, "local_to_number": "1 (800) 555-1234"}])
    assert [(i.severity, i.message) for i in outcome.issues] == [
        (
            WARNING,
            "local_to_number 8005551234 is a toll-free number; "
            "a local number cannot be matched to it",
        )
    ]
    assert outcome.rows[0].order is not None


# --- city and state -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (
            {**BASE, "match_type": "city", "state": "GA"},
            "city",
            "city is needed for a number local to a city (match type Local to city); fill it, "
            "or change the match type",
        ),
        (
            {**BASE, "match_type": "city", "city": "Atlanta"},
            "state",
            "state is needed for a number local to a city (match type Local to city); fill it, "
            "or change the match type",
        ),
        (
            {**CITY, "state": "Ontari"},
            "state",
            "unknown state/province 'Ontari' (did you mean ON — Ontario?)",
        ),
    ],
    ids=["city-missing", "state-missing", "state-unknown"],
)
def test_city_and_state_errors(row: dict[str, str], column: str, message: str) -> None:
    """localtocity rows need a city and a known state or province."""
    issue = only_issue(row)
    assert (issue.column, issue.message, issue.severity) == (column, message, ERROR)


def test_state_only_implies_localtocity_and_needs_a_city() -> None:
    """A state without a city makes a localtocity row that lacks its city."""
    outcome = check([{**BASE, "state": "ON"}])
    assert outcome.rows[0].match_type is LTC
    assert messages(outcome) == [
        "city is needed for a number local to a city (match type Local to city); fill it, or "
        "change the match type"
    ]


@pytest.mark.parametrize(
    ("city", "message"),
    [
        (
            "Missisauga",
            "city 'Missisauga' not found in ON in the numbering-plan data "
            "(did you mean Mississauga?)",
        ),
        ("Qwxyz", "city 'Qwxyz' not found in ON in the numbering-plan data"),
    ],
    ids=["misspelt", "unknown"],
)
def test_unknown_city_is_a_warning(city: str, message: str) -> None:
    """A city the numbering plan does not know is a warning; the row is still ordered."""
    outcome = check([{**BASE, "city": city, "state": "Ontario"}])
    assert [(i.column, i.severity, i.message) for i in outcome.issues] == [
        ("city", WARNING, message)
    ]
    assert outcome.rows[0].order is not None


def test_city_spellings_the_numbering_plan_knows() -> None:
    """Case, accents and St./Saint differences still find the city: no warning."""
    rows = [
        {**BASE, "name": "A", "city": "st. catharines", "state": "ON"},
        {**BASE, "name": "B", "city": "Saint-Jerome", "state": "Quebec"},
    ]
    assert check(rows).issues == ()


# --- number_match_filter --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {**LOCAL, "number_match_filter": "2891"},
            "filter '2891' must be an area code (3 digits, such as 289) or an area code and "
            "exchange (6 digits, such as 905637)",
        ),
        (
            {**TOLLFREE, "number_match_filter": "289"},
            "filter 289 is not a toll-free area code; a toll-free number needs one of "
            "800, 833, 844, 855, 866, 877, 888, or no filter",
        ),
        (
            {**LOCAL, "number_match_filter": "800"},
            "filter 800 is a toll-free area code, but this row asks for a local number; use a "
            "local area code (such as 416), or set the match type to Toll-free",
        ),
        (
            {**CITY, "number_match_filter": "411"},
            "filter 411 is a service code, like 911, not an area code; check the filter",
        ),
    ],
    ids=["five-digits", "geographic-on-tollfree", "tollfree-on-local", "n11-on-city"],
)
def test_filter_errors(row: dict[str, str], message: str) -> None:
    """Filters must be 3 or 6 digits and suit the match type."""
    issue = only_issue(row)
    assert (issue.column, issue.message, issue.severity) == (
        "number_match_filter",
        message,
        ERROR,
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {**LOCAL, "number_match_filter": "212"},
            "filter 212 is not an area code of Burlington, ON (289, 905)",
        ),
        (
            {**LOCAL, "number_match_filter": "416555"},
            "filter 416555: 416 is not an area code of Burlington, ON (289, 905)",
        ),
        (
            {**LOCAL, "number_match_filter": "905200"},
            "filter 905200 is not an exchange of Burlington, ON",
        ),
        (
            {**CITY, "number_match_filter": "212"},
            "filter 212 is not an area code of Atlanta, GA (404, 678, 770)",
        ),
        (
            {**LOCAL, "local_to_number": "9052002046", "number_match_filter": "212"},
            "filter 212 is an area code of NY, not ON",
        ),
    ],
    ids=["npa-of-number", "npa-nxx-of-number", "exchange-of-number", "npa-of-city", "region"],
)
def test_filter_far_from_the_place_is_a_warning(row: dict[str, str], message: str) -> None:
    """A filter that does not serve the row's number or city warns; the row is still ordered."""
    outcome = check([row])
    assert [(i.column, i.severity, i.message) for i in outcome.issues] == [
        ("number_match_filter", WARNING, message)
    ]
    assert outcome.rows[0].order is not None


def test_filter_in_the_region_of_an_unknown_city_is_fine() -> None:
    """For a city the data lacks, a filter of its state or province raises no filter warning."""
    outcome = check([{**BASE, "city": "Qwxyz", "state": "ON", "number_match_filter": "905"}])
    assert [i.column for i in outcome.issues] == ["city"]


def test_filter_of_an_unknown_city_in_another_region_warns() -> None:
    """For a city the data lacks, a filter of another state warns by region."""
    outcome = check([{**BASE, "city": "Qwxyz", "state": "ON", "number_match_filter": "212"}])
    assert messages(outcome, WARNING)[1] == "filter 212 is an area code of NY, not ON"


# --- termination_number, route_type, record_calls, messages -------------------------------


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (
            "",
            "termination_number is empty; give the 10-digit number that calls to the new "
            "number should ring",
        ),
        ("555-1234", "has 7 digits; write the full 10-digit number, with its area code"),
        (
            "(011) 555-1234",
            "area code 011 cannot start with 0: no area code does; check the number",
        ),
        (
            "905 123 4567",
            "the 4th digit is 1, and no local number has 0 or 1 there; check the number",
        ),
    ],
    ids=["blank", "seven-digits", "area-code-0", "exchange-1"],
)
def test_termination_number_rules(number: str, message: str) -> None:
    """termination_number is required and a valid NANP number."""
    issue = only_issue({**LOCAL, "termination_number": number})
    assert (issue.column, issue.message) == ("termination_number", message)


def test_tollfree_termination_number_is_fine() -> None:
    """Calls may be forwarded to a toll-free number."""
    assert check([{**LOCAL, "termination_number": "8005551234"}]).issues == ()


def test_route_type_other_than_basic() -> None:
    """Only Basic routing can be ordered."""
    issue = only_issue({**LOCAL, "route_type": "Advanced"})
    assert (issue.column, issue.message) == (
        "route_type",
        "routing 'Advanced' is not offered; write Basic, or leave it empty",
    )


def test_record_calls_must_be_yes_or_no() -> None:
    """record_calls accepts yes/no spellings only."""
    issue = only_issue({**LOCAL, "record_calls": "sometimes"})
    assert (issue.column, issue.message) == (
        "record_calls",
        "'sometimes' is not yes or no; write yes or no",
    )


def test_recording_message_without_recording_is_a_warning() -> None:
    """A recording message on a row that does not record calls will not be played."""
    issue = only_issue({**LOCAL, "record_calls": "no", "recording_message": "Recorded"})
    assert (issue.column, issue.severity, issue.message) == (
        "recording_message",
        WARNING,
        "recording_message will not be played: record_calls is no",
    )


@pytest.mark.parametrize("field", ["recording_message", "whisper_message"])
def test_messages_have_a_length_limit(field: str) -> None:
    """Spoken messages are limited to 500 characters."""
    issue = only_issue({**LOCAL, field: "a" * 501})
    assert (issue.column, issue.message) == (
        field,
        f"{field} is 501 characters long; the limit is 500",
    )


# --- cells the match type ignores ---------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "ignored"),
    [
        ({**LOCAL, "city": "Toronto", "state": "ON"}, ["city", "state"]),
        ({**CITY, "local_to_number": "9056372046", "match_type": "city"}, ["local_to_number"]),
        (
            {**TOLLFREE, "local_to_number": "x", "city": "y", "state": "z"},
            ["local_to_number", "city", "state"],
        ),
    ],
    ids=["city-on-localtonumber", "number-on-localtocity", "all-on-tollfree"],
)
def test_cells_of_other_match_types_are_ignored_with_a_warning(
    row: dict[str, str], ignored: list[str]
) -> None:
    """Filled cells the row's match type does not use are warned about and not sent."""
    outcome = check([row])
    match_type = outcome.rows[0].match_type
    assert match_type is not None
    words = {"localtonumber": "Local to number", "localtocity": "Local to city"}.get(
        match_type.value, "Toll-free"
    )
    assert [(i.column, i.severity, i.message) for i in outcome.issues] == [
        (field, WARNING, f"{field} is not used when the match type is {words}; it is left out")
        for field in ignored
    ]
    assert outcome.rows[0].order is not None


# --- robustness -----------------------------------------------------------------------------


def test_duplicate_header_texts_use_the_first_column() -> None:
    """Two columns with the same header text: the first one is checked."""
    frame = pd.DataFrame([["A", "1", "9056372046", "4165551234", "junk"]], dtype=str)
    frame.columns = pd.Index(["Name", "Group", "Local", "Phone", "Phone"])
    table = make_table([LOCAL])
    table = Table(table.path, "xlsx", "S", tuple(frame.columns), (1, 2, 3, 4, 5), 1, frame, (2,))
    fields = {
        "name": "Name",
        "group_id": "Group",
        "local_to_number": "Local",
        "termination_number": "Phone",
    }
    outcome = check_table(table, fields)
    assert outcome.issues == ()


def test_missing_cells_are_read_as_blank() -> None:
    """NaN or None cells (a frame not built by the reader) count as blank, never crash."""
    frame = pd.DataFrame({"name": ["A"], "group_id": [None], "termination_number": [float("nan")]})
    table = Table(
        Path("x.csv"),
        "csv",
        "x",
        ("name", "group_id", "termination_number"),
        (1, 2, 3),
        1,
        frame,
        (2,),
    )
    outcome = check_table(table, {f: f for f in frame.columns})
    assert [i.column for i in outcome.issues] == ["group_id", "match_type", "termination_number"]


def test_empty_sheet() -> None:
    """A sheet with no data rows gives no rows and no issues."""
    assert check([]) == CheckOutcome(rows=(), issues=())


CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "=SUM(A1)",
            "2024-01-05",
            "2024-01-05 00:00:00",
            "9056372046.0",
            "(905) 637-2046",
            "4115551234",
            "800",
            "289.0",
            "localtocity",
            "TF",
            "ON",
            "Ontario",
            "Atlanta",
            "yes",
            "NaN",
            "None",
            "#N/A",
            "-1",
            "1e400",
            "１２３",
            "٣",
        ]
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.fixed_dictionaries({field: CELLS for field in FIELDS}), max_size=4))
def test_any_text_never_crashes(rows: list[dict[str, str]]) -> None:
    """Whatever the cells hold, every row gets an order or at least one error issue."""
    outcome = check(rows)
    assert len(outcome.rows) == len(rows)
    rows_in_error = {i.row for i in outcome.issues if i.severity is ERROR}
    for row in outcome.rows:
        assert (row.order is None) == (row.excel_row in rows_in_error)
    assert {i.row for i in outcome.issues} <= {r.excel_row for r in outcome.rows}
    assert all(i.message and "Parsed(" not in i.message for i in outcome.issues)


def test_pandera_failures_without_index_are_matched_by_value() -> None:
    """A pandera failure reported without a row index is traced back to its rows by value."""
    from batchprov.check.rules import all_rules
    from batchprov.check.schema import failure_positions
    from batchprov.check.values import normalise

    table = make_table([{**LOCAL, "name": "A"}, {**LOCAL, "name": "B", "route_type": "Fancy"}])
    values = normalise(table, {f: f for f in FIELDS}, None)
    rule = next(r for r in all_rules(values, None) if r.field == "route_type")
    failed = pd.DataFrame({"index": [None], "failure_case": ["Fancy"]})
    assert failure_positions(values, rule, failed) == [1]


def test_garbage_collector_state_is_restored() -> None:
    """Checking pauses the cyclic garbage collector and leaves it as it found it."""
    import gc

    assert gc.isenabled()
    check([LOCAL])
    assert gc.isenabled()
    gc.disable()
    try:
        check([LOCAL])
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- suggestions: the value a "did you mean" offers, as data ------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "suggestion"),
    [
        ({**BASE, "city": "Calgary", "state": "Albrta"}, "state", "AB"),
        ({**BASE, "city": "Missisauga", "state": "ON"}, "city", "Mississauga"),
        (
            {**LOCAL, "termination_number": "416-555-1234 ext. 12"},
            "termination_number",
            "4165551234",
        ),
        (
            {**BASE, "local_to_number": "905 637 2046 or 905 637 2047"},
            "local_to_number",
            "9056372046",
        ),
        ({**TOLLFREE, "termination_number": "1-800-FLOWERS"}, "termination_number", "8003569377"),
    ],
    ids=["state", "city", "extension", "two-numbers", "keypad-letters"],
)
def test_issues_carry_the_suggested_value(
    row: dict[str, str], column: str, suggestion: str
) -> None:
    """A problem whose fix the checker knows carries it as the Issue's suggestion."""
    outcome = check([row])
    found = [i for i in outcome.issues if i.column == column]
    assert [i.suggestion for i in found] == [suggestion]
    fixed = check([{**row, column: suggestion}])
    assert [i for i in fixed.issues if i.column == column] == []  # the suggestion is valid


def test_problems_beyond_a_guess_have_no_suggestion() -> None:
    """Unknown states, short numbers and blank cells offer nothing; messages are unchanged."""
    outcome = check(
        [
            {**BASE, "city": "Springfield", "state": "ZZ"},
            {**BASE, "name": "B", "local_to_number": "12345"},
            {**BASE, "name": "C", "match_type": "tollfree", "termination_number": ""},
        ]
    )
    assert outcome.issues and all(i.suggestion is None for i in outcome.issues)
    state = next(i for i in check([{**BASE, "city": "X", "state": "Albrta"}]).issues)
    assert state.message == "unknown state/province 'Albrta' (did you mean AB — Alberta?)"


# --- a sheet is checked column by column: each row still gets its own verdict -------------------

VARIED = {
    "group_id": ["11623282", "11623282.0", "", "abc", "-5", "1.5"],
    "match_type": ["", "localtonumber", "City", "TF", "800", "bogus"],
    "local_to_number": ["", "9056372046", "(905) 637-2046", "8005551234", "12345", "2024-03-05"],
    "city": ["", "Toronto", " Atlanta ", "Missisauga", "Springfield", "Hello\u200bthere"],
    "state": ["", "ON", "Georgia", "Albrta", "ZZ", " ga "],
    "number_match_filter": ["", "289", "404.0", "905637", "800", "911", "12", "312"],
    "termination_number": ["4165551234", "", "416-555-1234 ext. 12", "1-800-FLOWERS", "4115551234"],
    "route_type": ["", "Basic", "Fancy"],
    "record_calls": ["", "yes", "no", "maybe"],
    "recording_message": ["", "This call may be recorded.", "R" * 501, "a\u200bb"],
    "whisper_message": ["", "Call from web", "W" * 501],
    "fallback": ["", "overlay", "none", "toll-free, drop-filter", "bogus"],
}


def test_each_row_gets_in_a_sheet_the_issues_it_gets_alone() -> None:
    """Rules run on whole columns give every row of a varied sheet what checking it alone gives."""
    rng = random.Random(5)
    names = ["Shop {}", "  Shop\u00a0 {} ", "Shop {}\u200b", "S{}" + "x" * 100, "Shop {}"]
    rows = []
    for i in range(48):  # a good row of each match type, a few cells of it changed
        row = {**(LOCAL, CITY, TOLLFREE)[i % 3], "name": names[i % len(names)].format(i)}
        for field, cells in VARIED.items():
            if rng.random() < 0.15:
                row[field] = rng.choice(cells)
        rows.append(row)
    sheet = check(rows)
    for position, row in enumerate(rows):
        alone = check([row])
        excel_row = HEADER_ROW + 1 + position
        assert [i for i in sheet.issues if i.row == excel_row] == [
            replace(issue, row=excel_row) for issue in alone.issues
        ]
        assert sheet.rows[position] == replace(alone.rows[0], index=position, excel_row=excel_row)
    assert 0 < sum(row.order is not None for row in sheet.rows) < len(rows)
