"""The library's ``stop`` ends a listing wait at once: in the plan, in a reconcile, after one.

A sandbox served on loopback is scripted to leave listings unanswered (the client's deadline
is a minute); ``stop`` is set once the scripted listings have been met, and the run must
return within seconds with nothing bought, or nothing bought twice.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from test_run_crash import write_rows

from batchprov.config import Api, RunConfig
from batchprov.errors import OutputError, RunAborted
from batchprov.order.options import RunOptions
from batchprov.order.reconcile import QUICK_RECONCILE
from batchprov.pipeline import run_file
from batchprov.report import Report
from batchprov.sandbox import SandboxConfig, create_app, serve_in_thread
from batchprov.sandbox.inprocess import SandboxTransport
from batchprov.sandbox.server import RunningSandbox

TOKEN = "listing-stop-token-0123"
#: A request's deadline: far longer than any of these runs may take to stop.
OPTIONS = RunOptions(timeout=60.0, settle_delay=0.2)


@pytest.fixture
def server() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=5)) as running:
        yield running


def stop_when_met(server: RunningSandbox, stop: threading.Event, *, left: int = 0) -> None:
    """Set ``stop`` a moment after only ``left`` scripted listing outcomes remain."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(server.state.faults.list_script) > left and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into the unanswered request
        stop.set()

    threading.Thread(target=watch, daemon=True).start()


class Stamped(threading.Event):
    """A stop event that remembers when it was set."""

    at = 0.0

    def set(self) -> None:
        self.at = time.monotonic()
        super().set()


def timed(stop: Stamped, call: Callable[[], Any]) -> tuple[Any, float]:
    """``call()``'s result (or the RunAborted it raised) and the seconds it ran after ``stop``."""
    try:
        result: Any = call()
    except RunAborted as exc:
        result = exc
    assert stop.is_set(), "the call returned before it was stopped"
    return result, time.monotonic() - stop.at


def run(server: RunningSandbox, tmp_path: Path, stop: threading.Event, **config: Any) -> Report:
    return run_file(
        tmp_path / "in.csv",
        tmp_path / "out.xlsx",
        config=RunConfig(journal=tmp_path / "j.sqlite", options=OPTIONS, **config),
        api=Api(url=server.url, token=TOKEN),
        confirm=lambda plan: True,
        stop=stop,
    )


def test_stop_ends_the_plans_unanswered_listing(server: RunningSandbox, tmp_path: Path) -> None:
    """stop during the plan's listing: an interrupted run (exit 3) at once, nothing bought."""
    write_rows(tmp_path / "in.csv", 4)
    server.state.script_listings("503", "timeout")
    stop = Stamped()
    stop_when_met(server, stop)
    report, took = timed(stop, lambda: run(server, tmp_path, stop))
    assert took < 2.0, f"{took:.1f} s"
    assert 3 == report.exit_code
    assert "interrupted: stopped while the account was being checked" in (
        report.info.stopped_reason or ""
    )
    assert [] == server.state.ledger()
    assert {"not attempted"} == {r.status.value for r in report.results}


def test_stop_ends_an_online_dry_runs_listing(server: RunningSandbox, tmp_path: Path) -> None:
    """stop during an online dry run's listing: one line, exit 3, at once, no output."""
    write_rows(tmp_path / "in.csv", 2)
    server.state.script_listings("timeout")
    stop = Stamped()
    stop_when_met(server, stop)
    error, took = timed(stop, lambda: run(server, tmp_path, stop, dry_run=True, online=True))
    assert took < 2.0, f"{took:.1f} s"
    assert isinstance(error, RunAborted) and 3 == error.exit_code
    assert "\n" not in str(error) and "nothing was ordered" in str(error)
    assert not (tmp_path / "out.xlsx").exists()


def test_stop_ends_a_reconciles_unanswered_listing(server: RunningSandbox, tmp_path: Path) -> None:
    """A create's answer is lost; stop while its reconcile waits, and while the quick look
    after it waits too: the run ends within the quick look's bound, nothing bought twice."""
    names = write_rows(tmp_path / "in.csv", 1)
    server.state.script("500_after")  # bought, but answered 500: the outcome is unknown
    # The plan's listing (the run's baseline too) is answered; the reconcile's and the quick
    # look's are not.
    server.state.script_listings("ok", "timeout", "timeout")
    stop = Stamped()
    stop_when_met(server, stop, left=1)
    report, took = timed(stop, lambda: run(server, tmp_path, stop))
    assert took < QUICK_RECONCILE + 2.0, f"{took:.1f} s"
    assert 3 == report.exit_code and "interrupted" == report.info.stopped_reason
    assert 1 == len(server.state.ledger()), (report.results, dict(server.state.stats))
    again = run(server, tmp_path, threading.Event())  # the next run adopts it
    assert 0 == again.exit_code
    assert 1 == len(server.state.ledger())
    assert [names[0]] == [e["requested_name"] for e in server.state.ledger()]
    assert {"provisioned"} == {r.status.value for r in again.results}


