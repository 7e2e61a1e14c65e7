"""Fallbacks in real runs: the sandbox runs out of a filter's numbers, the next order goes out.

Burlington, ON has a single 289 exchange, so with ``SandboxConfig(stock=1)`` one row gets the
only 289 number and every other 289 row is answered "No numbers available … matching 289".
Every purchase is checked against the sandbox's ledger: one number per requested name.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_clock import FakeClock
from purchases import bought, money, sandbox_transport
from test_run_faults import TOKEN, CountingTransport

from batchprov.models import CheckedRow, Fallback, MatchType, OrderRequest, RowResult, Status
from batchprov.numbering import nanp
from batchprov.numbering.fallback import with_fallbacks
from batchprov.order.journal import SCHEMA, Journal, item_key
from batchprov.order.runner import OrderOutcome, RunOptions, order_rows
from batchprov.sandbox import ApiError, Faults, SandboxConfig, serve_in_thread
from batchprov.sandbox.server import RunningSandbox

GID = 11623282
BURLINGTON = nanp.Place("Burlington", "ON")
FAST = RunOptions(concurrency=8, timeout=2.0, max_attempts=10, settle_delay=0.5)


def burlington(name: str, filter_: str | None = "289") -> OrderRequest:
    """A localtonumber order near 905-637-2046 (Burlington, ON)."""
    return OrderRequest(
        group_id=GID,
        name=name,
        match_type=MatchType.LOCAL_TO_NUMBER,
        termination_number="4165551234",
        local_to_number="9056372046",
        number_match_filter=filter_,
    )


def rows(names: list[str], *kinds: Fallback, start: int = 0) -> list[CheckedRow]:
    """Burlington 289 rows with the given fallbacks, as the checks and the pipeline make them."""
    checked = [
        CheckedRow(i, i + 2, burlington(name), fallback=kinds)
        for i, name in enumerate(names, start=start)
    ]
    return list(with_fallbacks(checked, ()))


def order(server: RunningSandbox, checked: list[CheckedRow], journal: Path, **kw: Any) -> Any:
    """order_rows against the sandbox; returns (outcome, transport). The money must add up."""
    transport = CountingTransport()
    before = len(server.state.ledger())
    outcome = order_rows(
        checked,
        api_url=server.url,
        token=TOKEN,
        journal_path=journal,
        options=kw.pop("options", FAST),
        transport=transport,
    )
    card = money(server.state.ledger(), server.url, checked, outcome, journal, before=before)
    assert card.clean(), card
    return outcome, transport


def bought_per_name(server: RunningSandbox) -> Counter[str]:
    """Numbers the sandbox created, per requested name."""
    return Counter(entry["requested_name"] for entry in server.state.ledger())


def request_of(server: RunningSandbox, name: str) -> dict[str, Any]:
    """The body that created the number of a requested name."""
    (entry,) = [e for e in server.state.ledger() if e["requested_name"] == name]
    return dict(entry["request"])


def drain(server: RunningSandbox, filter_: str) -> None:
    """Sell every Burlington number matching the filter to someone else (scarce stock)."""
    rng = random.Random(0)
    while True:
        try:
            server.state.inventory.local_to_number("9056372046", filter_, rng)
        except ApiError:
            return


def by_name(outcome: OrderOutcome, checked: list[CheckedRow]) -> dict[str, RowResult]:
    """Each row's result by its name."""
    names = {r.index: r.order.name for r in checked if r.order}
    return {names[r.index]: r for r in outcome.results}


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def scarce() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig(seed=1, stock=1)) as server:
        yield server


@pytest.mark.parametrize(
    ("kind", "match_type", "fits"),
    [
        (Fallback.OVERLAY, "localtonumber", lambda n: n.startswith("905")),
        (Fallback.DROP_FILTER, "localtonumber", lambda n: n[:6] in nanp.exchanges_of(BURLINGTON)),
        (Fallback.TOLLFREE, "tollfree", nanp.is_tollfree),
    ],
)
def test_each_fallback_when_the_filter_runs_out(
    scarce: RunningSandbox, journal: Path, kind: Fallback, match_type: str, fits: Any
) -> None:
    """The first row takes the only 289 number; the second is bought by its fallback."""
    checked = rows(["First", "Second"], kind)
    outcome, transport = order(scarce, checked[:1], journal)
    assert outcome.results[0].tracking_number.startswith("289")
    outcome, transport = order(scarce, checked, journal)
    second = by_name(outcome, checked)["Second"]
    label = checked[1].fallbacks[0].label
    assert second.status is Status.PROVISIONED
    assert fits(second.tracking_number)
    assert second.match_type == match_type
    assert second.warnings == (f"No 289 number was available, so {label} was ordered instead",)
    assert (second.attempts, transport.sent["POST"]) == (2, 2)
    assert request_of(scarce, "Second") == checked[1].fallbacks[0].order.body()
    assert bought_per_name(scarce) == {"First": 1, "Second": 1}


