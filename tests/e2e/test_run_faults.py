"""Whole runs against the real sandbox on loopback, with faults: never twice, never lost.

Each scenario prints a scorecard comparing the sandbox's ledger with what the run reported:
rows, bought on server, duplicates, lost (bought but not reported), unresolved (rows without
a number), requests, wall seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from orders import order, rows
from purchases import money

from batchprov.errors import JournalBusyError
from batchprov.models import CheckedRow, Status
from batchprov.order.journal import Journal
from batchprov.order.runner import OrderOutcome, RunOptions, order_rows
from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread
from batchprov.sandbox.config import DEFAULT_GROUPS

TOKEN = "sandbox"
FAST = RunOptions(concurrency=16, timeout=0.5, max_attempts=10, settle_delay=1.0)


class CountingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, counting requests, and those sent after a 401."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: Counter[str] = Counter()
        self.after_401 = 0
        self._seen_401 = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent[request.method] += 1
        if self._seen_401:
            self.after_401 += 1
        response = await self._inner.handle_async_request(request)
        self._seen_401 = self._seen_401 or response.status_code == 401
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def ledger(url: str) -> list[dict[str, Any]]:
    """Every number the sandbox ever created."""
    base = url.rsplit("/v3/api", 1)[0]
    response = httpx.get(f"{base}/_sandbox/ledger", timeout=10)
    response.raise_for_status()
    data = response.json()
    return list(data["numbers"] if isinstance(data, dict) else data)


def create_directly(url: str, group_id: int, name: str) -> dict[str, Any]:
    """Buy a number outside batchprov (someone else's, or an earlier crashed attempt)."""
    body = order(name, group_id).body_json()
    response = httpx.post(
        f"{url}/groups/{group_id}/numbers",
        content=body,
        headers={"x-organization-token": TOKEN, "Content-Type": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def spread(count: int, prefix: str = "Advertiser") -> list[CheckedRow]:
    """``count`` rows spread over the sandbox's groups."""
    out: list[CheckedRow] = []
    for i in range(count):
        gid = DEFAULT_GROUPS[i % len(DEFAULT_GROUPS)]
        out += rows([f"{prefix} {i:05d}"], group_id=gid, start=i)
    return out


def scorecard(
    name: str,
    url: str,
    checked: list[CheckedRow],
    outcome: OrderOutcome,
    wall: float,
    transport: CountingTransport,
    preexisting: int = 0,
) -> dict[str, int]:
    """Compare the ledger with the results; print one line."""
    entries = ledger(url)
    mine = Counter((int(e["group_id"]), str(e["requested_name"]).casefold()) for e in entries)
    wanted = {(r.order.group_id, r.order.name.casefold()) for r in checked if r.order}
    reported = {
        r.number_id
        for r in outcome.results
        if r.status in (Status.PROVISIONED, Status.ALREADY_PROVISIONED)
    }
    ours = [
        e for e in entries if (int(e["group_id"]), str(e["requested_name"]).casefold()) in wanted
    ]
    card = {
        "rows": len(checked),
        "bought": len(entries) - preexisting,
        "duplicates": sum(c - 1 for k, c in mine.items() if k in wanted and c > 1) - preexisting,
        "lost": sum(1 for e in ours if str(e["id"]) not in reported) - preexisting,
        "unresolved": sum(
            1
            for r in outcome.results
            if r.status is not Status.PROVISIONED and r.status is not Status.ALREADY_PROVISIONED
        ),
        "requests": sum(transport.sent.values()),
        "throttled": outcome.stats.get("throttled", 0),
    }
    print(
        f"\nSCORECARD {name}: "
        + " ".join(f"{k}={v}" for k, v in card.items())
        + f" wall_s={wall:.1f}"
    )
    return card


def order_with(
    url: str,
    checked: list[CheckedRow],
    journal: Path,
    transport: CountingTransport,
    options: RunOptions = FAST,
    token: str = TOKEN,
    foreign: frozenset[str] = frozenset(),
) -> tuple[OrderOutcome, float]:
    """order_rows against a served sandbox; the ledger must match the results and journal."""
    before = len(ledger(url))
    start = time.monotonic()
    outcome = order_rows(
        checked,
        api_url=url,
        token=token,
        journal_path=journal,
        options=options,
        transport=transport,
    )
    wall = time.monotonic() - start
    card = money(ledger(url), url, checked, outcome, journal, before=before, foreign=foreign)
    assert card.clean(), card
    return outcome, wall


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with serve_in_thread(SandboxConfig(seed=1), host="127.0.0.1", port=0) as server:
        yield server


@pytest.mark.parametrize(
    ("count", "rate_limit"),
    [
        pytest.param(400, 60, id="400-rows"),
        pytest.param(2000, 60, id="2000-rows", marks=pytest.mark.slow),
    ],
)
def test_every_fault_at_once(count: int, rate_limit: float, journal: Path) -> None:
    """Rows under 503s, 429s, drops, late answers, 500s and list lag: all bought exactly once."""
    faults = Faults(
        error_503=0.2,
        drop_after_create=0.1,
        late_after_create=0.05,
        late_seconds=1.0,
        error_500_after_create=0.05,
        list_lag_ms=300,
        rate_limit=rate_limit,
    )
    checked = spread(count)
    transport = CountingTransport()
    with serve_in_thread(SandboxConfig(faults=faults, seed=1), host="127.0.0.1") as server:
        outcome, wall = order_with(server.url, checked, journal, transport)
        card = scorecard(f"faults-{count}", server.url, checked, outcome, wall, transport)
    assert (count, 0, 0, 0) == (
        card["bought"],
        card["duplicates"],
        card["lost"],
        card["unresolved"],
    )
    assert outcome.stopped_reason is None
    assert outcome.stats["adopted"] > 0 and outcome.stats["absent"] > 0


def test_preexisting_name_is_not_adopted(sandbox: Any, journal: Path) -> None:
    """A same-name number bought before the run stays someone else's; ours gets a suffix."""
    theirs = create_directly(sandbox.url, DEFAULT_GROUPS[0], "ABC Company")
    checked = rows(["ABC Company"], group_id=DEFAULT_GROUPS[0])
    transport = CountingTransport()
    outcome, wall = order_with(
        sandbox.url, checked, journal, transport, foreign=frozenset({str(theirs["id"])})
    )
    card = scorecard("preexisting", sandbox.url, checked, outcome, wall, transport, preexisting=1)
    result = outcome.results[0]
    assert result.status == Status.PROVISIONED
    assert str(theirs["id"]) != result.number_id
    assert result.assigned_name not in (None, "ABC Company")
    assert any("the API assigned" in w for w in result.warnings)
    assert (card["bought"], card["duplicates"]) == (1, 0)


def test_token_revoked_mid_run(sandbox: Any, journal: Path) -> None:
    """After a 401 no request is sent; the rows not yet sent are not attempted."""
    sandbox.state.set_faults(Faults(revoke_token_after=10))
    checked = spread(40)
    transport = CountingTransport()
    options = RunOptions(concurrency=1, timeout=2.0)
    outcome, wall = order_with(sandbox.url, checked, journal, transport, options)
    scorecard("revoked", sandbox.url, checked, outcome, wall, transport)
    assert (outcome.stopped_reason or "").startswith("token rejected (HTTP 401")
    assert transport.after_401 == 0
    counts = Counter(r.status for r in outcome.results)
    assert (
        counts[Status.PROVISIONED],
        counts[Status.FAILED],
        counts[Status.NOT_ATTEMPTED],
    ) == (10, 1, 29)
    assert (len(ledger(sandbox.url)), transport.sent["POST"]) == (10, 11)


def test_second_run_on_one_journal_is_refused(journal: Path) -> None:
    """While one run holds the journal a second one is refused, and nothing is bought twice."""
    config = SandboxConfig(faults=Faults(latency_ms=100), seed=1)
    checked = spread(10)
    with serve_in_thread(config, host="127.0.0.1") as server:
        first: list[OrderOutcome] = []
        options = RunOptions(concurrency=1, timeout=5.0)
        thread = threading.Thread(
            target=lambda: first.append(
                order_with(server.url, checked, journal, CountingTransport(), options)[0]
            )
        )
        thread.start()
        while not Path(f"{journal}.lock").exists() or not journal.exists():
            time.sleep(0.01)
        with pytest.raises(JournalBusyError):
            order_with(server.url, checked, journal, CountingTransport())
        thread.join()
        assert len(ledger(server.url)) == 10
    assert [r.status for r in first[0].results] == [Status.PROVISIONED] * 10


def test_rerun_resorted_with_added_rows(sandbox: Any, journal: Path) -> None:
    """A re-sorted sheet with new rows orders only the new rows; old rows cost no create."""
    old = spread(60)
    order_with(sandbox.url, old, journal, CountingTransport())
    new = spread(70)[60:]
    checked = list(reversed(old)) + new
    transport = CountingTransport()
    outcome, wall = order_with(sandbox.url, checked, journal, transport)
    scorecard("rerun", sandbox.url, checked, outcome, wall, transport)
    statuses = Counter(r.status for r in outcome.results)
    assert (statuses[Status.ALREADY_PROVISIONED], statuses[Status.PROVISIONED]) == (60, 10)
    assert (transport.sent["POST"], len(ledger(sandbox.url))) == (10, 70)


def test_crash_recovery_at_library_level(sandbox: Any, journal: Path) -> None:
    """INTENTs left by a crash: numbers that exist are adopted, absent ones are sent once."""
    gid = DEFAULT_GROUPS[1]
    checked = rows(["Bought Before Crash", "Lost In Crash", "Fresh"], group_id=gid)
    with Journal.open(journal) as j:
        j.add_baseline(sandbox.url, gid, [])
        run_id = j.start_run("crashed")
        for row in checked[:2]:
            assert row.order is not None
            item = j.ensure_item(sandbox.url, gid, row.order.name, row.order.body_json())
            j.begin_attempt(item.key, run_id, row.order.body_json())
    bought = create_directly(sandbox.url, gid, "Bought Before Crash")
    transport = CountingTransport()
    options = RunOptions(concurrency=4, timeout=2.0, settle_delay=0.3)
    outcome, wall = order_with(sandbox.url, checked, journal, transport, options)
    scorecard("crash-recovery", sandbox.url, checked, outcome, wall, transport)
    assert [r.status for r in outcome.results] == [Status.PROVISIONED] * 3
    assert str(bought["id"]) == outcome.results[0].number_id
    assert (transport.sent["POST"], len(ledger(sandbox.url))) == (2, 3)