class _HeldNumberReads(httpx.AsyncBaseTransport):
    """The sandbox, except that reading one number (GET /numbers/{id}) is never answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/numbers/" in request.url.path:
            await asyncio.sleep(120)
        return await self.inner.handle_async_request(request)


def test_stop_ends_the_updates_unanswered_read(tmp_path: Path) -> None:
    """stop while --update reads a number to compare: exit 3 at once, nothing changed."""
    sandbox = SandboxTransport(create_app(SandboxConfig(token=TOKEN, seed=5)))
    write_rows(tmp_path / "in.csv", 1)
    first = run_file(
        tmp_path / "in.csv",
        tmp_path / "first.xlsx",
        config=RunConfig(journal=tmp_path / "j.sqlite", options=OPTIONS),
        api=Api(url=sandbox.url, token=TOKEN, transport=sandbox),
        confirm=lambda plan: True,
    )
    assert {"provisioned"} == {r.status.value for r in first.results}
    text = (tmp_path / "in.csv").read_text().replace("4165551234", "6135550123")
    (tmp_path / "in.csv").write_text(text)
    stop = Stamped()
    threading.Timer(1.0, stop.set).start()
    report, took = timed(
        stop,
        lambda: run_file(
            tmp_path / "in.csv",
            tmp_path / "out.xlsx",
            config=RunConfig(journal=tmp_path / "j.sqlite", options=OPTIONS, update=True),
            api=Api(url=sandbox.url, token=TOKEN, transport=_HeldNumberReads(sandbox)),
            confirm=lambda plan: True,
            stop=stop,
        ),
    )
    assert took < 2.0, f"{took:.1f} s"
    assert 3 == report.exit_code
    assert "interrupted" in (report.info.stopped_reason or "")
    (number,) = sandbox.sandbox.ledger()
    assert [] == number["changes"], number


def test_a_run_stopped_at_the_listing_keeps_the_journals_numbers(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """A re-run whose listing fails rewrites the output with the bought numbers, not without."""
    write_rows(tmp_path / "in.csv", 4)
    first = run(server, tmp_path, threading.Event())
    bought = {r.index: r.tracking_number for r in first.results}
    assert {"provisioned"} == {r.status.value for r in first.results}
    server.state.script_listings(*["503"] * 20)
    again = run(server, tmp_path, threading.Event())
    assert 3 == again.exit_code and "API unavailable" in (again.info.stopped_reason or "")
    assert {"already provisioned"} == {r.status.value for r in again.results}
    assert bought == {r.index: r.tracking_number for r in again.results}
    assert 4 == len(server.state.ledger())
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
    header = [c.value for c in sheet[1]]
    shown = [row[header.index("Tracking Number")] for row in sheet.iter_rows(2, values_only=True)]
    assert sorted(bought.values()) == sorted(shown)


def _run_with(server: RunningSandbox, tmp_path: Path, journal: str) -> Report:
    return run_file(
        tmp_path / "in.csv",
        tmp_path / "out.xlsx",
        config=RunConfig(journal=tmp_path / journal, options=OPTIONS),
        api=Api(url=server.url, token=TOKEN),
        confirm=lambda plan: True,
    )


def test_the_same_command_runs_again_after_a_journal_that_found_the_numbers(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """Numbers a fresh journal found in the account may be shown again: the re-run is allowed."""
    write_rows(tmp_path / "in.csv", 4)
    assert {"provisioned"} == {r.status.value for r in _run_with(server, tmp_path, "a").results}
    for _ in range(2):  # the second journal records no purchase: only the account has them
        again = _run_with(server, tmp_path, "b")
        assert {"already provisioned"} == {r.status.value for r in again.results}
    assert 4 == len(server.state.ledger())


def test_numbers_the_account_does_not_hold_still_stop_the_overwrite(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """An output showing numbers no journal nor the account has is not replaced (exit 2)."""
    write_rows(tmp_path / "in.csv", 4)
    _run_with(server, tmp_path, "a")
    for number in list(server.state.ledger()):
        server.state.delete_number(int(number["id"]))  # released outside batchprov
    with pytest.raises(OutputError, match="it shows 4 bought numbers"):
        _run_with(server, tmp_path, "b")
    assert 4 == len(server.state.ledger())  # nothing bought


def test_a_failed_listing_leaves_an_output_only_the_account_vouches_for(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """With another journal and the listing down, the output showing bought numbers stays."""
    write_rows(tmp_path / "in.csv", 4)
    _run_with(server, tmp_path, "a")
    before = (tmp_path / "out.xlsx").read_bytes()
    server.state.script_listings(*["503"] * 20)
    report = _run_with(server, tmp_path, "b")
    assert 3 == report.exit_code and report.output_path is None
    assert "out.xlsx was left as it was: it shows 4 bought number(s)" in str(
        report.info.stopped_reason
    )
    assert before == (tmp_path / "out.xlsx").read_bytes()