def test_journal_records_each_attempts_body(scarce: RunningSandbox, journal: Path) -> None:
    """The journal keeps the row's own order and, per attempt, the body actually sent."""
    checked = rows(["First", "Second"], Fallback.OVERLAY)
    order(scarce, checked[:1], journal)
    order(scarce, checked, journal)
    primary = checked[1].order
    assert primary is not None
    overlay = checked[1].fallbacks[0].order.body_json()
    with Journal.open(journal) as j:
        item = j.get(item_key(scarce.url, GID, "Second"))
        attempts = j.attempts(item_key(scarce.url, GID, "Second"))
    assert item is not None
    assert (item.payload, item.sent) == (primary.body_json(), overlay)
    assert attempts == [(primary.body_json(), "no match"), (overlay, "answer")]


def test_fallbacks_are_tried_in_order_until_one_finds_a_number(
    scarce: RunningSandbox, journal: Path
) -> None:
    """289 and 905 both sold out: overlay finds none either, tollfree buys; overlay alone fails."""
    drain(scarce, "289")
    drain(scarce, "905")
    checked = rows(["Chain"], Fallback.OVERLAY, Fallback.TOLLFREE)
    checked += rows(["Overlay only"], Fallback.OVERLAY, start=1)
    outcome, transport = order(scarce, checked, journal)
    chain, alone = by_name(outcome, checked).values()
    assert chain.status is Status.PROVISIONED and nanp.is_tollfree(chain.tracking_number or "")
    assert chain.warnings == (
        "No 289 number was available, so a toll-free number was ordered instead (a number in "
        "overlay area code 905 had none either)",
    )
    assert alone.status is Status.FAILED
    assert (alone.error or "").startswith(
        "No 289 number was available, nor a number in overlay area code 905. Choose another "
        "area code (or none), or add a fallback, then run again with --retry-failed; last "
        "answer: HTTP 400: "
        "No numbers available local to 9056372046 matching 905"
    )
    assert transport.sent["POST"] == 5
    assert bought_per_name(scarce) == {"Chain": 1}


def test_rerun_after_a_fallback_sends_nothing(scarce: RunningSandbox, journal: Path) -> None:
    """A re-run finds the fallback's purchase: already provisioned, same note, no request."""
    checked = rows(["First", "Second"], Fallback.TOLLFREE)
    first, _ = order(scarce, checked, journal)
    again, transport = order(scarce, checked, journal)
    assert [r.status for r in again.results] == [Status.ALREADY_PROVISIONED] * 2
    assert transport.sent["POST"] == 0
    assert [r.tracking_number for r in again.results] == [r.tracking_number for r in first.results]
    notes = [w for r in again.results for w in r.warnings]
    assert notes == ["No 289 number was available, so a toll-free number was ordered instead"]
    assert sorted(r.match_type or "" for r in again.results) == ["localtonumber", "tollfree"]


@pytest.mark.parametrize("fault", ["400", "404", "429", "503"])
def test_other_answers_never_use_a_fallback(tmp_path: Path, fault: str) -> None:
    """Only 'no number matches' moves to a fallback: other errors fail or retry the same body."""
    clock = FakeClock()
    api = sandbox_transport(clock)
    api.sandbox.script(fault)
    checked = rows(["Only"], Fallback.TOLLFREE, Fallback.DROP_FILTER)
    outcome = order_rows(
        checked,
        api_url=api.url,
        token=api.sandbox.config.token,
        journal_path=tmp_path / "journal.sqlite",
        options=RunOptions(timeout=5.0, settle_delay=1.0),
        transport=api,
        sleep=clock.sleep,
        clock=clock,
    )
    card = money(
        api.sandbox.ledger(), api.url, checked, outcome, tmp_path / "journal.sqlite", before=0
    )
    assert card.clean(), card
    result = outcome.results[0]
    assert outcome.stats.get("fallbacks", 0) == 0
    assert not any("fallback" in w for w in result.warnings)
    if fault in ("400", "404"):
        assert (result.status, api.sent("POST"), bought(api)) == (Status.FAILED, 1, {})
    else:  # throttled or unavailable: the row's own order again, bought once
        assert (result.status, result.match_type) == (Status.PROVISIONED, "localtonumber")
        assert bought(api) == {"only": 1}


