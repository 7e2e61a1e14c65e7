"""The HTTP client: request shape, classification of every answer, listing, token hygiene."""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from orders import order
from purchases import TOKEN

from batchprov.order.client import (
    USER_AGENT,
    ApiClient,
    Kind,
    ListingFailed,
    ListingRefused,
    TokenRejected,
    parse_retry_after,
    tls_context,
    warm_tls_context,
)
from batchprov.sandbox import SandboxConfig, SandboxTransport, transport

#: The single-answer tests below need no server: each handler is the one answer under test.
API = "https://api.test/v3/api"
Handler = Callable[[httpx.Request], httpx.Response]


async def _no_sleep(seconds: float) -> None:
    return None


def create(handler: Handler, token: str = TOKEN) -> tuple[Kind, str, float | None]:
    """Send one create through ``handler``; return (kind, detail, retry_after)."""

    async def go() -> tuple[Kind, str, float | None]:
        transport = httpx.MockTransport(handler)
        async with ApiClient(API, token, timeout=7, transport=transport) as client:
            res = await client.create_number(42, order("A", 42).body_json())
        return res.kind, res.detail, res.retry_after

    return asyncio.run(go())


def answer(status: int, text: str = "", headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, text=text, headers=headers)


def fail(exc: type[Exception]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)  # type: ignore[call-arg]

    return handler


def test_request_carries_token_json_and_user_agent() -> None:
    """A create is a JSON POST with the token header and batchprov's User-Agent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "phone_number": "8005550100", "name": "A"})

    assert create(handler)[0] == Kind.CREATED
    request = seen[0]
    assert ("POST", f"{API}/groups/42/numbers") == (request.method, str(request.url))
    assert request.headers["x-organization-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert json.loads(request.content)["name"] == "A"


def test_timeouts_and_limits_are_explicit() -> None:
    """The client sets connect/read/write/pool timeouts and pool limits from the options."""

    async def go() -> httpx.AsyncClient:
        client = ApiClient(API, TOKEN, timeout=30, concurrency=5)
        await client.aclose()
        return client._http

    http = asyncio.run(go())
    assert httpx.Timeout(connect=10, read=30, write=30, pool=30) == http.timeout


@pytest.mark.parametrize(
    ("handler", "kind"),
    [
        (lambda r: httpx.Response(201, json={"id": 9, "phone_number": "1"}), Kind.CREATED),
        (answer(200, '{"id": 9, "phone'), Kind.AMBIGUOUS),
        (answer(200, '{"name": "no id"}'), Kind.AMBIGUOUS),
        (answer(401, "Unauthorized"), Kind.AUTH),
        (answer(403, "Forbidden"), Kind.AUTH),
        (answer(429, "slow down"), Kind.THROTTLED),
        (answer(408), Kind.AMBIGUOUS),
        (answer(409), Kind.AMBIGUOUS),
        (answer(500), Kind.AMBIGUOUS),
        (answer(502), Kind.AMBIGUOUS),
        (answer(503), Kind.AMBIGUOUS),
        (answer(504), Kind.AMBIGUOUS),
        (answer(400, "bad"), Kind.PERMANENT),
        (answer(404, "Group 999 not found"), Kind.PERMANENT),
        (answer(422, "bad"), Kind.PERMANENT),
        (fail(httpx.ConnectError), Kind.NOT_SENT),
        (fail(httpx.ConnectTimeout), Kind.NOT_SENT),
        (fail(httpx.PoolTimeout), Kind.NOT_SENT),
        (fail(httpx.ReadTimeout), Kind.AMBIGUOUS),
        (fail(httpx.WriteTimeout), Kind.AMBIGUOUS),
        (fail(httpx.WriteError), Kind.AMBIGUOUS),
        (fail(httpx.ReadError), Kind.AMBIGUOUS),
        (fail(httpx.RemoteProtocolError), Kind.AMBIGUOUS),
    ],
    ids=lambda v: getattr(v, "value", "case"),
)
def test_every_answer_is_classified(handler: Handler, kind: Kind) -> None:
    """Each status and transport failure maps to its row of the decision table."""
    assert kind == create(handler)[0]


def test_permanent_error_text_is_kept_and_trimmed() -> None:
    """A 4xx's body is kept as received, trimmed to about 300 characters."""
    assert create(answer(404, "Group 999 not found"))[1] == "HTTP 404: Group 999 not found"
    detail = create(answer(400, "x" * 1000))[1]
    assert detail.startswith("HTTP 400: xxx") and len(detail) < 320


def test_empty_error_body_uses_the_reason_phrase() -> None:
    """Without a body the status's reason phrase stands in."""
    assert create(answer(400))[1] == "HTTP 400: Bad Request"


def test_timeout_detail_names_the_wait() -> None:
    """A read timeout says how long the client waited."""
    assert create(fail(httpx.ReadTimeout))[1] == "ReadTimeout: no answer within 7 s"


