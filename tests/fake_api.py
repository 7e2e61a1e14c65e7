"""A small Telmetrics-like API for ``httpx.MockTransport``, plus a fake clock.

The fake keeps a ledger of every number it ever created, applies the API's name suffix rule
(``ABC`` → ``ABC 2``), pages listings, and answers each create with a scripted fault:

``ok``, ``503`` (nothing created), ``429``, ``500_after`` (created, then 500),
``drop_after`` (created, then the connection drops), ``timeout_after`` (created, no answer),
``timeout_before`` (nothing created, no answer), ``late`` (created a little later, after the
client gave up), ``connect`` (never reaches the server), ``garbled`` (created, unreadable 200),
``404``, ``401``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from batchprov.models import CheckedRow, MatchType, OrderRequest

TOKEN = "s3cret-token-value"
API = "https://api.test/v3/api"


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)


@dataclass
class FakeApi:
    """A callable MockTransport handler with a ledger."""

    clock: Callable[[], float] = field(default_factory=lambda: FakeClock())
    token: str = TOKEN
    list_lag: float = 0.0
    late: float = 0.5
    page_size_cap: int = 1000
    unknown_groups: set[int] = field(default_factory=set)
    faults: deque[str] = field(default_factory=deque)
    fault_fn: Callable[[int], str] | None = None
    ledger: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    revoke_after_posts: int | None = None
    list_faults: deque[str] = field(default_factory=deque)

    def transport(self) -> httpx.MockTransport:
        """A transport that sends every request to this fake."""
        return httpx.MockTransport(self)

    def script(self, *faults: str) -> FakeApi:
        """Queue faults for the next creates (then ``ok``)."""
        self.faults.extend(faults)
        return self

    def seed(self, group_id: int, name: str) -> dict[str, Any]:
        """A number that exists before any run (made by someone else)."""
        return self._create(group_id, name, visible_at=float("-inf"))

    @property
    def posts(self) -> int:
        return sum(1 for method, _ in self.requests if method == "POST")

    def bought(self, group_id: int | None = None) -> Counter[str]:
        """Purchases per requested (casefolded) name, excluding seeded numbers."""
        return Counter(
            n["requested_name"].strip().casefold()
            for n in self.ledger
            if not n["seeded"] and (group_id is None or n["group_id"] == group_id)
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("x-organization-token") != self.token or self._revoked():
            return httpx.Response(401, text="Unauthorized")
        parts = request.url.path.split("/")
        group_id = int(parts[-2])
        if group_id in self.unknown_groups:
            return httpx.Response(404, text=f"Group {group_id} not found")
        if request.method == "GET":
            return self._list(request, group_id)
        return self._post(request, group_id)

    def _revoked(self) -> bool:
        limit = self.revoke_after_posts
        return limit is not None and self.posts > limit

    def _post(self, request: httpx.Request, group_id: int) -> httpx.Response:
        body = json.loads(request.content)
        fault = self.faults.popleft() if self.faults else "ok"
        if fault == "ok" and self.fault_fn is not None:
            fault = self.fault_fn(self.posts)
        return _FAULTS[fault](self, request, group_id, body["name"])

    def _list(self, request: httpx.Request, group_id: int) -> httpx.Response:
        if self.list_faults:
            fault = self.list_faults.popleft()
            if fault == "drop":
                raise httpx.RemoteProtocolError("dropped", request=request)
            return httpx.Response(int(fault), text="listing trouble")
        size = min(int(request.url.params.get("pagesize", 1000)), self.page_size_cap)
        page = int(request.url.params.get("pagenumber", 1))
        now = self.clock()
        visible = [n for n in self.ledger if n["group_id"] == group_id and n["visible_at"] <= now]
        chunk = visible[(page - 1) * size : page * size]
        envelope = {
            "results": [_public(n) for n in chunk],
            "paging": {"pageNumber": page, "pageSize": size, "total": len(visible)},
        }
        return httpx.Response(200, json=envelope)

    def _create(self, group_id: int, name: str, *, visible_at: float) -> dict[str, Any]:
        taken = {n["name"].casefold() for n in self.ledger if n["group_id"] == group_id}
        assigned, suffix = name, 1
        while assigned.casefold() in taken:
            suffix += 1
            assigned = f"{name} {suffix}"
        number_id = 8660000 + len(self.ledger)
        entry = {
            "id": number_id,
            "name": assigned,
            "requested_name": name,
            "group_id": group_id,
            "status": "Active",
            "phone_number": f"289{number_id:07d}",
            "created_datetime": "2025-01-02T03:04:05Z",
            "call_routes": {"route_type": "Basic", "route": {"id": 31000000 + len(self.ledger)}},
            "visible_at": visible_at,
            "seeded": visible_at == float("-inf"),
        }
        self.ledger.append(entry)
        return entry

    def _commit(self, group_id: int, name: str, delay: float = 0.0) -> dict[str, Any]:
        return self._create(group_id, name, visible_at=self.clock() + self.list_lag + delay)


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    hidden = {"requested_name", "visible_at", "seeded"}
    return {k: v for k, v in entry.items() if k not in hidden}


def _ok(api: FakeApi, request: httpx.Request, gid: int, name: str) -> httpx.Response:
    return httpx.Response(200, json=_public(api._commit(gid, name)))


def _raise(exc: type[httpx.TransportError], create: bool, delay: float = 0.0) -> Any:
    def fault(api: FakeApi, request: httpx.Request, gid: int, name: str) -> httpx.Response:
        if create:
            api._commit(gid, name, api.late if delay < 0 else delay)
        raise exc("fault", request=request)

    return fault


def _status(code: int, create: bool, text: str, headers: dict[str, str] | None = None) -> Any:
    def fault(api: FakeApi, request: httpx.Request, gid: int, name: str) -> httpx.Response:
        if create:
            api._commit(gid, name)
        return httpx.Response(code, text=text.format(gid=gid), headers=headers)

    return fault


def _garbled(api: FakeApi, request: httpx.Request, gid: int, name: str) -> httpx.Response:
    api._commit(gid, name)
    return httpx.Response(200, text='{"id": 12, "phone_nu')


_FAULTS: dict[str, Callable[[FakeApi, httpx.Request, int, str], httpx.Response]] = {
    "ok": _ok,
    "503": _status(503, False, "Service Unavailable", {"Retry-After": "1"}),
    "429": _status(429, False, "Too Many Requests", {"Retry-After": "1"}),
    "500_after": _status(500, True, "Internal Server Error"),
    "404": _status(404, False, "Group {gid} not found"),
    "400": _status(400, False, "phone_number_request.local_to_number is invalid"),
    "401": _status(401, False, "Unauthorized"),
    "drop_after": _raise(httpx.RemoteProtocolError, True),
    "timeout_after": _raise(httpx.ReadTimeout, True),
    "timeout_before": _raise(httpx.ReadTimeout, False),
    "late": _raise(httpx.ReadTimeout, True, -1.0),
    "connect": _raise(httpx.ConnectError, False),
    "garbled": _garbled,
}


def order(name: str, group_id: int = 11623282, **extra: Any) -> OrderRequest:
    """A toll-free order with the given name."""
    return OrderRequest(
        group_id=group_id,
        name=name,
        match_type=MatchType.TOLLFREE,
        termination_number="4165551234",
        **extra,
    )


def rows(names: Iterable[str], group_id: int = 11623282, start: int = 0) -> list[CheckedRow]:
    """Checked rows ordering one toll-free number per name."""
    return [
        CheckedRow(index=start + i, excel_row=start + i + 2, order=order(n, group_id))
        for i, n in enumerate(names)
    ]