def test_fallbacks_under_faults_buy_each_row_once(journal: Path) -> None:
    """Drops, 500s and 503s while the 289 and 905 stock runs out: one number per name."""
    faults = Faults(
        drop_after_create=0.15, error_500_after_create=0.1, error_503=0.1, list_lag_ms=150
    )
    names = [f"Advertiser {i:02d}" for i in range(40)]
    checked = rows(names, Fallback.OVERLAY, Fallback.TOLLFREE)
    with serve_in_thread(SandboxConfig(seed=3, stock=1, faults=faults)) as server:
        outcome, _ = order(server, checked, journal)
        ledger = server.state.ledger()
    results = by_name(outcome, checked)
    assert all(r.status is Status.PROVISIONED for r in results.values())
    assert Counter(e["requested_name"] for e in ledger) == dict.fromkeys(names, 1)
    assert outcome.stats["adopted"] > 0 and outcome.stats["fallbacks"] > 0
    with Journal.open(journal) as j:
        for entry in ledger:
            item = j.get(item_key(server.url, GID, entry["requested_name"]))
            assert item is not None and item.number_id == str(entry["id"])
            assert json.loads(item.sent or "") == entry["request"]
    areas = Counter(
        "tollfree" if nanp.is_tollfree(e["phone_number"]) else e["phone_number"][:3] for e in ledger
    )
    assert areas["289"] == 1 and areas["905"] >= 1 and areas["tollfree"] >= 1
    for name, result in results.items():
        number = result.tracking_number or ""
        expected = () if number.startswith("289") else (_note(number),)
        assert tuple(w for w in result.warnings if "ordered instead" in w) == expected, name


def _note(number: str) -> str:
    """The warning of a row bought by a fallback, from the number it got."""
    if number.startswith("905"):
        return (
            "No 289 number was available, so a number in overlay area code 905 was ordered instead"
        )
    return (
        "No 289 number was available, so a toll-free number was ordered instead (a number in "
        "overlay area code 905 had none either)"
    )


def test_ambiguous_fallback_is_reconciled_before_anything_is_sent(
    scarce: RunningSandbox, journal: Path
) -> None:
    """A crash left two fallback attempts in flight: the bought one is adopted, the other resent."""
    checked = rows(["Bought", "Lost"], Fallback.OVERLAY)
    with Journal.open(journal) as j:
        j.add_baseline(scarce.url, GID, [])
        run_id = j.start_run("crashed")
        for row in checked:
            assert row.order is not None
            primary, overlay = row.order.body_json(), row.fallbacks[0].order.body_json()
            item = j.ensure_item(scarce.url, GID, row.order.name, primary)
            j.begin_attempt(item.key, run_id, primary, sent=overlay)
    scarce.state.create_number(GID, checked[0].fallbacks[0].order.body())
    outcome, transport = order(scarce, checked, journal, options=RunOptions(settle_delay=0.3))
    bought, lost = by_name(outcome, checked).values()
    assert (bought.status, lost.status) == (Status.PROVISIONED, Status.PROVISIONED)
    assert any("its number was then found in the account" in w for w in bought.warnings)
    assert "a number in overlay area code 905 was ordered instead" in " ".join(bought.warnings)
    assert transport.sent["POST"] == 1
    assert request_of(scarce, "Lost") == checked[1].fallbacks[0].order.body()
    assert bought_per_name(scarce) == {"Bought": 1, "Lost": 1}


def test_older_journal_gains_the_attempt_body_columns(tmp_path: Path) -> None:
    """A journal made before fallbacks opens, keeps its items, and records bodies from then on."""
    path = tmp_path / "old.sqlite"
    old_schema = SCHEMA.replace(",\n  sent TEXT)", ")").replace(",\n  payload TEXT)", ")")
    assert "sent TEXT" not in old_schema and "payload TEXT)" not in old_schema
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO item(item_key, api_url, group_id, name, payload, state, updated_at)"
            " VALUES ('k', 'u', 1, 'Old', '{}', 'PENDING', 'now')"
        )
    with Journal.open(path) as j:
        item = j.begin_attempt("k", j.start_run("test"), "{}", sent='{"fallback":1}')
        assert (item.name, item.payload, item.sent) == ("Old", "{}", '{"fallback":1}')
        assert j.attempts("k") == [('{"fallback":1}', None)]
