"""Ordering many rows at once without ever buying a number twice or losing one.

`order_rows` drives one run: it looks every row up in the journal, reconciles what an earlier
run left in flight, then sends the rest under a concurrency bound and a shared rate. Each
create is sent once per intent; what happens next depends on the answer (reliability.md §1):

* created → DONE; a permanent 4xx → failed; 401/403 → the whole run stops at once;
* never sent (connect errors) and 429 → sent again later, with backoff or ``Retry-After``;
* anything ambiguous (timeouts, dropped connections, 5xx, 408/409, unreadable 2xx) → the
  group is listed once the settle delay has passed: exactly one matching new number is
  adopted, none (twice) means it is safe to send again, several go to review.

A circuit breaker pauses dispatch when the network fails repeatedly, and a ``stop`` event
(Ctrl-C) lets in-flight requests finish before returning.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

import httpx

from batchprov import __version__
from batchprov.client import (
    ApiClient,
    CreateResult,
    Kind,
    ListingFailed,
    ListingRefused,
    Number,
    TokenRejected,
    now_iso,
)
from batchprov.crashpoints import crashpoint
from batchprov.journal import Item, Journal, State, item_key
from batchprov.models import OWNED, CheckedRow, OrderRequest, RowResult, Status
from batchprov.ratelimit import RateLimiter, backoff
from batchprov.reconcile import Decision, Verdict, candidates, decide, name_pattern

P = ParamSpec("P")
T = TypeVar("T")

#: A 429 is the server's pacing, not the row's fault: it has its own, larger budget.
THROTTLE_BUDGET_FACTOR = 10
#: On an interrupt, unknown outcomes are reconciled only if that takes at most this long.
QUICK_RECONCILE = 3.0


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run orders: concurrency, rate, patience and persistence."""

    concurrency: int = 8
    rate: float | None = None  # requests/s; None = adaptive ("auto")
    timeout: float = 30.0  # seconds to wait for an answer before the outcome is unknown
    retry_failed: bool = False
    settle_delay: float | None = None  # wait before trusting "absent" in a reconcile
    max_attempts: int = 6  # sends per row (never-sent / reconciled-absent)
    breaker_threshold: int = 5  # consecutive transport failures before pausing dispatch
    breaker_give_up: float = 60.0  # seconds of failing probes before the run stops

    @property
    def settle(self) -> float:
        """The settle delay: given, or max(2 s, half the read timeout)."""
        if self.settle_delay is not None:
            return self.settle_delay
        return max(2.0, self.timeout / 2)


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts sent after every row reaches a final state (and on retries)."""

    total: int
    done: int
    provisioned: int
    failed: int
    retries: int
    throttled: int


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What `order_rows` returns: one result per row, in the order given."""

    results: tuple[RowResult, ...]
    stopped_reason: str | None
    stats: dict[str, int]


