"""The runner against an in-process sandbox on a fake clock: outcomes, retries, reconciles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_clock import FakeClock
from orders import order, rows
from purchases import TOKEN, bought, duplicates, ledger_ids, money, number, sandbox_transport

from batchprov.errors import JournalBusyError
from batchprov.models import CheckedRow, Status
from batchprov.order.journal import Journal, State
from batchprov.order.runner import OrderOutcome, Progress, RunOptions, order_rows
from batchprov.sandbox import Faults, create_app
from batchprov.sandbox import SandboxConfig as Config
from batchprov.sandbox import SandboxTransport as Api
from batchprov.sandbox.inprocess import URL as API

GID = 11623282


def run(
    api: Api, clock: FakeClock, journal: Path, checked: list[CheckedRow], **kw: Any
) -> OrderOutcome:
    """order_rows against the in-process sandbox, with the fake clock; the money must add up.

    After the run the sandbox's ledger is compared with the results and the journal: nothing
    bought twice, nothing bought but unreported, every owned row journaled and on the server.
    ``foreign`` names numbers someone else bought.
    """
    foreign = kw.pop("foreign", ())
    before = len(api.sandbox.ledger())
    outcome = unchecked_run(api, clock, journal, checked, **kw)
    card = money(
        api.sandbox.ledger(), api.url, checked, outcome, journal, before=before, foreign=foreign
    )
    assert card.clean(), card
    return outcome


def unchecked_run(
    api: Api, clock: FakeClock, journal: Path, checked: list[CheckedRow], **kw: Any
) -> OrderOutcome:
    """order_rows against the in-process sandbox, with the fake clock, its money not checked
    (for faults that make the server sell twice whatever the client does)."""
    options = kw.pop("options", RunOptions(timeout=5.0))
    return order_rows(
        checked,
        api_url=api.url,
        token=TOKEN,
        journal_path=journal,
        options=options,
        transport=api,
        sleep=clock.sleep,
        clock=clock,
        **kw,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> Api:
    return sandbox_transport(clock)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


def statuses(outcome: OrderOutcome) -> list[str]:
    return [r.status.value for r in outcome.results]


def posts(api: Api) -> int:
    """Creates sent, whether or not they got through."""
    return api.sent("POST")


def seed(api: Api, name: str) -> str:
    """A number that exists before the run (bought by someone else, or by a crashed run)."""
    return str(api.sandbox.create_number(GID, order(name).body())["id"])


def assert_no_duplicates(api: Api) -> None:
    assert duplicates(api) == []


def test_happy_path_fills_every_field(api: Api, clock: FakeClock, journal: Path) -> None:
    """Each row gets its number, ids, name, match type, one attempt and the API's timestamp."""
    outcome = run(api, clock, journal, rows(["ABC Company", "Bravo"]))
    first = outcome.results[0]
    bought_first = number(api, "ABC Company")
    assert statuses(outcome) == ["provisioned", "provisioned"]
    assert (
        first.tracking_number,
        first.number_id,
        first.route_id,
    ) == (
        bought_first["phone_number"],
        str(bought_first["id"]),
        str(bought_first["call_routes"]["route"]["id"]),
    )
    assert (first.assigned_name, first.match_type, first.attempts) == ("ABC Company", "tollfree", 1)
    assert first.provisioned_at == bought_first["created_datetime"]
    assert (outcome.stopped_reason, first.error) == (None, None)
    assert outcome.stats["requests"] == 2


def test_results_keep_the_given_order(api: Api, clock: FakeClock, journal: Path) -> None:
    """Results come back one per row, in the order the rows were given."""
    checked = rows([f"Co {i}" for i in range(20)])
    outcome = run(api, clock, journal, checked)
    assert [r.index for r in checked] == [r.index for r in outcome.results]


def test_suffixed_name_is_reported(api: Api, clock: FakeClock, journal: Path) -> None:
    """A name the API changed is shown as assigned, with a warning."""
    theirs = seed(api, "ABC Company")
    result = run(api, clock, journal, rows(["ABC Company"]), foreign={theirs}).results[0]
    assert result.assigned_name == "ABC Company 2"
    assert (
        f'name already in use in group {GID}; the API assigned "ABC Company 2"',
    ) == result.warnings


