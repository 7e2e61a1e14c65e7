"""The client against a hostile server on a real socket: bounded in time, size and pages."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from hostile_api import ESCAPES, TOKEN, HostileApi

from batchprov.order.client import (
    Answer,
    ApiClient,
    CreateResult,
    Kind,
    ListingFailed,
    ListingUnusable,
    parse_retry_after,
)
from batchprov.redact import PIECE

T = TypeVar("T")
BODY = json.dumps({"name": "Dental", "phone_number_request": {"local_to_number": "9056372046"}})


def pieces(secret: str) -> list[str]:
    """Every `PIECE`-long substring of ``secret``."""
    return [secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)]


def leaks(text: str, secret: str = TOKEN) -> list[str]:
    """The pieces of ``secret`` found in ``text``."""
    return [p for p in pieces(secret) if p in text]


async def _no_sleep(seconds: float) -> None:
    return None


def with_client(
    url: str,
    go: Callable[[ApiClient], Awaitable[T]],
    *,
    timeout: float = 2.0,
    token: str = TOKEN,
    **kw: object,
) -> tuple[T, float]:
    """Run ``go(client)`` against ``url``; return its result and the seconds it took."""

    async def main() -> T:
        async with ApiClient(url, token, timeout=timeout, sleep=_no_sleep, **kw) as client:  # type: ignore[arg-type]
            return await go(client)

    started = time.monotonic()
    result = asyncio.run(asyncio.wait_for(main(), 60))
    return result, time.monotonic() - started


def create_in(mode: str, **kw: object) -> tuple[CreateResult, float, HostileApi]:
    with HostileApi(mode) as api:
        result, took = with_client(api.url, lambda c: c.create_number(5, BODY), **kw)
    return result, took, api


def test_trickled_create_answer_is_cut_at_the_deadline() -> None:
    """A create answer trickled a byte per half second is unknown after the deadline, not later."""
    result, took, api = create_in("trickle")
    assert result.kind is Kind.AMBIGUOUS
    assert "no complete answer within 2 s" in result.detail
    assert took < 5
    assert api.bought["Dental"] == 1  # it did buy: the runner must reconcile, not resend


def test_trickled_listing_fails_within_its_deadlines() -> None:
    """A trickled listing page fails each try at the deadline; the listing fails, bounded."""
    with HostileApi("trickle_all") as api:
        api._buy(5, "Seed")
        with pytest.raises(ListingFailed, match="no complete answer"):
            with_client(api.url, lambda c: c.list_numbers(5), timeout=1.0)
        assert api.gets == 4


def test_huge_create_answer_is_not_read_past_the_cap() -> None:
    """A 100 MB create answer stops being read at the cap and counts as unknown (reconcile)."""
    result, took, _ = create_in("huge")
    assert result.kind is Kind.AMBIGUOUS
    assert "larger than 8 MB" in result.detail
    assert result.status == 200
    assert took < 20


def test_small_cap_is_honoured() -> None:
    """The size cap is the client's option: a 1 MB cap stops a 100 MB answer at 1 MB."""
    result, _, _ = create_in("huge", max_body=2**20)
    assert "larger than 1 MB" in result.detail


def test_huge_listing_page_fails_the_listing() -> None:
    """A listing page past the cap fails the listing instead of filling memory."""
    with HostileApi("huge_list") as api, pytest.raises(ListingFailed, match="larger than"):
        with_client(api.url, lambda c: c.list_numbers(5))


def test_an_infinite_paging_total_fails_the_listing_clearly() -> None:
    """A paging.total of 1e400 (a float infinity) is an unreadable page, not a crash."""
    with HostileApi("infinite_total") as api, pytest.raises(ListingFailed, match="unreadable"):
        with_client(api.url, lambda c: c.list_numbers(5))


