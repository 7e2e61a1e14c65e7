"""Header matching: normalisation, aliases, result columns, missing-column messages."""

from __future__ import annotations

import pytest

from batchprov.errors import DuplicateColumnsError, MissingColumnsError
from batchprov.read.headers import (
    ALIASES,
    CANONICAL_FIELDS,
    LOOKUP,
    OPTIONAL_RESULT_HEADERS,
    RESULT_HEADERS,
    ColumnMap,
    header_score,
    map_columns,
    normalize_header,
    result_span,
)

BASIC = ["Name", "Group ID", "Termination Number"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Group ID", "groupid"),
        ("group_id", "groupid"),
        ("Group-Id:", "groupid"),
        ("  State / Province ", "stateprovince"),
        ("NPA-NXX", "npanxx"),
        ("Forward To #", "forwardto"),
        ("Ville (Québec)", "villequébec"),
    ],
)
def test_normalize_header_drops_case_spaces_and_punctuation(text: str, expected: str) -> None:
    """Case, spaces, underscores, hyphens and punctuation are ignored; letters stay."""
    assert normalize_header(text) == expected


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Advertiser", "name"),
        ("Advertiser Name", "name"),
        ("Business Name", "name"),
        ("Company", "name"),
        ("Customer Name", "name"),
        ("Tracking Name", "name"),
        ("Number Name", "name"),
        ("Group", "group_id"),
        ("GROUP_ID", "group_id"),
        ("Group Number", "group_id"),
        ("Telmetrics Group", "group_id"),
        ("Forward To", "termination_number"),
        ("Ring-To", "termination_number"),
        ("Destination", "termination_number"),
        ("Destination Number", "termination_number"),
        ("Target Number", "termination_number"),
        ("Forwarding Number", "termination_number"),
        ("Termination", "termination_number"),
        ("Local To", "local_to_number"),
        ("Advertiser Phone", "local_to_number"),
        ("Business Phone", "local_to_number"),
        ("Existing Number", "local_to_number"),
        ("Main Number", "local_to_number"),
        ("Local Number", "local_to_number"),
        ("Province", "state"),
        ("State/Province", "state"),
        ("Prov.", "state"),
        ("Region", "state"),
        ("Filter", "number_match_filter"),
        ("NPA", "number_match_filter"),
        ("Area Code", "number_match_filter"),
        ("Match Filter", "number_match_filter"),
        ("Prefix", "number_match_filter"),
        ("Match Type", "match_type"),
        ("Type", "match_type"),
        ("Method", "match_type"),
        ("Number Type", "match_type"),
        ("Assignment", "match_type"),
        ("Record", "record_calls"),
        ("Call Recording", "record_calls"),
        ("Recording", "record_calls"),
        ("Recording Notice", "recording_message"),
        ("Record Message", "recording_message"),
        ("Whisper", "whisper_message"),
        ("Whisper Text", "whisper_message"),
        ("Route", "route_type"),
        ("Routing", "route_type"),
        ("City", "city"),
        ("Fallback", "fallback"),
    ],
)
def test_aliases_map_to_their_field(header: str, field: str) -> None:
    """Each documented alias (in any case or punctuation) names its canonical field."""
    assert LOOKUP[normalize_header(header)] == field


def test_every_canonical_field_is_its_own_alias() -> None:
    """A header spelled exactly like the field (e.g. ``local_to_number``) always matches."""
    assert set(ALIASES) == set(CANONICAL_FIELDS)
    for field in CANONICAL_FIELDS:
        assert LOOKUP[normalize_header(field)] == field


def test_no_alias_is_claimed_by_two_fields() -> None:
    """Every normalised alias belongs to exactly one field, so matching never depends on order."""
    owners: dict[str, set[str]] = {}
    for field, aliases in ALIASES.items():
        for alias in (field, *aliases):
            owners.setdefault(normalize_header(alias), set()).add(field)
    assert all(len(fields) == 1 for fields in owners.values())