def test_permanent_error_keeps_the_api_text(api: Api, clock: FakeClock, journal: Path) -> None:
    """A 404 fails the row with the API's status and text, and nothing is bought."""
    assert 999 not in api.sandbox.groups
    result = run(api, clock, journal, rows(["X"], group_id=999)).results[0]
    assert (result.status, result.error) == (Status.FAILED, "HTTP 404: Group 999 not found")
    assert len(api.sandbox.ledger()) == 0


def test_permanent_create_error_is_not_resent(api: Api, clock: FakeClock, journal: Path) -> None:
    """A 400 on the create fails the row with the API's text after one request."""
    api.sandbox.script("400")
    result = run(api, clock, journal, rows(["X"])).results[0]
    assert result.error == "HTTP 400: Bad Request: the request was refused (scripted fault)"
    assert posts(api) == 1


def test_token_rejected_stops_at_once(api: Api, clock: FakeClock, journal: Path) -> None:
    """After a 401 no further request is sent and unsent rows are not attempted."""
    api.sandbox.set_faults(Faults(revoke_token_after=3))
    options = RunOptions(concurrency=1, timeout=5.0)
    outcome = run(api, clock, journal, rows([f"Co {i}" for i in range(10)]), options=options)
    assert outcome.stopped_reason is not None
    assert outcome.stopped_reason.startswith("token rejected (HTTP 401")
    assert posts(api) == 4
    assert api.requests[-1][0] == "POST"
    assert statuses(outcome) == ["provisioned"] * 3 + ["failed"] + ["not attempted"] * 6
    assert "before this row's turn" in (outcome.results[-1].error or "")
    refused = outcome.results[3].error or ""  # its own 401 stopped the run: said once
    assert refused.startswith("Not bought: token rejected (HTTP 401") and refused.count("401") == 1


@pytest.mark.parametrize(
    "fault", ["timeout_after", "drop_after", "500_after", "garbled", "late"], ids=str
)
def test_ambiguous_purchase_is_adopted(
    fault: str, api: Api, clock: FakeClock, journal: Path
) -> None:
    """A purchase whose answer was lost is found by name and adopted, never bought again."""
    api.sandbox.script(fault)
    result = run(api, clock, journal, rows(["ABC Company"])).results[0]
    assert result.status == Status.PROVISIONED
    assert result.warnings[0].startswith("No clear answer came when this row was ordered (")
    assert (posts(api), len(api.sandbox.ledger())) == (1, 1)


@pytest.mark.parametrize("fault", ["503", "timeout_before"], ids=str)
def test_absent_purchase_is_sent_again(
    fault: str, api: Api, clock: FakeClock, journal: Path
) -> None:
    """An ambiguous failure that bought nothing is reconciled, then sent once more."""
    api.sandbox.script(fault)
    outcome = run(api, clock, journal, rows(["ABC Company"]))
    assert (outcome.results[0].status, outcome.results[0].attempts) == (Status.PROVISIONED, 2)
    assert (posts(api), len(api.sandbox.ledger()), outcome.stats["absent"]) == (2, 1, 1)


def test_absent_needs_the_settle_delay(api: Api, clock: FakeClock, journal: Path) -> None:
    """Absence is only trusted once the settle delay (and a second listing) has passed."""
    api.sandbox.set_faults(Faults(list_lag_ms=3000, script=("timeout_after",)))
    options = RunOptions(timeout=5.0, settle_delay=4.0)
    outcome = run(api, clock, journal, rows(["Slow"]), options=options)
    assert (posts(api), len(api.sandbox.ledger())) == (1, 1)
    assert outcome.stats["adopted"] == 1


