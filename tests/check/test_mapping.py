"""Tests for batchprov.check.orders: clean row values → the exact request body of the API."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pandas as pd
import pytest

from batchprov.check.orders import NormalisedRow, to_order, to_orders
from batchprov.models import MatchType, OrderRequest

# The three request bodies of https://v3api.telmetrics.com/docs/automatic-number-assignment,
# copied verbatim (docs/design.md §3.2).
DOC_LOCAL_TO_NUMBER = """{
  "name": "ABC Company",
  "phone_number_request": {
    "match_type": "localtonumber",
    "local_to_number": "9056372046",
    "number_match_filter": "289"
  },
  "call_routes": {
    "route_type": "Basic",
    "route": {
      "termination_number": "4165551234"
    }
  }
}"""
DOC_LOCAL_TO_CITY = """{
  "name": "ABC Company",
  "phone_number_request": {
    "match_type": "localtocity",
    "city":"atlanta",
    "state":"ga",
    "number_match_filter": "404"
  },
  "call_routes": {
    "route_type": "Basic",
    "route": {
      "termination_number": "4043993433"
    }
  }
}"""
DOC_TOLLFREE = """{
  "name": "ABC Company",
  "phone_number_request": {
    "match_type": "tollfree",
    "number_match_filter": "833"
  },
  "call_routes": {
    "route_type": "Basic",
    "route": {
      "termination_number": "4043993433"
    }
  }
}"""


def _row(**changes: Any) -> NormalisedRow:
    values: dict[str, Any] = {
        "name": "ABC Company",
        "group_id": 11623282,
        "match_type": MatchType.LOCAL_TO_NUMBER,
        "termination_number": "4165551234",
        "local_to_number": "9056372046",
    }
    values.update(changes)
    return NormalisedRow(**values)


@pytest.mark.parametrize(
    ("row", "document"),
    [
        (_row(number_match_filter="289"), DOC_LOCAL_TO_NUMBER),
        (
            _row(
                match_type=MatchType.LOCAL_TO_CITY,
                local_to_number="",
                city="atlanta",
                state="ga",
                number_match_filter="404",
                termination_number="4043993433",
            ),
            DOC_LOCAL_TO_CITY,
        ),
        (
            _row(
                match_type=MatchType.TOLLFREE,
                local_to_number="",
                number_match_filter="833",
                termination_number="4043993433",
            ),
            DOC_TOLLFREE,
        ),
    ],
    ids=["localtonumber", "localtocity", "tollfree"],
)
def test_bodies_match_the_documentation(row: NormalisedRow, document: str) -> None:
    """The body of each match type equals the API documentation's example, key order too."""
    body = to_order(row).body()
    expected = json.loads(document)
    assert body == expected
    assert json.dumps(body) == json.dumps(expected)


def test_order_carries_group_and_name() -> None:
    """The order keeps the group id (for the URL) and the name."""
    order = to_order(_row())
    assert (order.group_id, order.name) == (11623282, "ABC Company")


@pytest.mark.parametrize(
    ("match_type", "kept"),
    [
        (MatchType.LOCAL_TO_NUMBER, ("9056372046", None, None)),
        (MatchType.LOCAL_TO_CITY, (None, "Atlanta", "GA")),
        (MatchType.TOLLFREE, (None, None, None)),
    ],
    ids=["localtonumber", "localtocity", "tollfree"],
)
def test_other_match_types_fields_are_dropped(
    match_type: MatchType, kept: tuple[str | None, str | None, str | None]
) -> None:
    """Only the location fields of the row's own match type reach the order."""
    order = to_order(_row(match_type=match_type, city="Atlanta", state="GA"))
    assert (order.local_to_number, order.city, order.state) == kept


def test_blank_optionals_become_none() -> None:
    """Blank filter and messages are left out of the order, not sent empty."""
    order = to_order(_row())
    assert order == OrderRequest(
        group_id=11623282,
        name="ABC Company",
        match_type=MatchType.LOCAL_TO_NUMBER,
        termination_number="4165551234",
        local_to_number="9056372046",
    )
    assert "number_match_filter" not in order.body()["phone_number_request"]


def test_recording_and_whisper_features() -> None:
    """record_calls and the messages become call_record and whisper features."""
    order = to_order(
        _row(record_calls=True, recording_message="This call is recorded", whisper_message="Ad")
    )
    assert order.body()["call_routes"]["route"]["features"] == {
        "call_record": {
            "enabled": True,
            "record": True,
            "notification_text": "This call is recorded",
        },
        "whisper": {"enabled": True, "notification_text": "Ad"},
    }


def test_record_calls_no_turns_recording_off() -> None:
    """record_calls=no sends recording disabled and no notification text."""
    order = to_order(_row(record_calls=False, recording_message="unused"))
    features = order.body()["call_routes"]["route"]["features"]
    assert features == {"call_record": {"enabled": False, "record": False}}


def test_orders_of_a_sheet_equal_each_rows_own_order() -> None:
    """to_orders on a sheet's columns gives, row by row, exactly what to_order gives."""
    rows = [
        _row(
            name=f"Shop {i}",
            match_type=match_type,
            local_to_number=local,
            city=city,
            state=state,
            number_match_filter=filter_,
            record_calls=record,
            recording_message=recording,
            whisper_message=whisper,
        )
        for i, (match_type, local, city, state, filter_, record, recording, whisper) in enumerate(
            itertools.product(
                MatchType,
                ("", "9056372046"),
                ("", "Atlanta"),
                ("", "GA"),
                ("", "404", "404399"),
                (None, True, False),
                ("", "This call may be recorded"),
                ("", "Call from web"),
            )
        )
    ]
    frame = pd.DataFrame(rows, columns=NormalisedRow._fields, dtype=object)
    assert to_orders(frame) == [to_order(row) for row in rows]
    assert to_orders(frame.iloc[:0]) == []