def order_rows(
    rows: Sequence[CheckedRow],
    *,
    api_url: str,
    token: str,
    journal_path: Path,
    options: RunOptions = RunOptions(),
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> OrderOutcome:
    """Order a number for every row (each must have ``.order``), exactly once across runs.

    Raises `JournalBusyError` when another run holds the journal. Everything else (token
    rejected, API down, interrupted) ends in ``OrderOutcome.stopped_reason``.
    """
    with Journal.open(journal_path) as journal:
        run = _Run(
            rows,
            api_url=api_url,
            token=token,
            journal=journal,
            options=options,
            transport=transport,
            on_progress=on_progress,
            stop=stop,
            sleep=sleep,
            clock=clock,
        )
        return asyncio.run(run.execute())


@dataclass(slots=True, eq=False)
class _Row:
    """One row's progress through this run."""

    row: CheckedRow
    order: OrderRequest
    key: str
    item: Item | None = None
    result: RowResult | None = None
    sends: int = 0  # sends this run that count toward max_attempts
    throttles: int = 0
    ready_at: float = 0.0  # when a reconcile may look for it
    absent_since: float | None = None
    not_before: float = 0.0  # earliest resend
    unknown_detail: str = ""
    recovering: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def group(self) -> int:
        return self.order.group_id


class _JournalThread:
    """Runs journal calls one at a time on a thread of their own, off the event loop."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="batchprov-journal")

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class _Breaker:
    """Counts consecutive transport failures; trips at the threshold."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.failures = 0
        self.tripped_at: float | None = None
        self.last_error = ""

    def failure(self, detail: str, now: float) -> bool:
        """Record a failure; True if this one tripped the breaker."""
        self.failures += 1
        self.last_error = detail
        if self.failures >= self.threshold and self.tripped_at is None:
            self.tripped_at = now
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.tripped_at = None


class _Run:
    """The state of one `order_rows` call."""

    def __init__(
        self,
        rows: Sequence[CheckedRow],
        *,
        api_url: str,
        token: str,
        journal: Journal,
        options: RunOptions,
        transport: httpx.AsyncBaseTransport | None,
        on_progress: Callable[[Progress], None] | None,
        stop: threading.Event | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.journal = journal
        self.opts = options
        self._transport = transport
        self._on_progress = on_progress
        self._stop = stop
        self._sleep = sleep
        self._clock = clock
        self.rows = [self._new_row(r) for r in rows]
        self.stats: Counter[str] = Counter()
        self.halt: str | None = None
        self._rng = random.Random()
        self._queue: list[tuple[float, int, _Row]] = []
        self._seq = 0
        self._unknown: dict[int, dict[str, _Row]] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._baselined: set[int] = set()
        self._refused: dict[int, str] = {}
        self._group_locks: dict[int, asyncio.Lock] = {}
        self._breaker = _Breaker(options.breaker_threshold)
        self._error: BaseException | None = None
        self.run_id = ""

    def _new_row(self, row: CheckedRow) -> _Row:
        if row.order is None:
            raise ValueError(f"row {row.excel_row} has no order; only valid rows can be ordered")
        order = row.order
        return _Row(row=row, order=order, key=item_key(self.api_url, order.group_id, order.name))

    # the run -------------------------------------------------------------------------

    async def execute(self) -> OrderOutcome:
        """Plan, recover, dispatch until every row is final or the run stops."""
        self.jx = _JournalThread()
        self._done = asyncio.Event()
        self._wake_dispatch = asyncio.Event()
        self._wake_reconcile = asyncio.Event()
        self.limiter = RateLimiter(self.opts.rate, clock=self._clock, sleep=self._sleep)
        self.sem = asyncio.Semaphore(self.opts.concurrency)
        self.client = ApiClient(
            self.api_url,
            self._token,
            timeout=self.opts.timeout,
            concurrency=self.opts.concurrency,
            transport=self._transport,
            sleep=self._sleep,
        )
        try:
            self.run_id = await self.jx(self.journal.start_run, __version__)
            await self._plan()
            await self._drive()
            await self._finish()
            await self.jx(self.journal.end_run, self.run_id, self.halt or "finished")
        finally:
            await self.client.aclose()
            self.jx.close()
        if self._error is not None:
            raise self._error
        return self._outcome()

    async def _drive(self) -> None:
        """Run the dispatcher and reconciler until every row is final or the run halts."""
        self._check_done()
        loops = [asyncio.create_task(self._dispatch()), asyncio.create_task(self._reconcile())]
        if self._stop is not None:
            loops.append(asyncio.create_task(self._watch_stop()))
        await self._done.wait()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        while self._inflight:  # let requests in flight finish and be recorded
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    async def _finish(self) -> None:
        """After a stop: a quick reconcile if interrupted, then every open row's result."""
        if self.halt == "interrupted" and self._error is None:
            await self._quick_reconcile()
        for row in self.rows:
            if row.result is None:
                item = await self.jx(self.journal.get, row.key)
                row.result = self._stopped_result(row, item)

    # planning ------------------------------------------------------------------------

    async def _plan(self) -> None:
        """Look every row up in the journal: done, failed, to recover, or to order."""
        seen: dict[str, _Row] = {}
        for row in self.rows:
            first = seen.setdefault(row.key, row)
            if first is not row:
                text = (
                    f"same name as row {first.row.excel_row} in group {row.group}; "
                    "names must be unique in a group, so this row was not ordered"
                )
                self._final(row, self._failed(row, None, text))
                continue
            item = await self.jx(self.journal.get, row.key)
            if item is None:
                item = await self.jx(
                    self.journal.ensure_item,
                    self.api_url,
                    row.group,
                    row.order.name,
                    row.order.body_json(),
                )
            self._plan_row(row, item)

    def _plan_row(self, row: _Row, item: Item) -> None:
        row.item = item
        changed = item.payload != row.order.body_json()
        if item.state is State.DONE:
            if changed:
                row.warnings.append("row changed since it was provisioned; not re-ordered")
            self._final(row, self._owned(row, item, Status.ALREADY_PROVISIONED))
        elif item.state is State.REVIEW:
            self._final(row, self._failed(row, item, f"{_review_text(item)} (from an earlier run)"))
        elif item.state is State.FAILED and not (self.opts.retry_failed or changed):
            text = f"{item.last_error} (from an earlier run; use --retry-failed to try again)"
            self._final(row, self._failed(row, item, text))
        elif item.unresolved:
            self._recover(row, item)
        else:
            self._enqueue(row, 0.0)

    def _recover(self, row: _Row, item: Item) -> None:
        """An earlier run left this row in flight: reconcile it before any new order."""
        age = max(0.0, time.time() - (item.intent_epoch or time.time()))
        row.recovering = True
        row.unknown_detail = item.last_error or "the earlier run stopped while it was in flight"
        row.ready_at = self._clock() - age + self.opts.settle
        self._unknown.setdefault(row.group, {})[row.key] = row
        self.stats["recovered"] += 1

    # dispatching ---------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Send queued rows, one rate slot and one concurrency slot each."""
        try:
            while not self._halted():
                self._wake_dispatch.clear()
                if self._recovering() or not self._queue:
                    await self._wait(self._wake_dispatch, None)
                    continue
                wait = self._queue[0][0] - self._clock()
                if wait > 0:
                    await self._wait(self._wake_dispatch, wait)
                    continue
                if self._breaker.tripped_at is not None:
                    await self._probe(self._queue[0][2].group)
                    continue
                await self._send_next()
        except Exception as exc:  # a bug: stop cleanly, re-raise at the end
            self._fail_run(exc)

    async def _send_next(self) -> None:
        await self.sem.acquire()
        try:
            sent_at = await self.limiter.acquire()
        except BaseException:
            self.sem.release()
            raise
        if self._halted() or not self._queue:
            self.sem.release()
            return
        row = heapq.heappop(self._queue)[2]
        task = asyncio.create_task(self._send(row, sent_at))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _send(self, row: _Row, sent_at: float) -> None:
        """One attempt: baseline, durable intent, POST, durable outcome."""
        try:
            if await self._ensure_baseline(row) and not self._halted():
                await self._attempt(row, sent_at)
            elif row.result is None and row.key not in self._unknown.get(row.group, {}):
                self._enqueue(row, row.not_before)
        except sqlite3.Error as exc:
            self._stop_run(f"journal write failed ({exc}); stopped so nothing goes unrecorded")
        except Exception as exc:
            self._fail_run(exc)
        finally:
            self.sem.release()
            self._poke()

    async def _attempt(self, row: _Row, sent_at: float) -> None:
        if row.item is not None and row.item.state is State.FAILED:
            await self.jx(self.journal.reopen, row.key, row.order.body_json())
        item = await self.jx(
            self.journal.begin_attempt, row.key, self.run_id, row.order.body_json()
        )
        row.item = item
        crashpoint("after_intent_commit")
        if item.attempts > 1:
            self.stats["retries"] += 1
        result = await self.client.create_number(row.group, row.order.body_json())
        crashpoint("after_send_before_commit")
        await self._handle(row, result, sent_at)
        crashpoint("after_result_commit")

    async def _ensure_baseline(self, row: _Row) -> bool:
        """Before this run's first POST to a group, record the group's numbers as not ours."""
        gid = row.group
        if gid in self._baselined:
            return True
        async with self._group_locks.setdefault(gid, asyncio.Lock()):
            if gid in self._baselined:
                return True
            if gid in self._refused:
                await self._refuse(row, self._refused[gid])
                return False
            listing = await self._list(gid, hold_slot=True)
            if listing is None:
                if gid in self._refused:
                    await self._refuse(row, self._refused[gid])
                row.not_before = self._clock() + backoff(1, rng=self._rng)
                return False
            await self.jx(_refresh_baseline, self.journal, self.api_url, gid, listing)
            self._baselined.add(gid)
            return True

    async def _refuse(self, row: _Row, detail: str) -> None:
        """The group cannot be listed (e.g. 404): its rows fail without a purchase attempt."""
        item = await self.jx(self.journal.record_failed, row.key, detail)
        self._final(row, self._failed(row, item, detail))

    # answers -------------------------------------------------------------------------

    async def _handle(self, row: _Row, res: CreateResult, sent_at: float) -> None:
        """Record what the answer means, then decide the row's next step."""
        self._note_transport(res)
        if res.kind is Kind.CREATED and res.number is not None:
            await self._created(row, res.number, res.status)
        elif res.kind is Kind.PERMANENT:
            item = await self.jx(self.journal.record_failed, row.key, res.detail, status=res.status)
            self._final(row, self._failed(row, item, res.detail))
        elif res.kind is Kind.AUTH:
            await self.jx(
                self.journal.record_pending, row.key, "auth", res.detail, status=res.status
            )
            self._stop_run(f"token rejected ({res.detail})")
        elif res.kind is Kind.THROTTLED:
            await self._throttled(row, res, sent_at)
        elif res.kind is Kind.NOT_SENT:
            await self._not_sent(row, res)
        else:
            await self._ambiguous(row, res)

    def _note_transport(self, res: CreateResult) -> None:
        if res.kind is not Kind.THROTTLED and res.status is not None:
            self.limiter.on_answer()
        if not res.transport:
            self._breaker.success()
        elif self._breaker.failure(res.detail, self._clock()):
            self.stats["breaker_trips"] += 1

    async def _created(self, row: _Row, number: Number, status: int | None) -> None:
        item = await self.jx(
            self.journal.record_done,
            row.key,
            number,
            provisioned_at=number.created_datetime or now_iso(),
            resolved_by="answer",
            status=status,
        )
        self._final(row, self._owned(row, item, Status.PROVISIONED))

    async def _throttled(self, row: _Row, res: CreateResult, sent_at: float) -> None:
        self.stats["throttled"] += 1
        row.throttles += 1
        wait = (
            res.retry_after
            if res.retry_after is not None
            else backoff(row.throttles, rng=self._rng)
        )
        self.limiter.on_throttle(sent_at, wait)
        item = await self.jx(
            self.journal.record_pending, row.key, "throttled", res.detail, status=res.status
        )
        if row.throttles >= self.opts.max_attempts * THROTTLE_BUDGET_FACTOR:
            await self._exhausted(row, item, res.detail)
        else:
            self._retry(row, self._clock() + wait)

    async def _not_sent(self, row: _Row, res: CreateResult) -> None:
        self.stats["not_sent"] += 1
        row.sends += 1
        item = await self.jx(self.journal.record_pending, row.key, "not sent", res.detail)
        if row.sends >= self.opts.max_attempts:
            await self._exhausted(row, item, res.detail)
        else:
            self._retry(row, self._clock() + backoff(row.sends, rng=self._rng))

    async def _ambiguous(self, row: _Row, res: CreateResult) -> None:
        self.stats["ambiguous"] += 1
        row.sends += 1
        row.item = await self.jx(
            self.journal.record_unknown, row.key, res.detail, status=res.status
        )
        now = self._clock()
        row.unknown_detail = res.detail
        row.ready_at = now + self.opts.settle
        row.absent_since = None
        row.not_before = now + (res.retry_after or 0.0)
        self._unknown.setdefault(row.group, {})[row.key] = row
        self._wake_reconcile.set()

    async def _exhausted(self, row: _Row, item: Item, detail: str) -> None:
        text = f"not bought after {item.attempts} attempts; last: {detail}"
        item = await self.jx(self.journal.record_failed, row.key, text)
        self._final(row, self._failed(row, item, text))

    def _retry(self, row: _Row, when: float) -> None:
        self._enqueue(row, when)
        self._progress()

    # reconciling ---------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """List groups whose unknown rows have settled; adopt, resend or review them."""
        try:
            while not self._halted():
                self._wake_reconcile.clear()
                now = self._clock()
                groups = [
                    g
                    for g, rows in self._unknown.items()
                    if any(r.ready_at <= now for r in rows.values())
                ]
                if not groups:
                    await self._wait(self._wake_reconcile, self._next_ready(now))
                    continue
                for gid in groups:
                    await self._reconcile_group(gid, final=False)
        except sqlite3.Error as exc:
            self._stop_run(f"journal write failed ({exc}); stopped so nothing goes unrecorded")
        except Exception as exc:
            self._fail_run(exc)

    def _next_ready(self, now: float) -> float | None:
        times = [r.ready_at for rows in self._unknown.values() for r in rows.values()]
        return max(min(times) - now, 0.0) if times else None

    async def _reconcile_group(self, gid: int, *, final: bool) -> None:
        """One listing of the group; a verdict for each of its settled unknown rows."""
        taken_at = self._clock()
        ready = {k: r for k, r in self._unknown.get(gid, {}).items() if r.ready_at <= taken_at}
        if not ready:
            return
        async with self.sem:
            listing = await self._list(gid, hold_slot=False)
        if listing is None:
            for row in ready.values():
                row.ready_at = self._clock() + backoff(2, rng=self._rng)
                if gid in self._refused:
                    self._give_up_unknown(row, self._refused[gid])
            return
        self.stats["reconciles"] += 1
        verdicts = await self.jx(
            _verdicts,
            self.journal,
            self.api_url,
            gid,
            listing,
            {k: r.order.name for k, r in ready.items()},
        )
        for key, decision in verdicts.items():
            await self._apply(ready[key], decision, taken_at, final=final)
            crashpoint("mid_reconcile")

    async def _apply(self, row: _Row, decision: Decision, taken_at: float, *, final: bool) -> None:
        verdict = decision.verdict
        if verdict is Verdict.ADOPT:
            await self._adopt(row, decision.numbers[0])
        elif verdict in (Verdict.REVIEW, Verdict.OVERLAP):
            await self._review(row, decision)
        elif verdict is Verdict.DEFER:
            row.ready_at = self._clock() + self.opts.settle
        elif not final:
            await self._absent(row, taken_at)

    async def _adopt(self, row: _Row, number: Number) -> None:
        self.stats["adopted"] += 1
        row.warnings.append(
            f"adopted after an unanswered request ({row.unknown_detail}); "
            "found in the group's numbers by name"
        )
        item = await self.jx(
            self.journal.record_done,
            row.key,
            number,
            provisioned_at=number.created_datetime or now_iso(),
            resolved_by="reconcile",
        )
        self._resolved(row)
        self._final(row, self._owned(row, item, Status.PROVISIONED))

    async def _review(self, row: _Row, decision: Decision) -> None:
        self.stats["review"] += 1
        if decision.verdict is Verdict.REVIEW:
            text = f"possible duplicate purchase: review numbers {decision.ids}"
        else:
            text = (
                f"cannot tell which row owns numbers {decision.ids}: their names fit "
                "several rows of this group; review them"
            )
        item = await self.jx(
            self.journal.record_review, row.key, text, [n.id for n in decision.numbers]
        )
        self._resolved(row)
        self._final(row, self._failed(row, item, text))

    async def _absent(self, row: _Row, taken_at: float) -> None:
        """Absent once: look again a little later. Absent twice: provably not bought."""
        gap = min(1.0, self.opts.settle / 2)
        if row.absent_since is None or taken_at < row.absent_since + gap:
            row.absent_since = row.absent_since if row.absent_since is not None else taken_at
            row.ready_at = max(row.ready_at, row.absent_since + gap)
            return
        self.stats["absent"] += 1
        item = await self.jx(
            self.journal.record_pending, row.key, "absent", f"not found after: {row.unknown_detail}"
        )
        self._resolved(row)
        if row.sends >= self.opts.max_attempts:
            await self._exhausted(row, item, row.unknown_detail)
        else:
            self._retry(row, max(row.not_before, self._clock()))

    def _give_up_unknown(self, row: _Row, why: str) -> None:
        """The group cannot be listed: leave the row UNKNOWN for the next run to reconcile."""
        self._resolved(row)
        text = (
            f"outcome unknown ({row.unknown_detail}); the group's numbers cannot be listed "
            f"({why}); run again to reconcile — it will not be bought twice"
        )
        self._final(row, self._failed(row, row.item, text))

    def _resolved(self, row: _Row) -> None:
        self._unknown.get(row.group, {}).pop(row.key, None)
        if not self._unknown.get(row.group):
            self._unknown.pop(row.group, None)
        row.recovering = False
        self._poke()

    async def _quick_reconcile(self) -> None:
        """On an interrupt: one look for unknown rows, if their settle delay is nearly over."""
        times = [r.ready_at for rows in self._unknown.values() for r in rows.values()]
        if not times or max(times) - self._clock() > QUICK_RECONCILE:
            return
        await self._sleep(max(max(times) - self._clock(), 0.0))
        for gid in list(self._unknown):
            await self._reconcile_group(gid, final=True)

    # listing, probing, stopping ------------------------------------------------------

    async def _list(self, gid: int, *, hold_slot: bool) -> list[Number] | None:
        """The group's numbers, or None (after retries). A 401/403 stops the run."""
        del hold_slot  # the caller holds the concurrency slot either way
        try:
            listing = await self.client.list_numbers(gid, pace=self.limiter.acquire)
        except TokenRejected as exc:
            self._stop_run(f"token rejected ({exc})")
            return None
        except ListingRefused as exc:
            self._refused[gid] = str(exc)
            self.stats["listing_failures"] += 1
            return None
        except ListingFailed as exc:
            self.stats["listing_failures"] += 1
            if self._breaker.failure(str(exc), self._clock()):
                self.stats["breaker_trips"] += 1
            return None
        self._breaker.success()
        return listing

    async def _probe(self, gid: int) -> None:
        """While the breaker is open: probe with a small GET, backing off, until it answers."""
        attempt = 0
        while self._breaker.tripped_at is not None and not self._halted():
            elapsed = self._clock() - self._breaker.tripped_at
            if elapsed >= self.opts.breaker_give_up:
                self._stop_run(f"API unavailable: {self._breaker.last_error}")
                return
            attempt += 1
            pause = min(
                backoff(attempt, base=0.5, cap=10.0, rng=self._rng) + 0.1,
                self.opts.breaker_give_up - elapsed,
            )
            await self._sleep(pause)
            self.stats["probes"] += 1
            try:
                async with self.sem:
                    await self.client.probe(gid)
            except TokenRejected as exc:
                self._stop_run(f"token rejected ({exc})")
            except (ListingFailed, ListingRefused) as exc:
                self._breaker.last_error = str(exc)
            else:
                self._breaker.success()

    async def _watch_stop(self) -> None:
        """Poll the caller's stop event (set from a signal handler or another thread)."""
        assert self._stop is not None
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        self._stop_run("interrupted")

    def _stop_run(self, reason: str) -> None:
        if self.halt is None:
            self.halt = reason
        self._poke()
        self._done.set()

    def _fail_run(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._stop_run(f"internal error: {type(exc).__name__}")

    def _halted(self) -> bool:
        if self._stop is not None and self._stop.is_set() and self.halt is None:
            self._stop_run("interrupted")
        return self.halt is not None or self._done.is_set()

    # bookkeeping ---------------------------------------------------------------------

    def _enqueue(self, row: _Row, when: float) -> None:
        self._seq += 1
        row.not_before = when
        heapq.heappush(self._queue, (when, self._seq, row))
        self._wake_dispatch.set()

    def _recovering(self) -> bool:
        return any(r.recovering for rows in self._unknown.values() for r in rows.values())

    def _poke(self) -> None:
        self._wake_dispatch.set()
        self._wake_reconcile.set()

    async def _wait(self, event: asyncio.Event, delay: float | None) -> None:
        """Until ``event`` is set or ``delay`` seconds have passed (None: no limit)."""
        if delay is None:
            await event.wait()
            return
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    def _final(self, row: _Row, result: RowResult) -> None:
        row.result = result
        self._progress()
        self._check_done()

    def _check_done(self) -> None:
        if all(r.result is not None for r in self.rows):
            self._done.set()
            self._poke()

    def _progress(self) -> None:
        if self._on_progress is None:
            return
        final = [r.result for r in self.rows if r.result is not None]
        self._on_progress(
            Progress(
                total=len(self.rows),
                done=len(final),
                provisioned=sum(1 for r in final if r.status in OWNED),
                failed=sum(1 for r in final if r.status is Status.FAILED),
                retries=self.stats["retries"],
                throttled=self.stats["throttled"],
            )
        )

    # results -------------------------------------------------------------------------

    def _owned(self, row: _Row, item: Item, status: Status) -> RowResult:
        if item.state is not State.DONE:  # the journal refused the number (already owned)
            return self._failed(row, item, item.last_error or "number already owned")
        warnings = list(row.warnings)
        actual = (item.actual_name or "").strip()
        if actual and actual != row.order.name.strip():
            warnings.append(
                f'name already in use in group {row.group}; the API assigned "{actual}"'
            )
        return RowResult(
            index=row.row.index,
            excel_row=row.row.excel_row,
            status=status,
            match_type=row.order.match_type.value,
            tracking_number=item.phone,
            number_id=item.number_id,
            route_id=item.route_id,
            assigned_name=item.actual_name,
            warnings=tuple(warnings),
            attempts=item.attempts,
            provisioned_at=item.provisioned_at,
        )

    def _failed(
        self, row: _Row, item: Item | None, error: str, status: Status = Status.FAILED
    ) -> RowResult:
        return RowResult(
            index=row.row.index,
            excel_row=row.row.excel_row,
            status=status,
            match_type=row.order.match_type.value,
            error=error,
            warnings=tuple(row.warnings),
            attempts=item.attempts if item else 0,
        )

    def _stopped_result(self, row: _Row, item: Item | None) -> RowResult:
        """The result of a row left open when the run stopped, from the journal's truth."""
        why = self.halt or "the run stopped"
        if item is None or (item.state is State.PENDING and item.attempts == 0):
            reason = "run interrupted" if why == "interrupted" else f"run stopped: {why}"
            return self._failed(
                row, item, f"{reason} before this row was sent", Status.NOT_ATTEMPTED
            )
        if item.state is State.DONE:
            return self._owned(row, item, Status.PROVISIONED)
        if item.state is State.REVIEW:
            return self._failed(row, item, _review_text(item))
        if item.unresolved:
            detail = row.unknown_detail or item.last_error or "no answer"
            return self._failed(
                row,
                item,
                f"outcome unknown ({detail}); run again to reconcile — it will not be bought twice",
            )
        if item.state is State.FAILED:
            return self._failed(row, item, item.last_error or "failed")
        return self._failed(
            row,
            item,
            f"not bought ({item.last_error}); the run stopped "
            f"({why}) before it was sent again — run again to finish",
        )

    def _outcome(self) -> OrderOutcome:
        stats = dict(self.stats)
        stats["requests"] = self.client.sent["POST"]
        stats["list_requests"] = self.client.sent["GET"]
        results = tuple(r.result for r in self.rows if r.result is not None)
        return OrderOutcome(results=results, stopped_reason=self.halt, stats=stats)


def _review_text(item: Item) -> str:
    if item.last_error:
        return item.last_error
    return f"possible duplicate purchase: review numbers {item.review_numbers}"


def _refresh_baseline(journal: Journal, api_url: str, gid: int, listing: list[Number]) -> None:
    """Record the group's numbers that cannot be ours as baseline (runs on the journal thread).

    Numbers owned by DONE items are left out, and so are numbers whose names fit an item whose
    outcome is still open: they may be that item's purchase.
    """
    owned = journal.owned_ids(api_url, gid)
    patterns = [name_pattern(i.name) for i in journal.unresolved(api_url, gid)]
    foreign = [
        n
        for n in listing
        if n.id not in owned and not any(p.fullmatch(n.name.strip()) for p in patterns)
    ]
    journal.add_baseline(api_url, gid, foreign)


def _verdicts(
    journal: Journal, api_url: str, gid: int, listing: list[Number], ready: dict[str, str]
) -> dict[str, Decision]:
    """Verdicts for settled rows against one listing (runs on the journal thread)."""
    excluded = journal.baseline_ids(api_url, gid) | journal.owned_ids(api_url, gid)
    unresolved = {i.key: i.name for i in journal.unresolved(api_url, gid)}
    return decide(ready, unresolved, candidates(listing, excluded))
