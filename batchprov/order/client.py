"""The only module that speaks HTTP to the Telmetrics V3 API.

A create (``POST /groups/{id}/numbers``) buys a number and has no idempotency key, so it is
never retried here: `ApiClient.create_number` sends it once and classifies what came back
(`Kind`), and the runner decides what to do. Listing a group's numbers is a GET and safe to
repeat, so `ApiClient.list_numbers` retries transient failures itself.

The token travels only in the ``x-organization-token`` header; it and any URL credentials are
scrubbed from every text this module produces, before the text is cut, in case a server echoes
them. No answer can hold the client up: each request has a total deadline (a body trickled a
byte at a time cannot stretch it) and a size cap, and a listing whose pages loop, never end or
disagree with each other fails instead of being followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import math
import random
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from enum import StrEnum
from typing import Any

import httpx

from batchprov._version import __version__
from batchprov.order.rate import backoff
from batchprov.redact import Redactor, display_url

USER_AGENT = f"batchprov/{__version__}"
PAGE_SIZE = 1000
#: Most characters of an error body kept in a row's error text.
BODY_EXCERPT = 300
#: Largest answer read, in bytes (after decompression): a listing page of 1,000 numbers is
#: well under 1 MB. A larger answer is not read: it counts as unreadable.
MAX_BODY = 8 * 2**20
#: Most pages one listing may take: a million numbers at the page size asked.
MAX_PAGES = 1000

Pace = Callable[[], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


class Kind(StrEnum):
    """What a create attempt tells about the purchase."""

    CREATED = "created"  # 2xx with a readable number: bought
    AMBIGUOUS = "ambiguous"  # may or may not have bought: reconcile before any resend
    NOT_SENT = "not sent"  # never reached the server: safe to resend
    THROTTLED = "throttled"  # 429: refused before processing, resend later
    AUTH = "auth rejected"  # 401/403: stop the whole run
    PERMANENT = "permanent"  # other 4xx: the row's own error


@dataclass(frozen=True, slots=True)
class Number:
    """A tracking number as the API describes it (create response or listing entry)."""

    id: str
    phone_number: str
    name: str
    group_id: str | None = None
    route_id: str | None = None
    created_datetime: str | None = None
    termination_number: str | None = None  # where its calls ring (``call_routes.route``)
    #: The JSON object as the API sent it (call routes, features …), for export and update.
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: object) -> Number | None:
        """The number in a JSON object, or None when ``id`` or ``phone_number`` is missing."""
        if not isinstance(data, dict):
            return None
        if data.get("id") in (None, "") or data.get("phone_number") in (None, ""):
            return None
        return cls(
            id=str(data["id"]),
            phone_number=str(data["phone_number"]),
            name=str(data.get("name") or ""),
            group_id=_text(data.get("group_id")),
            route_id=_route_id(data),
            created_datetime=_text(data.get("created_datetime")),
            termination_number=_route_field(data, "termination_number"),
            data=data,
        )


@dataclass(frozen=True, slots=True)
class CreateResult:
    """The classified answer to one create attempt.

    Attributes:
        kind: what the answer means for the purchase.
        detail: a readable account (``HTTP 404: Group 999 not found``, ``no answer within 30 s``).
        number: the number bought, for ``CREATED``.
        status: the HTTP status, when an answer arrived.
        retry_after: seconds the server asked to wait (429/503), if it said so.
        transport: True when the failure was the connection's (counts for the breaker).
        claimed: a 2xx, which says it bought, whose answer does not say what (no id or
            phone_number, not JSON, or not read whole): a reconcile may find the number, but
            its absence from a listing never makes the order safe to send again.
    """

    kind: Kind
    detail: str
    number: Number | None = None
    status: int | None = None
    retry_after: float | None = None
    transport: bool = False
    #: A 2xx without a number it describes: the API says it bought.
    claimed: bool = False


class Answer(StrEnum):
    """What the answer to a request about one number (GET, PUT, DELETE) says."""

    OK = "ok"  # 2xx: done (PUT/DELETE applied; GET shows the number)
    GONE = "gone"  # 404/410: the account has no such number
    AMBIGUOUS = "ambiguous"  # sent, answer lost or 5xx: the change may have been applied
    NOT_SENT = "not sent"  # never reached the server
    THROTTLED = "throttled"  # 429: not processed, send again later
    AUTH = "auth rejected"  # 401/403
    PERMANENT = "permanent"  # another 4xx: refused


@dataclass(frozen=True, slots=True)
class Reply:
    """The classified answer to a request about one number."""

    answer: Answer
    detail: str
    data: dict[str, Any] | None = None
    status: int | None = None
    retry_after: float | None = None


class ApiError(Exception):
    """A listing could not be completed."""


class BodyUnread(Exception):
    """An answer's status line arrived, but not its whole body: larger than the client reads,
    or (a 2xx only) cut by the deadline, a dropped connection or a broken encoding."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TokenRejected(ApiError):
    """The API answered 401 or 403: the token is not accepted."""


