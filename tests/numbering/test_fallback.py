"""Fallbacks as pure functions: the column's words, the orders they make, the no-match test."""

from __future__ import annotations

from typing import Any

import pytest
from test_checks import BASE, LOCAL, TOLLFREE, check

from batchprov.errors import ConfigError
from batchprov.models import (
    CheckedRow,
    Fallback,
    FallbackOrder,
    MatchType,
    OrderRequest,
    Severity,
)
from batchprov.numbering.fallback import (
    fallback_orders,
    is_no_match,
    parse_fallback,
    parse_run_fallback,
    with_fallbacks,
)
from batchprov.read.headers import map_columns

DROP, OVERLAY, TF = Fallback.DROP_FILTER, Fallback.OVERLAY, Fallback.TOLLFREE


def order(match_type: MatchType = MatchType.LOCAL_TO_NUMBER, **fields: Any) -> OrderRequest:
    """A localtonumber order of Burlington, ON (unless told otherwise)."""
    defaults = {"local_to_number": "9056372046"} if match_type is MatchType.LOCAL_TO_NUMBER else {}
    return OrderRequest(
        group_id=11623282,
        name="ABC Company",
        match_type=match_type,
        termination_number="4165551234",
        **(defaults | fields),
    )


def labels(found: tuple[FallbackOrder, ...]) -> list[str]:
    """The labels of fallback orders."""
    return [f.label for f in found]


def overlay(code: str) -> str:
    """How a person reads an overlay fallback to ``code``."""
    return f"a number in overlay area code {code}"


NO_FILTER = "a number without the area-code filter"
A_TOLLFREE = "a toll-free number"


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("drop_filter, overlay, tollfree", (DROP, OVERLAY, TF)),
        ("Toll-Free", (TF,)),
        ("overlay then drop filter", (OVERLAY, DROP)),
        ("TF; no filter", (TF, DROP)),
        ("overlay, overlay", (OVERLAY,)),
        ("none", ()),
    ],
)
def test_fallback_words_and_spellings(text: str, kinds: tuple[Fallback, ...]) -> None:
    """The column accepts the three words in any spelling, in order, and 'none'."""
    assert parse_fallback(text).value == kinds


def test_blank_fallback_means_the_runs() -> None:
    """A blank cell parses to None: the run's --fallback applies to that row."""
    assert parse_fallback("  ").value is None
    assert parse_fallback("  ").problem == ""


def test_unknown_fallback_lists_the_accepted_words() -> None:
    """An unknown word is an error naming it and every accepted word."""
    problem = parse_fallback("overlay, any city").problem
    assert problem.startswith("'any city' is not a fallback batchprov knows; write one or more")
    assert "drop-filter, overlay, toll-free" in problem
    for word in ("drop-filter", "overlay", "toll-free"):  # the listed words are accepted
        assert parse_fallback(word).value


def test_run_fallback_is_checked_before_anything_starts() -> None:
    """--fallback takes text or words; an unknown word is a ConfigError (exit 2)."""
    assert parse_run_fallback("overlay,tollfree") == (OVERLAY, TF)
    assert parse_run_fallback(["drop_filter"]) == (DROP,)
    assert parse_run_fallback(None) == ()
    with pytest.raises(ConfigError, match="'cheapest' is not a fallback"):
        parse_run_fallback("cheapest")


def test_drop_filter_sends_the_same_order_without_filter() -> None:
    """drop_filter: the row's order, filter removed, nothing else changed."""
    primary = order(number_match_filter="289", record_calls=True)
    (found,) = fallback_orders(primary, [DROP])
    assert found.label == NO_FILTER
    assert found.order.number_match_filter is None
    assert found.order.body()["call_routes"] == primary.body()["call_routes"]
    assert (found.order.group_id, found.order.name) == (primary.group_id, primary.name)


def test_overlay_tries_the_other_area_codes_of_the_place() -> None:
    """overlay: each other area code of the place as a 3-digit filter, the number's own first."""
    assert labels(fallback_orders(order(number_match_filter="289"), [OVERLAY])) == [overlay("905")]
    toronto = order(number_match_filter="416203", local_to_number="9422001234")
    assert labels(fallback_orders(toronto, [OVERLAY])) == [overlay("942"), overlay("437")]
    city = order(MatchType.LOCAL_TO_CITY, city="Toronto", state="ON", number_match_filter="437")
    assert labels(fallback_orders(city, [OVERLAY])) == [overlay("416"), overlay("942")]


