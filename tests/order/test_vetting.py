"""Every 2xx (and every adopted number) is checked before a row counts as provisioned."""

from __future__ import annotations

import pytest

from batchprov.order.client import Number
from batchprov.order.state import wait_text
from batchprov.order.vetting import review_text, vet
from batchprov.redact import REDACTED, Redactor

TOKEN = "Zq8vK3mW9xT2pL7nR4bY6cH1dF5gJ"
R = Redactor.of(TOKEN)


def number(**kw: str | None) -> Number:
    fields: dict[str, str | None] = {
        "id": "7001",
        "phone_number": "2898667001",
        "name": "ABC",
        "group_id": "5",
    }
    fields.update(kw)
    return Number(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["ABC", "abc", "ABC 2", " ABC 14 "])
def test_the_number_asked_for_passes(name: str) -> None:
    """Right phone, group and name (or its suffixed form): accepted as is."""
    vetted = vet(number(name=name), group_id=5, name="ABC", redactor=R)
    assert vetted.ok and vetted.number == number(name=name)


def test_missing_group_is_accepted() -> None:
    """An answer that does not say its group is not held against it."""
    assert vet(number(group_id=None), group_id=5, name="ABC", redactor=R).ok


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"phone_number": "123"}, "'123' is not a 10-digit North American number"),
        ({"phone_number": "=1+1"}, "'=1+1' is not a 10-digit"),
        ({"phone_number": "2890000001"}, "is not a 10-digit North American number"),
        ({"phone_number": "+442036950193"}, "is not a 10-digit"),
        ({"group_id": "6"}, "it is in group '6', not group 5"),
        ({"name": "ABC Company"}, "its name 'ABC Company' is not \"ABC\""),
        ({"name": "ABC 54x"}, 'is not "ABC"'),
        ({"id": "1 OR 1=1; --"}, "is not a number id"),
        ({"route_id": "r" * 500}, "route_id is 500 characters long"),
    ],
)
def test_anything_else_is_a_problem(changes: dict[str, str], problem: str) -> None:
    """Each wrong field is named in the problems; the number is not ok."""
    vetted = vet(number(**changes), group_id=5, name="ABC", redactor=R)
    assert not vetted.ok
    assert any(problem in p for p in vetted.problems), vetted.problems


def test_a_field_echoing_the_token_is_redacted() -> None:
    """A name holding the token is a problem, and the name kept is [redacted]."""
    vetted = vet(number(name=f"ABC {TOKEN}"), group_id=5, name="ABC", redactor=R)
    assert not vetted.ok
    assert vetted.number.name == REDACTED
    assert "contains the API token" in vetted.problems[0]
    text = review_text(vetted, answered="the API answered HTTP 201", group_id=5, name="ABC")
    assert TOKEN[:12] not in text and "It may have bought" in text


def test_review_text_names_what_came_back_and_what_to_check() -> None:
    """The review message quotes the answer (cut short) and says what to check."""
    vetted = vet(number(phone_number="9" * 100), group_id=5, name="ABC", redactor=R)
    text = review_text(vetted, answered="the API answered HTTP 201", group_id=5, name="ABC")
    assert text.startswith("the API answered HTTP 201, but its phone_number '9999")
    assert "check group 5 for \"ABC\" (number id '7001')" in text
    assert "9" * 41 not in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30 s"), (900, "15 min"), (86400, "24 h"), (10 * 86400, "10 days"),
     (73 * 365.25 * 86400, "73 years"), (float("inf"), "for ever")],
)  # fmt: skip
def test_wait_text(seconds: float, text: str) -> None:
    """Waits read the way a person says them."""
    assert wait_text(seconds) == text