def test_map_columns_maps_fields_and_keeps_other_columns() -> None:
    """Matched headers map to fields by their original text; the rest are kept in order."""
    headers = ["Advertiser Name", "Notes", "Group", "Ring To", "Sales Rep", "Province"]
    result = map_columns(headers)
    assert result == ColumnMap(
        fields={
            "name": "Advertiser Name",
            "group_id": "Group",
            "termination_number": "Ring To",
            "state": "Province",
        },
        results={},
        other=("Notes", "Sales Rep"),
    )


@pytest.mark.parametrize(
    ("headers", "first", "second"),
    [
        (["Company", "Group", "Forward To", "Advertiser"], "'Company' (column A)", "'Advertiser'"),
        (["Name", "Group", "Forward To", "Name (2)"], "'Name' (column A)", "'Name' (column D)"),
        (["Name", "Group", "Ring To", "Forward To"], "'Ring To' (column C)", "'Forward To'"),
    ],
)
def test_two_columns_naming_one_field_are_an_error(
    headers: list[str], first: str, second: str
) -> None:
    """Two headers naming one field (aliases, or a repeated header) raise, naming both columns."""
    with pytest.raises(DuplicateColumnsError) as caught:
        map_columns(headers, columns=[1, 2, 3, 4])
    message = str(caught.value)
    assert f"{first} and {second}" in message
    assert "Delete or rename one of them" in message
    assert DuplicateColumnsError.exit_code == 2


def test_a_repeat_suffix_alone_is_another_column() -> None:
    """A header such as ``Group (2)`` with no ``Group`` beside it is just another column."""
    result = map_columns(["Name", "Group (2)", "Group", "Forward To"])
    assert result.fields["group_id"] == "Group"
    assert result.other == ("Group (2)",)


def test_result_columns_are_recognised_after_the_user_columns() -> None:
    """The exact result block after the user's columns maps to results, never to fields."""
    headers = [*BASIC, "Notes", *RESULT_HEADERS, *OPTIONAL_RESULT_HEADERS]
    result = map_columns(headers)
    assert result.results == {h: h for h in (*RESULT_HEADERS, *OPTIONAL_RESULT_HEADERS)}
    assert "match_type" not in result.fields
    assert result.other == ("Notes",)


#: The result columns as earlier versions wrote them: still read as results.
FORMER = (
    "Status",
    "Tracking Number",
    "Number ID",
    "Route ID",
    "Assigned Name",
    "Match Type",
    "Error",
    "Warnings",
    "Attempts",
    "Provisioned At",
)


def test_result_headers_are_unique_and_never_an_input_field() -> None:
    """Our result headers are distinct, and none of them is also an input header."""
    assert len(set(RESULT_HEADERS)) == len(RESULT_HEADERS)
    assert not [h for h in RESULT_HEADERS if normalize_header(h) in LOOKUP]


def test_user_match_type_before_an_old_result_block_is_input() -> None:
    """In an old output, the user's ``Match Type`` is the input field; the block's a result."""
    headers = [*BASIC, "Match Type", *FORMER]
    result = map_columns(headers)
    assert result.fields["match_type"] == "Match Type"
    assert result.results["Match Type"] == "Match Type"
    assert headers.index(result.fields["match_type"]) == 3


def test_result_headers_are_matched_exactly_after_trimming() -> None:
    """Result headers are trimmed but case-sensitive; surrounding spaces are kept as written."""
    result = map_columns([*BASIC, " Status ", "Tracking Number", "Number ID"])
    assert result.results == {
        "Status": " Status ",
        "Tracking Number": "Tracking Number",
        "Number ID": "Number ID",
    }
    lower = map_columns([*BASIC, "status", "tracking number", "Match Type"])
    assert lower.results == {}
    assert lower.fields["match_type"] == "Match Type"