def test_overlay_of_a_tollfree_filter_tries_the_other_tollfree_codes() -> None:
    """A toll-free row with a filter falls back to the other toll-free area codes."""
    found = fallback_orders(order(MatchType.TOLLFREE, number_match_filter="888"), [OVERLAY])
    assert [f.order.number_match_filter for f in found] == [
        "800",
        "833",
        "844",
        "855",
        "866",
        "877",
    ]


def test_tollfree_fallback_keeps_no_location() -> None:
    """tollfree: a toll-free order without filter or location fields."""
    primary = order(MatchType.LOCAL_TO_CITY, city="Missisauga", state="ON")
    (found,) = fallback_orders(primary, [TF])
    request = found.order.body()["phone_number_request"]
    assert request == {"match_type": "tollfree"}


def test_fallbacks_that_change_nothing_are_left_out() -> None:
    """Without a filter drop_filter and overlay add nothing; a toll-free row has no tollfree one."""
    assert fallback_orders(order(), [DROP, OVERLAY]) == ()
    assert fallback_orders(order(MatchType.TOLLFREE), [TF, DROP]) == ()
    chain = fallback_orders(order(number_match_filter="289"), [OVERLAY, DROP, TF, DROP])
    assert labels(chain) == [overlay("905"), NO_FILTER, A_TOLLFREE]


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (400, "No numbers available local to 9056372046 matching 212"),
        (400, "No toll-free numbers available matching 888"),
        (400, "No numbers available in Missisauga, ON: no rate centre named Missisauga in ON"),
        (422, "no number matches the request"),
        (409, "Requested numbers are not available"),
        (400, "NO MATCH"),
        (410, "Sorry: no inventory in this rate center"),
        (400, "Area code 289 is sold out"),
    ],
)
def test_no_match_answers_are_recognised(status: int, text: str) -> None:
    """A 4xx saying that no number matches, in the sandbox's and other plausible words."""
    assert is_no_match(status, text)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (401, "No numbers available"),
        (403, "No numbers available"),
        (404, "No numbers available"),
        (429, "No numbers available right now"),
        (503, "No numbers available"),
        (500, "no match"),
        (None, "no answer within 30 s"),
        (400, "phone_number_request.match_type: 'x' is not one of localtonumber, tollfree"),
        (400, "name: is required (non-empty text)"),
        (400, "phone_number_request.number_match_filter: '12' is not 3 or 6 digits"),
        (400, "Malformed JSON body: Expecting value"),
        (404, "Group 999 not found"),
    ],
)
def test_other_answers_never_trigger_a_fallback(status: int | None, text: str) -> None:
    """Auth, not found, throttling, server errors and unrelated 4xx are not 'no match'."""
    assert not is_no_match(status, text)


def test_the_rows_own_fallback_wins_over_the_runs() -> None:
    """A row's fallback cell (even 'none') wins; a blank cell takes the run's default."""
    primary = order(number_match_filter="289")
    rows = [
        CheckedRow(0, 2, primary),
        CheckedRow(1, 3, primary, fallback=(TF,)),
        CheckedRow(2, 4, primary, fallback=()),
        CheckedRow(3, 5, None),
    ]
    done = with_fallbacks(rows, (OVERLAY,))
    assert [labels(r.fallbacks) for r in done] == [[overlay("905")], [A_TOLLFREE], [], []]


def test_fallback_column_is_checked_and_carried() -> None:
    """The fallback column: parsed onto the row, unknown words are errors, idle ones warned."""
    outcome = check(
        [
            {**LOCAL, "number_match_filter": "289", "fallback": "overlay, toll-free"},
            {**LOCAL, "fallback": "cheapest"},
            {**TOLLFREE, "name": "TF", "fallback": "tollfree, drop filter"},
            {**BASE, "name": "Blank", "match_type": "tollfree"},
        ]
    )
    assert [r.fallback for r in outcome.rows] == [(OVERLAY, TF), None, (TF, DROP), None]
    assert outcome.rows[1].order is None
    found = [(i.row, i.severity, i.message) for i in outcome.issues if i.column == "fallback"]
    assert found[0][:2] == (5, Severity.ERROR)
    assert "'cheapest' is not a fallback" in found[0][2]
    assert found[1] == (
        6,
        Severity.WARNING,
        "the fallback 'toll-free' can never apply, as the row already asks for a toll-free "
        "number; the fallback 'drop-filter' can never apply, as the row has no area-code "
        "filter. Remove them from the cell, or leave them: they do no harm",
    )


@pytest.mark.parametrize("header", ["Fallback", "If No Match", "fallbacks", "On no match"])
def test_fallback_column_aliases(header: str) -> None:
    """Common headers for the fallback column are recognised."""
    found = map_columns(["Advertiser", "Group", "Ring To", header])
    assert found.fields["fallback"] == header