@pytest.mark.parametrize(
    ("mode", "gets", "why"),
    [
        ("endless", 8, "paging changed between pages"),
        ("too_many", 1, "would take 1,000,000 pages"),
        ("absurd_total", 1, r"would take about 10\^397 pages \(paging.total about 10\^400,"),
        ("looping", 8, "page 2 repeats page 1"),
    ],
)
def test_listing_that_cannot_end_is_unusable(mode: str, gets: int, why: str) -> None:
    """Endless, enormous or looping pages end in ListingUnusable after a few requests."""
    with HostileApi(mode) as api:
        with pytest.raises(ListingUnusable, match=why):
            with_client(api.url, lambda c: c.list_numbers(5))
        assert api.gets == gets


@pytest.mark.parametrize(
    ("mode", "least"), [("retry_after", 86400.0), ("retry_date", 60 * 365 * 86400.0)]
)
def test_long_retry_after_is_reported_as_given(mode: str, least: float) -> None:
    """A Retry-After of a day, or an HTTP date in 2099, is read as that many seconds."""
    result, _, _ = create_in(mode)
    assert result.kind is Kind.THROTTLED
    assert result.retry_after is not None and result.retry_after >= least


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nan", None), ("inf", float("inf")), ("1e400", float("inf")), ("-5", 0.0), ("soon", None)],
)
def test_retry_after_odd_values(value: str, expected: float | None) -> None:
    """Odd Retry-After values: nan says nothing, huge ones stay huge, negatives are 0."""
    assert parse_retry_after(value) == expected


def test_token_cut_across_the_excerpt_never_leaks() -> None:
    """A token straddling the 300-character cut of an error body leaves no piece of it."""
    with HostileApi("token_echo") as api:
        api.posts = 1  # the next create is the 400 whose body puts the token across the cut

        async def go(client: ApiClient) -> CreateResult:
            return await client.create_number(5, BODY)

        result, _ = with_client(api.url, go)
    assert result.kind is Kind.PERMANENT
    assert result.detail.startswith("HTTP 400: xxx")
    assert leaks(result.detail) == []


def test_an_escaped_echo_of_the_token_never_leaks() -> None:
    """400 bodies echoing a token with slashes JSON-escaped, percent-encoded or in base64: the
    result's text masks it, whatever the encoding."""
    token = "k7Hq2vLp/Z9xW4mRt/B6nY3cQe8"
    with HostileApi("token_escaped", token=token) as api:

        async def go(client: ApiClient) -> list[CreateResult]:
            return [await client.create_number(5, BODY) for _ in ESCAPES]

        results, _ = with_client(api.url, go, token=token)
    for result, (name, encode) in zip(results, ESCAPES.items(), strict=True):
        assert result.kind is Kind.PERMANENT
        assert result.detail == 'HTTP 400: {"message": "your token is ***"}', name
        assert encode(token)[:PIECE] not in result.detail


def test_url_credentials_are_used_but_never_shown() -> None:
    """user:pw in the API URL authenticates the request, but no text of the client shows it."""
    with HostileApi("ok") as api:
        url = api.url.replace("http://", "http://robot:Pa55w0rd-xyz@")

        async def go(client: ApiClient) -> str:
            await client.create_number(5, BODY)
            return f"{client!r} {client.shown_url}"

        shown, _ = with_client(url, go)
        assert api.auth_headers and api.auth_headers[0].startswith("Basic ")
    assert "Pa55w0rd" not in shown and "robot" not in shown


def test_connection_error_text_hides_url_credentials() -> None:
    """A failure's text never carries the URL's credentials."""
    url = "http://robot:Pa55w0rd-xyz@127.0.0.1:9/v3/api"
    result, _ = with_client(url, lambda c: c.create_number(5, BODY))
    assert result.kind is Kind.NOT_SENT
    assert "Pa55w0rd" not in result.detail


@pytest.mark.parametrize("mode", ["trickle", "huge"])
@pytest.mark.parametrize("method", ["get_number", "delete_number"])
def test_per_number_requests_have_the_same_deadline_and_cap(mode: str, method: str) -> None:
    """GET and DELETE /numbers/{id} (update, release) are cut at the deadline and the size cap."""
    with HostileApi(mode) as api:
        reply, took = with_client(api.url, lambda c: getattr(c, method)("8660001"))
    assert reply.answer is Answer.AMBIGUOUS
    assert ("no complete answer within 2 s" if mode == "trickle" else "larger than") in reply.detail
    assert took < 20
