"""The in-process transport and the sandbox's clock; connection faults over a real socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fake_clock import FakeClock
from sandbox_client import AUTH

from batchprov.sandbox import (
    Faults,
    SandboxConfig,
    SandboxTransport,
    create_app,
    serve_in_thread,
    transport,
)

GROUP = 11623282
BODY: Any = {
    "name": "ABC Company",
    "phone_number_request": {"match_type": "tollfree"},
    "call_routes": {"route_type": "Basic", "route": {"termination_number": "4043993433"}},
}


def on_clock(faults: Faults) -> tuple[SandboxTransport, FakeClock]:
    """A transport to a fresh sandbox with these faults, on a fake clock."""
    clock = FakeClock()
    return transport(SandboxConfig(faults=faults), clock=clock, sleep=clock.sleep), clock


def send(api: SandboxTransport, *requests: tuple[str, str], timeout: float = 5.0) -> list[Any]:
    """Send requests in turn through one client: each a response or the exception raised."""

    async def go() -> list[Any]:
        async with httpx.AsyncClient(transport=api, headers=AUTH, timeout=timeout) as client:
            answers: list[Any] = []
            for method, path in requests:
                body = BODY if method == "POST" else None
                try:
                    answers.append(await client.request(method, f"{api.url}{path}", json=body))
                except httpx.TransportError as error:
                    answers.append(error)
            return answers

    return asyncio.run(go())


CREATE = ("POST", f"/groups/{GROUP}/numbers")
LIST = ("GET", f"/groups/{GROUP}/numbers")


def test_transport_serves_a_sandbox_and_logs_requests() -> None:
    """Creates and listings reach the sandbox in process; the transport logs each request."""
    api = transport()
    created, listed = send(api, CREATE, LIST)
    assert created.status_code == 200 and listed.json()["results"] == [created.json()]
    path = f"/v3/api/groups/{GROUP}/numbers"
    assert api.requests == [("POST", path), ("GET", path)]
    assert (api.sent("POST"), api.sent("GET")) == (1, 1)
    assert api.url.startswith("http://sandbox.invalid/") and api.url.endswith("/v3/api")


def test_sandbox_outlives_its_clients() -> None:
    """A closed client leaves the transport working: the next client sees the same numbers."""
    api = SandboxTransport(create_app())
    send(api, CREATE)
    (second,) = send(api, CREATE)
    assert second.json()["name"] == "ABC Company 2"
    assert len(api.sandbox.ledger()) == 2


def test_connection_faults_raise_what_a_real_connection_raises() -> None:
    """Drop, no answer, never connected: httpx's own errors, each with the request attached."""
    api, _ = on_clock(Faults(script=("drop_after", "timeout_after", "timeout_before", "connect")))
    errors = send(api, CREATE, CREATE, CREATE, CREATE)
    assert [type(e) for e in errors] == [
        httpx.RemoteProtocolError,
        httpx.ReadTimeout,
        httpx.ReadTimeout,
        httpx.ConnectError,
    ]
    assert all(e.request.url.path == f"/v3/api/groups/{GROUP}/numbers" for e in errors)
    assert [e["requested_name"] for e in api.sandbox.ledger()] == ["ABC Company"] * 2


def test_list_lag_follows_the_sandbox_clock() -> None:
    """A new number joins listings once the sandbox's clock has moved past the lag."""
    api, clock = on_clock(Faults(list_lag_ms=2000))
    _, hidden = send(api, CREATE, LIST)
    clock.now += 1.99
    (still_hidden,) = send(api, LIST)
    clock.now += 0.01
    (shown,) = send(api, LIST)
    totals = [r.json()["paging"]["total"] for r in (hidden, still_hidden, shown)]
    assert totals == [0, 0, 1]


def test_late_answer_within_the_client_timeout_sleeps_on_the_sandbox_clock() -> None:
    """A late answer the client waits for takes late_seconds of sandbox time, not real time."""
    api, clock = on_clock(Faults(late_after_create=1, late_seconds=3))
    started = time.perf_counter()
    (answer,) = send(api, CREATE, timeout=5.0)
    assert answer.status_code == 200 and clock.slept == 3
    assert time.perf_counter() - started < 1


def test_late_answer_past_the_client_timeout_times_out_at_once() -> None:
    """When the answer would come after the client's read timeout, the client times out now."""
    api, clock = on_clock(Faults(late_after_create=1, late_seconds=30))
    (error,) = send(api, CREATE, timeout=5.0)
    assert isinstance(error, httpx.ReadTimeout) and clock.slept == 0
    assert len(api.sandbox.ledger()) == 1


def test_latency_and_rate_limit_follow_the_sandbox_clock() -> None:
    """Latency is slept on the sandbox's clock; the rate limit's window slides with it."""
    api, clock = on_clock(Faults(latency_ms=250, rate_limit=1))
    first, second = send(api, LIST, LIST)
    assert (first.status_code, second.status_code, clock.slept) == (200, 429, 0.5)
    clock.now += 1
    (third,) = send(api, LIST)
    assert third.status_code == 200


@pytest.fixture(scope="module")
def served() -> Any:
    with serve_in_thread(SandboxConfig()) as server:
        yield server


def post(server: Any, outcome: str, *, timeout: float = 0.3) -> httpx.Response:
    """One create over a real socket, scripted to meet ``outcome``."""
    server.state.set_faults(Faults(script=(outcome,)))
    with httpx.Client(headers=AUTH, timeout=timeout) as client:
        return client.post(f"{server.url}/groups/{GROUP}/numbers", json=BODY)


def count(server: Any, outcome: str) -> int:
    """Creates the served sandbox counted under one outcome."""
    return int(server.state.stats[f"POST /v3/api/groups/{{group_id}}/numbers {outcome}"])


def test_unanswered_create_over_a_socket_buys_and_times_out(served: Any) -> None:
    """timeout_after leaves a real socket unanswered: the client times out, the number exists."""
    before = len(served.state.ledger())
    with pytest.raises(httpx.ReadTimeout):
        post(served, "timeout_after")
    assert len(served.state.ledger()) == before + 1
    assert post(served, "ok").status_code == 200  # the server goes on serving


def test_unanswered_before_create_over_a_socket_buys_nothing(served: Any) -> None:
    """timeout_before leaves the socket unanswered too, and nothing is bought."""
    before = len(served.state.ledger())
    with pytest.raises(httpx.ReadTimeout):
        post(served, "timeout_before")
    assert len(served.state.ledger()) == before


def test_refused_create_over_a_socket_closes_before_buying(served: Any) -> None:
    """Served, "connect" closes the connection unanswered before anything is bought."""
    before, refused = len(served.state.ledger()), count(served, "refused")
    with pytest.raises(httpx.RemoteProtocolError):
        post(served, "connect")
    assert (len(served.state.ledger()), count(served, "refused")) == (before, refused + 1)


def test_garbled_answer_over_a_socket(served: Any) -> None:
    """A garbled 200 reaches a real client as cut-off JSON; the number was bought."""
    before = len(served.state.ledger())
    answer = post(served, "garbled")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        answer.json()
    assert len(served.state.ledger()) == before + 1


def test_dropped_listing_over_a_socket(served: Any) -> None:
    """A scripted listing drop closes the real connection without an answer."""
    served.state.set_faults(Faults(list_script=("drop", "timeout")))
    with httpx.Client(headers=AUTH, timeout=0.3) as client:
        url = f"{served.url}/groups/{GROUP}/numbers"
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url)
        with pytest.raises(httpx.ReadTimeout):
            client.get(url)
        assert client.get(url).status_code == 200