def test_a_suffixed_answer_after_a_lagging_listing_is_kept_and_flagged(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """A resend answered "A 2" where the group held no "A" as the run began: kept, flagged."""
    api.sandbox.set_faults(Faults(list_lag_ms=600_000, script=("drop_after",)))
    outcome = unchecked_run(api, clock, journal, rows(["A", "B"]), options=RunOptions(timeout=5.0))
    names = sorted(str(n["name"]) for n in api.sandbox.ledger())
    assert (names, posts(api)) == (["A", "A 2", "B"], 3)  # the listing lied: bought twice
    first, second = outcome.results
    assert (first.status, second.status) == (Status.PROVISIONED, Status.PROVISIONED)
    assert first.assigned_name == "A 2" and first.tracking_number  # nothing lost
    assert any("may have been bought twice" in w for w in first.warnings), first.warnings
    with Journal.open(journal) as j:
        assert j.lookup(API, GID, "A").state is State.DONE  # type: ignore[union-attr]


def test_a_cap_holds_when_a_lagging_listing_hides_a_purchase(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """A lost answer the listing does not show yet keeps its unit of the cap: ledger ≤ cap."""
    api.sandbox.set_faults(Faults(list_lag_ms=600_000, script=("drop_after",)))
    options = RunOptions(timeout=5.0, concurrency=1, max_purchases=2)
    outcome = unchecked_run(api, clock, journal, rows(["A", "B"]), options=options)
    assert len(api.sandbox.ledger()) == 2  # A (its answer lost) and B: never a third
    first, second = outcome.results
    assert (first.status, second.status) == (Status.FAILED, Status.PROVISIONED)
    assert first.error is not None and first.error.startswith("Not sent again: its request got")
    assert "the cap of 2 number(s) (--max-numbers / --max-cost) counts it as" in first.error
    with Journal.open(journal) as j:
        assert j.lookup(API, GID, "A").state is State.PENDING  # type: ignore[union-attr]


def test_a_number_seen_only_after_a_resend_is_kept_with_a_warning(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """Two lost answers and a late listing: the number then found is kept, with a warning."""
    api.sandbox.set_faults(Faults(list_lag_ms=10_000, script=("drop_after", "drop_after")))
    outcome = unchecked_run(
        api, clock, journal, rows(["A"]), options=RunOptions(timeout=5.0, settle_delay=4.0)
    )
    (result,) = outcome.results
    assert (result.status, posts(api)) == (Status.PROVISIONED, 2)
    assert 'check group 11623282 for another number named "A"' in result.warnings[0]


def test_a_suffixed_answer_is_expected_when_the_name_was_there(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """With --existing order, a name the group already held comes back suffixed: provisioned."""
    seed(api, "A")
    api.sandbox.script("ok")
    outcome = unchecked_run(api, clock, journal, rows(["A"]), options=RunOptions(timeout=5.0))
    assert outcome.results[0].status == Status.PROVISIONED
    assert 'the API assigned "A 2"' in outcome.results[0].warnings[0]


@pytest.mark.parametrize("fault", ["429", "connect"], ids=str)
def test_unsent_requests_are_resent(fault: str, api: Api, clock: FakeClock, journal: Path) -> None:
    """429s and connect errors are resent without a reconcile."""
    api.sandbox.script(fault, fault)
    outcome = run(api, clock, journal, rows(["A"]))
    assert (
        outcome.results[0].status,
        posts(api),
        outcome.stats.get("reconciles", 0),
    ) == (Status.PROVISIONED, 3, 0)


class TimedPosts(Api):
    """Notes when each create reaches the sandbox, and for which name."""

    posts: list[tuple[float, str]]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts.append((self.clock(), json.loads(request.content)["name"]))
        return await super().handle_async_request(request)


def timed_posts(clock: FakeClock) -> TimedPosts:
    api = TimedPosts(create_app(Config(token=TOKEN), clock=clock, sleep=clock.sleep))
    api.posts, api.clock = [], clock
    return api


def test_with_a_fixed_rate_retry_after_pauses_everyone(clock: FakeClock, journal: Path) -> None:
    """At a fixed rate, a 429's Retry-After (1 s) holds every later request for that long."""
    api = timed_posts(clock)
    api.sandbox.script("429")
    options = RunOptions(concurrency=1, rate=20)  # (no slot is taken before the 429 is read)
    outcome = run(api, clock, journal, rows(["A", "B", "C"]), options=options)
    assert outcome.stats["throttled"] == 1
    refused_at = api.posts[0][0]
    assert all(at >= refused_at + 1.0 for at, _ in api.posts[1:])


def test_a_counted_throttle_holds_only_the_refused_row(clock: FakeClock, journal: Path) -> None:
    """With the adaptive rate, a quick 429 after accepted answers holds the refused row for
    its Retry-After, while other rows go as soon as the server has room."""
    api = timed_posts(clock)
    api.sandbox.script("ok", "ok", "ok", "ok", "429")
    names = [f"R{i}" for i in range(10)]
    outcome = run(api, clock, journal, rows(names), options=RunOptions(concurrency=1))
    assert outcome.stats["throttled"] == 1
    assert statuses(outcome) == ["provisioned"] * len(names)
    refused_at, refused = api.posts[4]
    resent = [at for at, name in api.posts[5:] if name == refused]
    others = [at for at, name in api.posts[5:] if name != refused]
    assert resent[0] >= refused_at + 1.0
    assert others[0] < refused_at + 1.0


def test_attempts_run_out(api: Api, clock: FakeClock, journal: Path) -> None:
    """A row that never gets through fails after max_attempts sends."""
    api.sandbox.script(*["connect"] * 3)
    options = RunOptions(timeout=5.0, max_attempts=3, breaker_threshold=100)
    result = run(api, clock, journal, rows(["A"]), options=options).results[0]
    assert result.status == Status.FAILED
    assert (result.error or "").startswith("Not bought after 3 attempts. Try again later")


def test_preexisting_number_is_never_adopted(api: Api, clock: FakeClock, journal: Path) -> None:
    """A same-name number that was there before the run is baseline, not ours."""
    theirs = seed(api, "Studio")
    api.sandbox.script("503")
    result = run(api, clock, journal, rows(["Studio"]), foreign={theirs}).results[0]
    assert (result.assigned_name, posts(api)) == ("Studio 2", 2)


class TwinOnCreate(Api):
    """Someone else buys a "Twin" just as each create reaches the sandbox."""

    theirs: set[str]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.theirs.add(seed(self, "Twin"))
        return await super().handle_async_request(request)


def test_two_candidates_go_to_review(clock: FakeClock, journal: Path) -> None:
    """Two new numbers fitting one row are reported as a possible duplicate, never resent."""
    api = TwinOnCreate(create_app(Config(token=TOKEN), clock=clock, sleep=clock.sleep))
    api.theirs = set()
    api.sandbox.script("timeout_after")
    result = run(api, clock, journal, rows(["Twin"]), foreign=api.theirs).results[0]
    first, second = ledger_ids(api)
    assert result.status == Status.FAILED
    assert result.error == (
        f"This row may have been bought twice: review numbers {first}, {second} in the account "
        "and release the one you do not want"
    )
    assert (posts(api), bought(api)) == (1, {"twin": 2})


def test_suffix_match_is_anchored(api: Api, clock: FakeClock, journal: Path) -> None:
    """A number named "Studio 54" is never taken for the row "Studio 5"."""
    api.sandbox.script("503")
    outcome = run(api, clock, journal, rows(["Studio 54", "Studio 5"]))
    assert [r.assigned_name for r in outcome.results] == ["Studio 54", "Studio 5"]
    assert_no_duplicates(api)


def test_rerun_resorted_sends_only_new_rows(api: Api, clock: FakeClock, journal: Path) -> None:
    """A re-sorted sheet with added rows orders only the new rows."""
    run(api, clock, journal, rows(["A", "B", "C"]))
    before = posts(api)
    outcome = run(api, clock, journal, rows(["D", "C", "b ", "A"]))
    assert statuses(outcome) == ["provisioned"] + ["already provisioned"] * 3
    assert posts(api) - before == 1
    assert outcome.results[2].tracking_number == number(api, "B")["phone_number"]


def test_rerun_of_done_rows_sends_nothing(api: Api, clock: FakeClock, journal: Path) -> None:
    """When every row is already provisioned no request at all is made."""
    run(api, clock, journal, rows(["A", "B"]))
    count = len(api.requests)
    outcome = run(api, clock, journal, rows(["B", "A"]))
    assert (count, 0) == (len(api.requests), outcome.stats["requests"])


def test_changed_done_row_is_not_reordered(api: Api, clock: FakeClock, journal: Path) -> None:
    """A provisioned row whose payload changed is reported, with a warning, not re-bought."""
    run(api, clock, journal, rows(["A"]))
    changed = [CheckedRow(0, 2, order("A", number_match_filter="833"))]
    result = run(api, clock, journal, changed).results[0]
    assert result.status == Status.ALREADY_PROVISIONED
    assert result.warnings == ("row changed since it was provisioned; not re-ordered",)


def test_failed_rows_are_not_resent_by_default(api: Api, clock: FakeClock, journal: Path) -> None:
    """An earlier permanent failure is reported again, without a request."""
    api.sandbox.script("400")
    run(api, clock, journal, rows(["A"]))
    result = run(api, clock, journal, rows(["A"])).results[0]
    assert posts(api) == 1
    assert result.error == (
        "HTTP 400: Bad Request: the request was refused (scripted fault) "
        "(from an earlier run; use --retry-failed to try again)"
    )


def test_failed_rows_are_resent_when_asked_or_changed(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """--retry-failed, or a fixed row, orders a failed row again."""
    api.sandbox.script("400", "400")
    run(api, clock, journal, rows(["A", "B"]))
    retry = RunOptions(timeout=5.0, retry_failed=True)
    assert (
        run(api, clock, journal, rows(["A"]), options=retry).results[0].status == Status.PROVISIONED
    )
    fixed = [CheckedRow(0, 2, order("B", number_match_filter="833"))]
    assert run(api, clock, journal, fixed).results[0].status == Status.PROVISIONED


def _abandon_intent(journal: Path, names: list[str]) -> None:
    """Leave INTENT items behind, as a run killed mid-flight would."""
    with Journal.open(journal) as j:
        run_id = j.start_run("test")
        for name in names:
            body = order(name).body_json()
            j.ensure_item(API, GID, name, body)
            j.begin_attempt(j.lookup(API, GID, name).key, run_id, body)  # type: ignore[union-attr]


def test_crash_recovery_adopts_bought_numbers(api: Api, clock: FakeClock, journal: Path) -> None:
    """An INTENT left by a crash whose number exists is adopted, not bought again."""
    with Journal.open(journal) as j:
        j.add_baseline(API, GID, [])
    _abandon_intent(journal, ["Bought"])
    seed(api, "Bought")
    result = run(api, clock, journal, rows(["Bought"])).results[0]
    assert (result.status, posts(api)) == (Status.PROVISIONED, 0)
    assert "its number was then found in the account" in result.warnings[0]


def test_crash_recovery_resends_absent_once(api: Api, clock: FakeClock, journal: Path) -> None:
    """An INTENT left by a crash whose number does not exist is sent exactly once more."""
    with Journal.open(journal) as j:
        j.add_baseline(API, GID, [])
    _abandon_intent(journal, ["Lost"])
    outcome = run(api, clock, journal, rows(["Lost", "New"]))
    assert statuses(outcome) == ["provisioned", "provisioned"]
    assert (posts(api), outcome.results[0].attempts) == (2, 2)
    assert_no_duplicates(api)


def test_earlier_2xx_saying_nothing_is_never_resent(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """An earlier run's unread 2xx whose number no listing shows stays unknown, unsent."""
    with Journal.open(journal) as j:
        j.add_baseline(API, GID, [])
    _abandon_intent(journal, ["Claimed", "Lost"])
    with Journal.open(journal) as j:
        for name, detail in [
            ("Claimed", "HTTP 202 with an unreadable body"),
            ("Lost", "HTTP 500: x"),
        ]:
            j.record_unknown(j.lookup(API, GID, name).key, detail)  # type: ignore[union-attr]
    outcome = run(api, clock, journal, rows(["Claimed", "Lost"]))
    assert statuses(outcome) == ["failed", "provisioned"]
    assert "HTTP 202 with an unreadable body, which says it bought" in str(outcome.results[0].error)
    assert posts(api) == 1  # only the 500, which bought nothing, is sent again
    with Journal.open(journal) as j:
        assert j.lookup(API, GID, "Claimed").state is State.UNKNOWN  # type: ignore[union-attr]


def test_second_run_on_a_journal_is_refused(api: Api, clock: FakeClock, journal: Path) -> None:
    """While one run holds the journal, another fails fast with JournalBusyError."""
    with Journal.open(journal), pytest.raises(JournalBusyError, match="Another batchprov run"):
        run(api, clock, journal, rows(["A"]))
    assert posts(api) == 0


def test_stop_before_start_sends_nothing(api: Api, clock: FakeClock, journal: Path) -> None:
    """A stop set before the run leaves every row not attempted."""
    stop = threading.Event()
    stop.set()
    outcome = run(api, clock, journal, rows(["A", "B"]), stop=stop)
    assert (outcome.stopped_reason, posts(api)) == ("interrupted", 0)
    assert statuses(outcome) == ["not attempted"] * 2
    assert outcome.results[0].error == (
        "Not sent: the run was stopped before this row's turn. Run the same command again to "
        "order it."
    )


def test_stop_mid_run_records_what_was_sent(api: Api, clock: FakeClock, journal: Path) -> None:
    """A stop during the run lets sent rows finish and leaves the rest not attempted."""
    stop = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.done == 3:
            stop.set()

    options = RunOptions(concurrency=1, timeout=5.0)
    outcome = run(
        api,
        clock,
        journal,
        rows([f"C{i}" for i in range(8)]),
        stop=stop,
        on_progress=progress,
        options=options,
    )
    assert outcome.stopped_reason == "interrupted"
    assert 3 <= posts(api) < 8
    assert posts(api) == statuses(outcome).count("provisioned")
    assert seen[-1].total == 8


def test_breaker_gives_up_when_api_is_down(api: Api, clock: FakeClock, journal: Path) -> None:
    """Persistent connect failures trip the breaker; failing probes end the run."""
    api.sandbox.set_faults(Faults(script=("connect",) * 100, list_script=("drop",) * 1000))
    with Journal.open(journal) as j:
        j.add_baseline(API, GID, [])
    options = RunOptions(timeout=5.0, breaker_threshold=3, breaker_give_up=30.0)
    outcome = run(api, clock, journal, rows([f"C{i}" for i in range(5)]), options=options)
    assert (outcome.stopped_reason or "").startswith("API unavailable: ")
    assert posts(api) <= 3 + options.concurrency


def test_breaker_resumes_after_a_good_probe(api: Api, clock: FakeClock, journal: Path) -> None:
    """Once a probe succeeds dispatch resumes and every row is ordered."""
    api.sandbox.script(*["connect"] * 3)
    options = RunOptions(concurrency=1, timeout=5.0, breaker_threshold=3)
    outcome = run(api, clock, journal, rows(["A", "B"]), options=options)
    assert statuses(outcome) == ["provisioned", "provisioned"]
    assert outcome.stats["breaker_trips"] >= 1


def test_duplicate_names_in_one_run_are_ordered_once(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """Two rows with the same (group, name) never both buy."""
    outcome = run(api, clock, journal, rows(["Same", "same "]))
    assert statuses(outcome) == ["provisioned", "failed"]
    assert posts(api) == 1


def test_token_never_reaches_journal_or_results(api: Api, clock: FakeClock, journal: Path) -> None:
    """The token appears in no result, stat or journal byte."""
    api.sandbox.script("401")
    outcome = run(api, clock, journal, rows(["A"]))
    blob = repr(outcome).encode() + b"".join(p.read_bytes() for p in journal.parent.iterdir())
    assert TOKEN.encode() not in blob


def test_progress_is_reported(api: Api, clock: FakeClock, journal: Path) -> None:
    """Progress arrives after every final row, naming that row, ending with every row done."""
    api.sandbox.script("429")
    seen: list[Progress] = []
    outcome = run(api, clock, journal, rows(["A", "B"]), on_progress=seen.append)
    last = seen[-1]
    assert Progress(total=2, done=2, provisioned=2, failed=0, retries=1, throttled=1) == replace(
        last, last=None
    )
    finals = [p.last for p in seen if p.last is not None]
    assert sorted(r.index for r in outcome.results) == sorted(r.index for r in finals)


def test_journal_records_done_items(api: Api, clock: FakeClock, journal: Path) -> None:
    """After a run every row's item is DONE with its number id."""
    run(api, clock, journal, rows(["A", "B"]))
    with Journal.open(journal) as j:
        items = j.items(API, GID)
    assert sorted((i.state, i.number_id or "") for i in items) == [
        (State.DONE, number_id) for number_id in sorted(ledger_ids(api))
    ]
    assert len(ledger_ids(api)) == 2


def test_crashpoint_kills_at_the_named_hit(tmp_path: Path) -> None:
    """BATCHPROV_CRASH_AT=point:N ends the process with 137 at the N-th hit, and not before."""
    module = Path(__file__).resolve().parents[2] / "batchprov" / "order" / "crashpoints.py"
    code = (  # load the module alone: importing the package would cost seconds
        "import importlib.util as u\n"
        f"s = u.spec_from_file_location('cp', {str(module)!r}); m = u.module_from_spec(s)\n"
        "s.loader.exec_module(m); crashpoint = m.crashpoint\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    crashpoint('after_intent_commit')\n"
    )
    env = {**os.environ, "BATCHPROV_CRASH_AT": "after_intent_commit:3"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert (done.returncode, done.stdout) == (137, "0\n1\n2\n")


def test_progress_of_a_resumed_run_starts_after_the_journal(
    api: Api, clock: FakeClock, journal: Path
) -> None:
    """A resumed run's rows settled from the journal come while planning; the first event
    after says how many there were, so a progress bar's rate counts only this run's rows."""
    run(api, clock, journal, rows(["A", "B"]))
    seen: list[Progress] = []
    run(api, clock, journal, rows(["A", "B", "C"]), on_progress=seen.append)
    planning = [p for p in seen if p.planning]
    after = [p for p in seen if not p.planning]
    assert [p.done for p in planning] == [1, 2]
    assert (after[0].resumed, after[0].done, after[0].total) == (2, 2, 3)
    assert (after[-1].resumed, after[-1].done) == (2, 3)


def test_a_name_is_judged_against_the_groups_first_listing_of_the_run() -> None:
    """A name absent from the run's first listing (a recovery's) but in a later one still flags."""
    from types import SimpleNamespace

    from batchprov.order.client import Number
    from batchprov.order.dispatch import Dispatcher

    def listed(*names: str) -> tuple[Number, ...]:
        return tuple(Number(str(i), f"289866{i:04d}", n) for i, n in enumerate(names))

    state = SimpleNamespace(first_seen={GID: listed("Other")})
    dispatcher = Dispatcher(state)  # type: ignore[arg-type]
    row = SimpleNamespace(order=SimpleNamespace(name="A"), group=GID)
    state.first_seen.setdefault(GID, listed("Other", "A"))  # the baseline, later: "A" shows
    assert dispatcher._named_since(row, listed("A 2")[0])  # type: ignore[arg-type]
    assert not dispatcher._named_since(row, listed("A")[0])  # type: ignore[arg-type]
    state.first_seen[GID] = listed("a")  # there from the start (--existing order)
    assert not dispatcher._named_since(row, listed("A 2")[0])  # type: ignore[arg-type]