class ListingFailed(ApiError):
    """A listing failed after its retries (network, 5xx, inconsistent pages)."""


class ListingRefused(ApiError):
    """The API refused a listing for good (a 4xx such as 404 for an unknown group)."""


class ListingInconsistent(ListingFailed):
    """The pages of one pass did not add up (totals changed, a page repeated); worth a retry."""


class ListingUnusable(ListingRefused):
    """The listing cannot be followed for good: endless or looping pages, or still
    inconsistent after every retry. The group's numbers cannot be known from this API."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer read in full (within the deadline and the size cap)."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


class ApiClient:
    """One ``httpx.AsyncClient`` for one run, with explicit timeouts and pool limits."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        list_attempts: int = 4,
        deadline: float | None = None,
        max_body: int = MAX_BODY,
        max_pages: int = MAX_PAGES,
        redactor: Redactor | None = None,
    ) -> None:
        # The URL requests go to may hold credentials; only `shown_url` is ever displayed.
        self.api_url = api_url.rstrip("/")
        self.shown_url = display_url(self.api_url)
        self.timeout = timeout
        #: Longest a request may take in all, from sending to the last byte of the answer.
        self.deadline = timeout if deadline is None else deadline
        self.max_body = max_body
        self.max_pages = max_pages
        self.redactor = redactor or Redactor.of(token, api_url)
        self._sleep = sleep
        self._list_attempts = list_attempts
        self._rng = random.Random()
        #: Requests sent, by method: POST (creates), GET (listing pages, probes, one number),
        #: PUT (updates) and DELETE (releases).
        self.sent: dict[str, int] = {"POST": 0, "GET": 0, "PUT": 0, "DELETE": 0}
        self._http = httpx.AsyncClient(
            headers={
                "x-organization-token": token,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(
                connect=min(10.0, timeout), read=timeout, write=timeout, pool=timeout
            ),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
            verify=tls_context() if transport is None else True,
        )

    def __repr__(self) -> str:
        return f"ApiClient({self.shown_url!r})"

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def create_number(self, group_id: int, body_json: str) -> CreateResult:
        """Send one create, once, and classify the answer. Never raises for HTTP trouble."""
        url = f"{self.api_url}/groups/{group_id}/numbers"
        headers = {"Content-Type": "application/json"}
        self.sent["POST"] += 1
        try:
            response = await self._request("POST", url, content=body_json.encode(), headers=headers)
        except _NOT_SENT as exc:
            return CreateResult(Kind.NOT_SENT, self._describe(exc), transport=True)
        except TimeoutError:
            return CreateResult(Kind.AMBIGUOUS, self._late(), transport=True)
        except BodyUnread as exc:  # a 2xx says it bought, even unread: never re-sent
            claimed = _is_success(exc.status)
            return CreateResult(Kind.AMBIGUOUS, str(exc), status=exc.status, claimed=claimed)
        except httpx.TransportError as exc:
            return CreateResult(Kind.AMBIGUOUS, self._describe(exc), transport=True)
        except httpx.HTTPError as exc:
            return CreateResult(Kind.AMBIGUOUS, self._describe(exc))
        return self._classify(response)

    async def _request(self, method: str, url: str, **kwargs: Any) -> HttpAnswer:
        """Send one request and read its answer within the deadline and the size cap.

        Raises `BodyUnread` past the cap, and when a 2xx's body is cut short; otherwise
        TimeoutError past the deadline, httpx errors.
        """
        status: list[int] = []  # the status line, once it arrived
        try:
            return await self._read(method, url, status, **kwargs)
        except (TimeoutError, httpx.TransportError, httpx.DecodingError) as exc:
            if not status or not _is_success(status[0]):
                raise
            cut = self._late() if isinstance(exc, TimeoutError) else self._describe(exc)
            raise BodyUnread(f"HTTP {status[0]}, then {cut}", status[0]) from None

    async def _read(self, method: str, url: str, status: list[int], **kwargs: Any) -> HttpAnswer:
        async with asyncio.timeout(self.deadline):
            async with self._http.stream(method, url, **kwargs) as response:
                status.append(response.status_code)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_body:
                    raise self._too_large(response.status_code)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body:
                        raise self._too_large(response.status_code)
                    chunks.append(chunk)
                return HttpAnswer(
                    response.status_code, response.reason_phrase, response.headers, b"".join(chunks)
                )

    def _too_large(self, status: int) -> BodyUnread:
        size = f"{self.max_body / 2**20:g} MB"
        return BodyUnread(f"HTTP {status} with an answer larger than {size} (not read)", status)

    def _late(self) -> str:
        return f"no complete answer within {self.deadline:g} s"

    async def list_numbers(self, group_id: int, *, pace: Pace | None = None) -> list[Number]:
        """Every number of the group, all pages; retried on transient failures.

        Raises `TokenRejected` on 401/403 and `ListingFailed` when retries run out.
        """
        last: ListingFailed = ListingFailed("no attempt")
        for attempt in range(1, self._list_attempts + 1):
            try:
                return await self._list_once(group_id, pace)
            except ListingFailed as exc:
                last = exc
            if attempt < self._list_attempts:
                await self._sleep(backoff(attempt, base=0.25, cap=4.0, rng=self._rng))
        if isinstance(last, ListingInconsistent):
            # Pages that never agree are not a passing outage: following them again would
            # only send more requests.
            raise ListingUnusable(
                f"listing group {group_id} is unusable: {last} "
                f"(in each of {self._list_attempts} tries)"
            )
        raise ListingFailed(f"listing group {group_id} failed: {last}")

    async def get_number(self, number_id: str) -> Reply:
        """``GET /numbers/{id}``: the number as the account has it (``Reply.data``)."""
        return await self._one("GET", number_id)

    async def update_number(self, number_id: str, body: dict[str, Any]) -> Reply:
        """``PUT /numbers/{id}`` with ``body`` (the number as read, with the changes made)."""
        return await self._one("PUT", number_id, body)

    async def delete_number(self, number_id: str) -> Reply:
        """``DELETE /numbers/{id}``: release the number. Sent once; the caller verifies."""
        return await self._one("DELETE", number_id)

    async def _one(self, method: str, number_id: str, body: object = None) -> Reply:
        """One request about one number, sent once and classified; never raises for HTTP."""
        url = f"{self.api_url}/numbers/{number_id}"
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        self.sent[method] += 1
        try:  # the same total deadline and size cap as a create
            response = await self._request(method, url, content=content, headers=headers)
        except _NOT_SENT as exc:
            return Reply(Answer.NOT_SENT, self._describe(exc))
        except TimeoutError:
            return Reply(Answer.AMBIGUOUS, self._late())
        except BodyUnread as exc:
            return Reply(Answer.AMBIGUOUS, str(exc), status=exc.status)
        except httpx.HTTPError as exc:
            return Reply(Answer.AMBIGUOUS, self._describe(exc))
        status = response.status_code
        if response.is_success:
            data = _json_or_none(response)
            if method == "GET" and not isinstance(data, dict):
                return Reply(
                    Answer.AMBIGUOUS, f"HTTP {status} with an unreadable body", None, status
                )
            shown = data if isinstance(data, dict) else None
            return Reply(Answer.OK, f"HTTP {status}", shown, status)
        text = self._status_text(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (404, 410):
            return Reply(Answer.GONE, text, status=status)
        if status in (401, 403):
            return Reply(Answer.AUTH, text, status=status)
        if status == 429:
            return Reply(Answer.THROTTLED, text, status=status, retry_after=retry_after)
        if status in (408, 409) or status >= 500:
            return Reply(Answer.AMBIGUOUS, text, status=status, retry_after=retry_after)
        return Reply(Answer.PERMANENT, text, status=status)

    async def probe(self, group_id: int) -> None:
        """One small listing request, to see whether the API answers at all."""
        await self._get_page(group_id, 1, page_size=1)

    async def _list_once(self, group_id: int, pace: Pace | None) -> list[Number]:
        """One pass over the pages; fails if the pages do not add up to ``paging.total``.

        The first page fixes the number of pages (``paging.total`` over the page size): a
        later page announcing another total or size, a page repeating the one before, a page
        holding more than its size, or more pages than `max_pages` end the pass.
        """
        seen: dict[str, Number] = {}
        page, pages = 1, 1
        first: tuple[int, int] | None = None
        previous: list[str] = []
        while page <= pages:
            if pace is not None:
                await pace()
            results, total, size = await self._get_page(group_id, page, page_size=PAGE_SIZE)
            if first is None:
                first = (total, size)
                pages = max(1, -(-total // size)) if size > 0 else 1  # exact for any int
                if pages > self.max_pages:
                    raise ListingUnusable(
                        f"listing group {group_id} is unusable: it would take {_count(pages)} "
                        f"pages (paging.total {_count(total)}, page size {_count(size)}); at most "
                        f"{self.max_pages:,} are read"
                    )
            elif (total, size) != first:
                raise ListingInconsistent(
                    f"paging changed between pages (total {_count(first[0])} then {_count(total)}, "
                    f"page size {first[1]} then {size})"
                )
            ids = [n.id for n in results]
            if size > 0 and len(ids) > size:
                raise ListingInconsistent(
                    f"page {page} held {len(ids)} numbers for a size of {size}"
                )
            if ids and ids == previous:
                raise ListingInconsistent(f"page {page} repeats page {page - 1}")
            previous = ids
            for number in results:
                seen[number.id] = number
            page += 1
        total = first[0] if first else 0
        if len(seen) < total:
            raise ListingInconsistent(f"pages held {len(seen)} numbers, paging.total says {total}")
        return list(seen.values())

    async def _get_page(
        self, group_id: int, page: int, *, page_size: int
    ) -> tuple[list[Number], int, int]:
        """One page: (numbers, paging.total, paging.pageSize)."""
        url = f"{self.api_url}/groups/{group_id}/numbers"
        params = {"pagesize": page_size, "pagenumber": page}
        self.sent["GET"] += 1
        try:
            response = await self._request("GET", url, params=params)
        except TimeoutError:
            raise ListingFailed(self._late()) from None
        except BodyUnread as exc:
            raise ListingFailed(str(exc)) from None
        except httpx.HTTPError as exc:
            raise ListingFailed(self._describe(exc)) from None
        status = response.status_code
        if status in (401, 403):
            raise TokenRejected(self._status_text(response))
        if 400 <= status < 500 and status not in (408, 409, 429):
            raise ListingRefused(self._status_text(response))
        if not response.is_success:
            raise ListingFailed(self._status_text(response))
        return self._parse_page(response, page_size)

    def _parse_page(self, response: HttpAnswer, page_size: int) -> tuple[list[Number], int, int]:
        try:
            data = response.json()
            raw, paging = data["results"], data.get("paging") or {}
            total = int(paging.get("total", len(raw)))
            size = int(paging.get("pageSize") or paging.get("pagesize") or page_size)
            if not isinstance(raw, list) or total < 0 or size < 0:
                raise TypeError("results is not a list, or paging is negative")
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
            OverflowError,  # a total of 1e400
        ) as exc:
            raise ListingFailed(f"unreadable listing page ({type(exc).__name__})") from None
        numbers = [n for n in (Number.from_json(item) for item in raw) if n is not None]
        if len(numbers) != len(raw):
            raise ListingFailed("a listing entry has no id or phone_number")
        return numbers, total, size

    def _classify(self, response: HttpAnswer) -> CreateResult:
        """Map an HTTP answer to a create outcome (docs/design.md §4)."""
        status = response.status_code
        if response.is_success:
            data = _json_or_none(response)
            number = Number.from_json(data)
            if number is None:
                detail = f"HTTP {status} with an unreadable body"
                if isinstance(data, dict):
                    detail = f"HTTP {status} without the number's id and phone_number"
                return CreateResult(Kind.AMBIGUOUS, detail, status=status, claimed=True)
            return CreateResult(Kind.CREATED, f"HTTP {status}", number=number, status=status)
        text = self._status_text(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            return CreateResult(Kind.AUTH, text, status=status)
        if status == 429:
            return CreateResult(Kind.THROTTLED, text, status=status, retry_after=retry_after)
        if status in (408, 409) or status >= 500:
            return CreateResult(Kind.AMBIGUOUS, text, status=status, retry_after=retry_after)
        return CreateResult(Kind.PERMANENT, text, status=status)

    def _status_text(self, response: HttpAnswer | httpx.Response) -> str:
        """``HTTP <status>: <body as received, scrubbed, then trimmed>`` (or the reason)."""
        body = response.text.strip() or response.reason_phrase
        return f"HTTP {response.status_code}: {self.redactor.cut(body, BODY_EXCERPT)}"

    def _describe(self, exc: Exception) -> str:
        """A short account of a transport failure, without the token."""
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            what = "no answer" if isinstance(exc, httpx.ReadTimeout) else "timed out"
            return f"{name}: {what} within {self.timeout:g} s"
        message = str(exc).strip()
        return self.redactor.cut(f"{name}: {message}" if message else name, BODY_EXCERPT)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" or "1e400" is a very long wait; "nan" says nothing
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def _count(n: int) -> str:
    """A count from an answer as people read it: an absurd one is not printed in full."""
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


def says_bought(detail: str) -> bool:
    """True for the detail of a ``claimed`` answer (a 2xx not saying what it bought): the
    journal keeps only that text, and a later run's reconcile reads the claim back from it."""
    return re.match(r"HTTP 2\d\d\b", detail) is not None


def _is_success(status: int) -> bool:
    return 200 <= status < 300


def _json_or_none(response: HttpAnswer | httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def _route_id(data: dict[Any, Any]) -> str | None:
    """``call_routes.route.id``, if present."""
    return _route_field(data, "id")


def _route_field(data: dict[Any, Any], name: str) -> str | None:
    """``call_routes.route.<name>``, if present."""
    routes = data.get("call_routes")
    route = routes.get("route") if isinstance(routes, dict) else None
    return _text(route.get(name)) if isinstance(route, dict) else None


def tls_context() -> ssl.SSLContext:
    """The certificate-checking TLS context every client of the process shares.

    httpx builds one per client by default, loading the whole CA bundle each time (about
    60 ms); a run makes one client to list the account and one to order. A caller while
    another thread builds it waits for that one (`warm_tls_context`).
    """
    with _TLS_LOCK:
        return _tls_context()


def warm_tls_context() -> None:
    """Build `tls_context` in the background now.

    OpenSSL reads the CA bundle without holding the interpreter, so for a command that still
    imports pandas the bundle is read on the other core meanwhile.
    """
    threading.Thread(target=_warm_tls, name="tls-context", daemon=True).start()


def _warm_tls() -> None:
    # A bundle that cannot be read is the first client's error to report, in one line: a
    # failure is not cached, so that client builds the context again and raises.
    with contextlib.suppress(Exception):
        tls_context()


_TLS_LOCK = threading.Lock()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
