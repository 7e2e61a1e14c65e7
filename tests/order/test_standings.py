"""Where a row stands before a run: the journal first, then the account's numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from batchprov.models import CheckedRow, MatchType, OrderRequest
from batchprov.order.account import Account, Standing, same_name
from batchprov.order.client import Number
from batchprov.order.journal import Item, State, item_key
from batchprov.redact import Redactor

API = "https://api.example.com/v3/api"
GROUP = 11623282


def row(name: str = "ABC Plumbing", group: int = GROUP) -> CheckedRow:
    order = OrderRequest(
        group_id=group, name=name, match_type=MatchType.TOLLFREE, termination_number="4165551234"
    )
    return CheckedRow(index=0, excel_row=2, order=order, match_type=MatchType.TOLLFREE)


def item(state: State, name: str = "ABC Plumbing", payload: str | None = None) -> Item:
    body = payload if payload is not None else row(name).order.body_json()  # type: ignore[union-attr]
    return Item(
        key=item_key(API, GROUP, name), api_url=API, group_id=GROUP, name=name, payload=body,
        state=state, intent_id=None, intent_epoch=None, attempts=1, number_id=None, phone=None,
        actual_name=None, route_id=None, provisioned_at=None, resolved_by=None, last_error="x",
        review_numbers=None,
    )  # fmt: skip


def number(name: str, id_: str = "1") -> Number:
    return Number(id=id_, phone_number="8335550100", name=name, group_id=str(GROUP))


def account(*numbers: Number, items: tuple[Item, ...] = (), refused: bool = False) -> Account:
    return Account(
        API,
        listings={GROUP: numbers},
        refused={GROUP: "HTTP 404: no such group"} if refused else {},
        items={i.key: i for i in items},
    )


@pytest.mark.parametrize(
    ("state", "standing"),
    [
        (State.DONE, Standing.IN_JOURNAL),
        (State.REVIEW, Standing.TO_REVIEW),
        (State.FAILED, Standing.FAILED_BEFORE),
        (State.INTENT, Standing.TO_RECONCILE),
        (State.UNKNOWN, Standing.TO_RECONCILE),
        (State.PENDING, Standing.TO_ORDER),
    ],
)
def test_the_journal_decides_first(state: State, standing: Standing) -> None:
    """A journal item's state gives the row's standing before the account is looked at."""
    assert standing is account(items=(item(state),)).holding(row()).standing


def test_a_name_in_the_account_is_found() -> None:
    """One number with the row's name: found, with that number."""
    holding = account(number("ABC Plumbing", "77")).holding(row())
    assert (Standing.FOUND, ("77",)) == (holding.standing, tuple(n.id for n in holding.numbers))


def test_same_name_ignores_case_and_spacing_not_suffixes() -> None:
    """Trimmed, inner spaces collapsed, any case: the same; the API's ' 2' suffix: another."""
    assert same_name("  abc   PLUMBING ", "ABC Plumbing")
    assert not same_name("ABC Plumbing 2", "ABC Plumbing")
    assert Standing.TO_ORDER is account(number("ABC Plumbing 2")).holding(row()).standing


def test_several_numbers_with_the_name_are_for_review() -> None:
    """Two numbers with the name: several, nothing to buy."""
    found = account(number("ABC Plumbing", "1"), number("abc plumbing", "2")).holding(row())
    assert Standing.SEVERAL is found.standing and len(found.numbers) == 2


def test_existing_order_buys_even_when_found() -> None:
    """adopt=False (--existing order) makes a found row one to order."""
    assert Standing.TO_ORDER is account(number("ABC Plumbing")).holding(row(), adopt=False).standing


def test_a_retried_failure_is_still_found_in_the_account() -> None:
    """--retry-failed does not buy a row whose name is in the account meanwhile."""
    found = account(number("ABC Plumbing"), items=(item(State.FAILED),))
    assert Standing.FOUND is found.holding(row(), retry_failed=True).standing
    assert Standing.FAILED_BEFORE is found.holding(row()).standing


def test_a_changed_failed_row_is_ordered_again() -> None:
    """A failure whose row changed since (another body) is sent again."""
    changed = account(items=(item(State.FAILED, payload='{"old": true}'),))
    assert Standing.TO_ORDER is changed.holding(row()).standing


def test_a_refused_group_is_said_so() -> None:
    """A group the API refused to list: the row's standing says so, with the API's text."""
    holding = account(refused=True).holding(row())
    assert (Standing.GROUP_REFUSED, "HTTP 404: no such group") == (holding.standing, holding.detail)


def test_offline_means_nothing_found() -> None:
    """Without a listing (an offline dry run) a row with no journal item is to order."""
    assert Standing.TO_ORDER is Account(API).holding(row()).standing


def test_an_implausible_number_in_the_account_is_suspect() -> None:
    """A listed number with the row's name but a phone like '123': to check, not adopted."""
    bad = Number(id="5", phone_number="123", name="ABC Plumbing", group_id=str(GROUP))
    holding = account(bad).holding(row())
    assert Standing.SUSPECT is holding.standing and "10-digit" in holding.detail


def test_a_found_number_is_scrubbed_of_the_token() -> None:
    """A listed field echoing the token is kept as [redacted], never as the token."""
    token = "tok-0123456789abcdef"
    echo = Number(id="5", phone_number="8335550100", name="ABC Plumbing", group_id=str(GROUP),
                  route_id=token)  # fmt: skip
    found = replace(account(echo), redactor=Redactor.of(token, API)).holding(row())
    assert token not in repr(found)
