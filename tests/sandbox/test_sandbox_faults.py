"""Sandbox faults: latency, rate limit, 503/500, dropped and late answers, list lag."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sandbox_client import AUTH, Api

from batchprov.sandbox import Faults, SandboxConfig, create_app, serve_in_thread
from batchprov.sandbox.faults import FaultInjector, Outcome, RateLimiter

GROUP = 11623282
NUMBERS = f"/v3/api/groups/{GROUP}/numbers"
BODY: Any = {
    "name": "ABC Company",
    "phone_number_request": {"match_type": "tollfree", "number_match_filter": "833"},
    "call_routes": {"route_type": "Basic", "route": {"termination_number": "4043993433"}},
}


def api_with(faults: Faults, seed: int = 0) -> Api:
    """An in-process client of a fresh sandbox with these faults."""
    return Api(create_app(SandboxConfig(faults=faults, seed=seed)))


def ledger(api: Api) -> list[Any]:
    """Every number the sandbox ever created."""
    result: list[Any] = api.get("/_sandbox/ledger").json()
    return result


def test_latency_and_jitter() -> None:
    """Every request waits at least the latency, and at most latency + jitter (plus slack)."""
    api = api_with(Faults(latency_ms=60, jitter_ms=40))
    for path in (NUMBERS, "/v3/api/numbers"):
        started = time.perf_counter()
        api.get(path)
        assert 0.06 <= time.perf_counter() - started < 0.5


def test_jitter_is_seeded() -> None:
    """The same seed draws the same delays."""
    first = FaultInjector(Faults(jitter_ms=100), seed=9)
    second = FaultInjector(Faults(jitter_ms=100), seed=9)
    assert [first.delay_seconds() for _ in range(5)] == [second.delay_seconds() for _ in range(5)]


def test_rate_limit_answers_429_with_retry_after() -> None:
    """Past the limit, requests (GETs too) get 429 with Retry-After; nothing is created."""
    api = api_with(Faults(rate_limit=3))
    statuses = [api.post(NUMBERS, json=BODY).status_code for _ in range(3)]
    limited = api.post(NUMBERS, json=BODY)
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert api.get(NUMBERS).status_code == 429
    assert len(ledger(api)) == 3


def test_rate_limiter_window_slides() -> None:
    """The sliding window frees a slot once its oldest request is a second old."""
    now = [100.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.admit() is None and limiter.admit() is None
    assert limiter.admit() == 1
    now[0] += 1.0
    assert limiter.admit() is None
    slow = RateLimiter(0.25, clock=lambda: now[0])
    assert slow.admit() is None and slow.admit() == 4


def test_error_503_creates_nothing() -> None:
    """A 503 carries Retry-After: 1 and creates no number."""
    api = api_with(Faults(error_503=1))
    response = api.post(NUMBERS, json=BODY)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert ledger(api) == []


def test_error_500_after_create() -> None:
    """A 500 after create leaves the number created and listed."""
    api = api_with(Faults(error_500_after_create=1))
    assert api.post(NUMBERS, json=BODY).status_code == 500
    assert len(ledger(api)) == 1
    assert api.get(NUMBERS).json()["results"][0]["name"] == "ABC Company"


def test_drop_after_create_in_process() -> None:
    """In-process, a dropped answer raises the error a real drop does; the number exists."""
    api = api_with(Faults(drop_after_create=1))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(NUMBERS, json=BODY)
    assert len(ledger(api)) == 1
    assert api.get("/_sandbox/stats").json() == {
        "POST /v3/api/groups/{group_id}/numbers dropped": 1,
        "GET /_sandbox/ledger 200": 1,
    }


def test_drop_after_create_over_a_socket() -> None:
    """Under uvicorn the connection really closes with no answer; the server keeps serving."""
    with serve_in_thread(SandboxConfig(faults=Faults(drop_after_create=1))) as server:
        with httpx.Client(headers=AUTH) as client:
            with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
                client.post(f"{server.url}/groups/{GROUP}/numbers", json=BODY)
            assert len(server.state.ledger()) == 1
            server.state.set_faults(Faults())
            again = client.post(f"{server.url}/groups/{GROUP}/numbers", json=BODY)
            assert again.status_code == 200 and again.json()["name"] == "ABC Company 2"
        assert server.state.stats["POST /v3/api/groups/{group_id}/numbers dropped"] == 1


def test_late_after_create_over_a_socket() -> None:
    """A late answer outlasts a short client timeout; the number was created all the same."""
    faults = Faults(late_after_create=1, late_seconds=0.6)
    with serve_in_thread(SandboxConfig(faults=faults)) as server:
        with httpx.Client(headers=AUTH, timeout=0.15) as client, pytest.raises(httpx.ReadTimeout):
            client.post(f"{server.url}/groups/{GROUP}/numbers", json=BODY)
        assert len(server.state.ledger()) == 1


def test_late_after_create_answers_eventually() -> None:
    """A patient client gets the late answer."""
    api = api_with(Faults(late_after_create=1, late_seconds=0.1))
    started = time.perf_counter()
    assert api.post(NUMBERS, json=BODY).status_code == 200
    assert time.perf_counter() - started >= 0.1


def test_list_lag() -> None:
    """A new number shows in listings only after the lag, but GET by id sees it at once."""
    api = api_with(Faults(list_lag_ms=150))
    created = api.post(NUMBERS, json=BODY).json()
    assert api.get(NUMBERS).json()["paging"]["total"] == 0
    assert api.get(f"/v3/api/numbers/{created['id']}").status_code == 200
    time.sleep(0.2)
    assert api.get(NUMBERS).json()["results"] == [created]


def test_fault_shares_reproducible_by_seed() -> None:
    """Mixed shares give a seeded, repeatable sequence of outcomes in about those shares."""
    faults = Faults(error_503=0.2, error_500_after_create=0.2, late_after_create=0.1)

    def outcomes(seed: int) -> list[Outcome]:
        injector = FaultInjector(faults, seed)
        return [injector.outcome() for _ in range(2000)]

    drawn = outcomes(5)
    assert drawn == outcomes(5) and drawn != outcomes(6)
    assert 300 < drawn.count(Outcome.UNAVAILABLE) < 500
    assert 300 < drawn.count(Outcome.ERROR_AFTER_CREATE) < 500
    assert 120 < drawn.count(Outcome.LATE_AFTER_CREATE) < 280
    assert Outcome.DROP_AFTER_CREATE not in drawn


def test_http_statuses_reproducible_by_seed() -> None:
    """Two sandboxes with the same seed answer the same request sequence identically."""
    faults = Faults(error_503=0.3, error_500_after_create=0.3)

    def statuses(seed: int) -> list[int]:
        api = api_with(faults, seed)
        return [api.post(NUMBERS, json=BODY).status_code for _ in range(30)]

    first = statuses(1)
    assert first == statuses(1) and {200, 500, 503} == set(first)


def test_set_faults_at_runtime_and_over_http() -> None:
    """Faults change on a live sandbox, directly or with PUT /_sandbox/faults."""
    api = api_with(Faults())
    assert api.post(NUMBERS, json=BODY).status_code == 200
    api.app.state.sandbox.set_faults(Faults(error_503=1))
    assert api.post(NUMBERS, json=BODY).status_code == 503
    answer = api.put("/_sandbox/faults", json={"error_503": 0, "list_lag_ms": 5})
    assert answer.status_code == 200 and answer.json()["list_lag_ms"] == 5
    assert api.post(NUMBERS, json=BODY).status_code == 200
    assert api.put("/_sandbox/faults", json={"error_503": 2}).status_code == 400
    assert api.put("/_sandbox/faults", json={"typo": 1}).status_code == 400


@pytest.mark.parametrize(
    "faults",
    [
        {"error_503": 0.7, "drop_after_create": 0.5},
        {"latency_ms": -1},
        {"rate_limit": 0},
    ],
)
def test_faults_checked(faults: dict[str, float]) -> None:
    """Impossible fault settings are refused."""
    with pytest.raises(ValueError):
        Faults(**faults)


def test_faults_spare_reads() -> None:
    """Create faults never touch GETs."""
    api = api_with(Faults(error_503=0.5, drop_after_create=0.5))
    for _ in range(5):
        assert api.get(NUMBERS).status_code == 200