def test_retry_after_is_read_from_429_and_503() -> None:
    """Retry-After in seconds is passed on with the answer."""
    assert create(answer(429, headers={"Retry-After": "3"}))[2] == 3.0
    assert create(answer(503, headers={"Retry-After": "2"}))[2] == 2.0


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP-date gives the seconds until then; bad values give None."""
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 5, usegmt=True)
    assert parse_retry_after(header, now=now) == 5.0
    assert parse_retry_after(email.utils.formatdate(now - 5, usegmt=True), now=now) == 0.0
    assert None is parse_retry_after("soon")
    assert None is parse_retry_after(None)


def test_token_is_scrubbed_from_error_text() -> None:
    """A server echoing the token does not get it into the error text."""
    detail = create(answer(400, f"bad token {TOKEN}"))[1]
    assert TOKEN not in detail and "***" in detail
    assert TOKEN not in repr(ApiClient(API, TOKEN))


def sandbox(
    *, token: str = TOKEN, groups: tuple[int, ...] = (7,), page_size_max: int = 1000
) -> SandboxTransport:
    """An in-process sandbox; by default its only group is 7 and it accepts TOKEN."""
    return transport(SandboxConfig(token=token, groups=groups, page_size_max=page_size_max))


def seed(api: SandboxTransport, name: str) -> None:
    """A number in group 7 that exists before the listing."""
    api.sandbox.create_number(7, order(name, 7).body())


def list_numbers(api: SandboxTransport, group_id: int = 7) -> list[str]:
    async def go() -> list[str]:
        async with ApiClient(api.url, TOKEN, transport=api, sleep=_no_sleep) as client:
            return [n.name for n in await client.list_numbers(group_id)]

    return asyncio.run(go())


def test_listing_reads_every_page() -> None:
    """All pages are fetched, as paging.total says."""
    api = sandbox(page_size_max=2)
    for i in range(5):
        seed(api, f"N{i}")
    assert [f"N{i}" for i in range(5)] == list_numbers(api)
    assert len(api.requests) == 3


def test_listing_retries_transient_failures() -> None:
    """A dropped connection or a 5xx on a page is retried (GET is safe)."""
    api = sandbox()
    seed(api, "N")
    api.sandbox.script_listings("drop", "503")
    assert list_numbers(api) == ["N"]
    assert len(api.requests) == 3


def test_listing_gives_up_after_its_retries() -> None:
    """Persistent failures end in ListingFailed."""
    api = sandbox()
    api.sandbox.script_listings(*["503"] * 10)
    with pytest.raises(ListingFailed, match="HTTP 503"):
        list_numbers(api)


def test_listing_401_and_404() -> None:
    """A 401 on a listing is TokenRejected; a 404 is ListingRefused with the API's text."""
    api = sandbox(token="other")
    with pytest.raises(TokenRejected):
        list_numbers(api)
    api = sandbox(groups=(8,))
    with pytest.raises(ListingRefused, match="HTTP 404: Group 7 not found"):
        list_numbers(api)


def test_clients_share_one_certificate_checking_tls_context() -> None:
    """Every client of a process uses one TLS context, and it checks certificates and hosts."""
    first = ApiClient("https://api.example.invalid/v3/api", "token")
    second = ApiClient("https://api.example.invalid/v3/api", "token")
    pools = [c._http._transport._pool for c in (first, second)]  # httpx's own transport
    contexts = [pool._ssl_context for pool in pools]
    assert contexts[0] is contexts[1] is tls_context()
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname


def test_the_tls_context_warmed_in_the_background_is_built_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client asking while warm_tls_context builds the context waits for that one."""
    from batchprov.order import client

    built: list[ssl.SSLContext] = []
    started = threading.Event()
    real = httpx.create_ssl_context

    def slow() -> ssl.SSLContext:
        started.set()
        time.sleep(0.2)
        built.append(real())
        return built[-1]

    monkeypatch.setattr(client.httpx, "create_ssl_context", slow)
    client._tls_context.cache_clear()
    try:
        warm_tls_context()
        assert started.wait(5)
        assert tls_context() is built[0]
        assert len(built) == 1
    finally:
        client._tls_context.cache_clear()


def test_a_bundle_that_cannot_be_read_is_reported_by_the_client_not_the_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """warm_tls_context keeps a failure to itself (no thread traceback on stderr); the
    client that needs the context then raises it, to be told in one line."""
    from batchprov.order import client

    tried: list[str] = []
    hooked: list[threading.ExceptHookArgs] = []

    def broken() -> ssl.SSLContext:
        tried.append(threading.current_thread().name)
        raise ssl.SSLError("no certificates in the bundle")

    monkeypatch.setattr(client.httpx, "create_ssl_context", broken)
    monkeypatch.setattr(threading, "excepthook", hooked.append)
    client._tls_context.cache_clear()
    try:
        warm_tls_context()
        for thread in threading.enumerate():
            if thread.name == "tls-context":
                thread.join(5)
        assert [] == hooked
        with pytest.raises(ssl.SSLError, match="no certificates"):
            tls_context()
        assert ["tls-context", threading.current_thread().name] == tried
    finally:
        client._tls_context.cache_clear()