def test_status_without_tracking_number_is_a_user_column() -> None:
    """A lone ``Status`` column (not followed by ``Tracking Number``) belongs to the user."""
    result = map_columns([*BASIC, "Status", "Match Type", "Error"])
    assert result.results == {}
    assert result.fields["match_type"] == "Match Type"
    assert result.other == ("Status", "Error")


def test_result_block_ends_at_the_first_foreign_header() -> None:
    """Only the contiguous run counts: a result-like header after a user column is the user's."""
    headers = [*BASIC, "Status", "Tracking Number", "Notes", "Match Type", "Error"]
    assert result_span(headers) == range(3, 5)
    result = map_columns(headers)
    assert set(result.results) == {"Status", "Tracking Number"}
    assert result.fields["match_type"] == "Match Type"
    assert result.other == ("Notes", "Error")


def test_repeated_result_header_ends_the_block() -> None:
    """A second ``Status`` inside the run is not part of it (each result column is written once)."""
    headers = ["Status", "Tracking Number", "Status", "Error"]
    assert result_span(headers) == range(2)


def test_missing_required_column_message() -> None:
    """The message names the missing field, example headers, the columns found and the closest."""
    with pytest.raises(MissingColumnsError) as caught:
        map_columns(["Advertiser", "Group", "Phone", "City"])
    assert str(caught.value) == (
        "Missing required column 'termination_number' (Forward To / Ring To / Destination). "
        "Found: Advertiser, Group, Phone, City. Closest: 'Phone'."
    )


def test_missing_columns_message_names_each_and_is_one_line() -> None:
    """Several missing fields are all named, each with its closest header, on one line."""
    with pytest.raises(MissingColumnsError) as caught:
        map_columns(["Cust", "Grp", "Phone", *RESULT_HEADERS])
    message = str(caught.value)
    assert "\n" not in message
    assert "'name' (Advertiser / Advertiser Name / Business Name)" in message
    assert "'termination_number'" in message
    assert "Found: Cust, Grp, Phone." in message  # result columns are not listed as found
    assert "Closest to name: 'Cust'." in message
    assert "Closest to termination_number: 'Phone'." in message


def test_missing_column_without_a_close_header_says_only_what_is_found() -> None:
    """No ``Closest`` part is given when nothing unmatched looks like the missing field."""
    with pytest.raises(MissingColumnsError) as caught:
        map_columns(["Name", "Group", "Zzz"])
    assert str(caught.value).endswith("Found: Name, Group, Zzz.")


def test_group_id_not_required_when_given() -> None:
    """With a default group id the group column may be absent; without one it is required."""
    assert "group_id" not in map_columns(["Name", "Forward To"], group_id_given=True).fields
    with pytest.raises(MissingColumnsError, match="'group_id'"):
        map_columns(["Name", "Forward To"])


def test_result_columns_never_satisfy_a_required_field() -> None:
    """Our ``Assigned Name`` result column does not stand in for a missing ``name`` column."""
    with pytest.raises(MissingColumnsError, match="'name'"):
        map_columns(["Group", "Forward To", *RESULT_HEADERS])


def test_header_score_counts_distinct_known_fields() -> None:
    """A header row scores one per distinct field it names; titles and data score low."""
    assert header_score(["Advertiser", "Group", "Forward To", "Notes", ""]) == 3
    assert header_score(["Name", "Company"]) == 1
    assert header_score(["Advertiser list — March", "", ""]) == 0
    assert header_score(["ABC Plumbing", "1234", "9056372046"]) == 0


def test_result_columns_found_when_a_reader_suffixed_a_repeated_header() -> None:
    """Our "Match Type" result column read back as "Match Type (2)" is still a result column."""
    headers = ["Advertiser", "Match Type", "Forward To", "Group", *FORMER]
    headers[4 + FORMER.index("Match Type")] = "Match Type (2)"
    mapped = map_columns(headers)
    assert set(FORMER) == set(mapped.results)
    assert "Match Type (2)" == mapped.results["Match Type"]
    assert "Match Type" == mapped.fields["match_type"]
