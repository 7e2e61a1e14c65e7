"""What the parts of one run share: options, rows, the send queue, counters and the stop signal.

`RunState` is built inside the run's event loop and handed to the `Dispatcher` and the
`Reconciler`; it also holds the few steps both of them take (listing a group, recording a
purchase or a failure, stopping the run), so each is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import random
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import httpx

from batchprov.clock import now_iso
from batchprov.models import OWNED, RowResult, Status
from batchprov.order.client import (
    ApiClient,
    ListingFailed,
    ListingRefused,
    Number,
    TokenRejected,
)
from batchprov.order.journal import Item, Journal
from batchprov.order.options import RunOptions
from batchprov.order.rate import RateLimiter
from batchprov.order.rows import RowState, failed_result, owned_result, review_text
from batchprov.redact import Redactor
from batchprov.urls import normalise_url

P = ParamSpec("P")
T = TypeVar("T")


class RunHalted(Exception):
    """A wait was cut short because the run is stopping (Ctrl-C, a fatal answer, done)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts sent after every row reaches a final state (and on retries)."""

    total: int
    done: int
    provisioned: int
    failed: int
    retries: int
    throttled: int
    #: The row that just reached its final state (None on a retry-only update).
    last: RowResult | None = None
    #: Rows final before this run sent anything (the journal's, on a resumed run): a rate
    #: counts from there.
    resumed: int = 0
    #: True while the journal is read, before anything is sent (``resumed`` not known yet).
    planning: bool = False


#: Longest the journal thread waits for more calls before a commit, while other sends are in
#: flight: their intents and outcomes then share the commit (one fsync) instead of paying one
#: each. A few milliseconds against a request's tens or hundreds.
LINGER = 0.005


class JournalThread:
    """Runs journal calls one at a time on a thread of their own, off the event loop.

    Calls that queue up while others run are run together in one transaction (a group commit):
    each call's answer is handed back only once that transaction is committed. An intent is
    still durable before its POST goes out, but concurrent sends share one commit instead of
    paying one each. With ``linger``, while ``busy()`` (the sends in flight) says more callers
    than those queued may come, the thread waits up to that long before it takes the calls:
    on a fast API, calls otherwise arrive one at a time, each paying a commit of its own.
    """

    def __init__(
        self, journal: Journal, *, linger: float = 0.0, busy: Callable[[], int] | None = None
    ) -> None:
        self._journal = journal
        self._linger = linger
        self._busy = busy
        self._calls: deque[_Call] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="batchprov-journal", daemon=True)
        self._thread.start()

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._ready:
            if self._closing:
                raise RuntimeError("the journal thread is closed")
            self._calls.append((functools.partial(fn, *args, **kwargs), loop, future))
            # Wake the thread for a batch's first call, and when its last is in: a wake-up
            # for every call of a lingering batch only makes the thread take the interpreter
            # from the event loop to look and wait again.
            if len(self._calls) == 1 or not self._lingers(len(self._calls)):
                self._ready.notify()
        return await future

    def close(self) -> None:
        """Finish the calls queued, then stop the thread."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._calls and not self._closing:
                    self._ready.wait()
                if not self._calls:
                    return
                # Callers queue meanwhile (the last one wakes the wait); closing ends it at once.
                deadline = time.monotonic() + self._linger
                while self._lingers(len(self._calls)):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
                batch = list(self._calls)
                self._calls.clear()
            _run_group(self._journal, batch)

    def _lingers(self, queued: int) -> bool:
        """True while more callers than ``queued`` have sends in flight (never when closing)."""
        if not self._linger or self._busy is None or self._closing:
            return False
        return self._busy() > queued


#: A queued journal call: the call, and the loop and future its answer goes to.
_Call = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def wait_text(seconds: float) -> str:
    """A wait the way a person says it: ``45 s``, ``20 min``, ``24 h``, ``76 days``."""
    if seconds == float("inf"):
        return "for ever"
    if seconds >= 365 * 86400:
        return f"{seconds / (365.25 * 86400):.0f} years"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _run_group(journal: Journal, batch: list[_Call]) -> None:
    """Run the calls in one committed transaction, then hand each its answer or exception."""
    answers: list[tuple[bool, Any]] = []
    try:
        with journal.group_commit():
            for call, _, _ in batch:
                try:
                    answers.append((True, call()))
                except BaseException as exc:  # the caller gets it, as from an executor
                    answers.append((False, exc))
    except BaseException as exc:  # the commit failed: none of the writes is durable
        answers = [(False, exc)] * len(batch)
    # One wake-up per loop for the whole batch, not one per call: each costs a syscall.
    by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
    for (ok, value), (_, loop, future) in zip(answers, batch, strict=True):
        by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(_settle_all, settled)


#: A call's future, and whether it returned (True, its value) or raised (False, the exception).
_Answer = tuple["asyncio.Future[Any]", bool, Any]


def _settle_all(settled: list[_Answer]) -> None:
    for future, ok, value in settled:
        if future.done():  # the caller was cancelled
            continue
        try:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        except Exception as exc:  # (StopIteration cannot be set): never strand the rest
            future.set_exception(RuntimeError(f"the journal call failed: {exc!r}"))


class PurchaseBudget:
    """The run's cap on purchases: a send that may buy takes a unit before it goes out.

    A unit comes back only when the answer proves nothing was bought (refused, throttled,
    never sent); a purchase, or an outcome still unknown, keeps it. A send found absent after
    a lost answer keeps its unit too (`spend`): a listing can lag behind a purchase, so its
    resend needs a unit of its own. So the numbers bought never exceed the cap, fallbacks,
    adopted outcomes and lagging listings included.
    """

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.taken = 0

    def take(self, row: RowState) -> bool:
        """Reserve a unit for ``row``'s next send; False when the cap is reached."""
        if row.holds_budget or self.cap is None:
            row.holds_budget = True
            return True
        if self.taken >= self.cap:
            return False
        self.taken += 1
        row.holds_budget = True
        return True

    def give_back(self, row: RowState) -> None:
        """``row``'s send provably bought nothing: its unit is free again."""
        if row.holds_budget and self.cap is not None:
            self.taken -= 1
        row.holds_budget = False

    def spend(self, row: RowState) -> None:
        """``row``'s send may have bought all the same: its unit stays taken, and the row's
        next send must take another."""
        row.holds_budget = False

    def text(self, *, resend: bool = False) -> str:
        if resend:
            return (
                "Not sent again: its request got no answer and the account does not show the "
                "number yet; a listing can lag behind a purchase, so the cap of "
                f"{self.cap} number(s) (--max-numbers / --max-cost) counts it as bought. Run "
                "the same command later: batchprov looks for the number first"
            )
        return (
            f"not ordered: this run's cap of {self.cap} number(s) was reached "
            "(--max-numbers / --max-cost); raise it and run the same command again"
        )


class Breaker:
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


class RunState:
    """The state of one `order_rows` call, shared by dispatch and reconcile."""

    def __init__(
        self,
        rows: list[RowState],
        *,
        api_url: str,
        token: str,
        journal: Journal,
        options: RunOptions,
        key_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None,
        on_progress: Callable[[Progress], None] | None,
        stop: threading.Event | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        listings: Mapping[int, Sequence[Number]] | None = None,
    ) -> None:
        # Requests go to ``api_url`` as given (it may hold credentials); keys and texts use
        # the normalised form of ``key_url`` (`config.Api.key`), else of ``api_url``.
        self.api_url = normalise_url(key_url or api_url)
        self.redactor = Redactor.of(token, api_url)
        self.journal = journal
        journal.redact(self.redactor.scrub)
        self.opts = options
        self.stop = stop
        self.sleep = sleep
        self.clock = clock
        self._on_progress = on_progress
        #: While True, rows are settled from the journal; then ``resumed`` of them were.
        self.planning = True
        self.resumed = 0
        self.rows = rows
        self.run_id = ""
        self.stats: Counter[str] = Counter()
        #: Rows per final status so far.
        self.finals: Counter[Status] = Counter()
        self.halt: str | None = None
        self.error: BaseException | None = None
        self.rng = random.Random()
        self.queue: list[tuple[float, int, RowState]] = []
        self._seq = 0
        #: Rows whose outcome is unknown, by group then key: they wait for a reconcile.
        self.unknown: dict[int, dict[str, RowState]] = {}
        #: Groups that cannot be listed for good (e.g. 404), with the API's answer.
        self.refused: dict[int, str] = {}
        # Listings the plan took a moment ago: each serves once, as its group's baseline.
        self.fresh_listings: dict[int, list[Number]] = {
            gid: list(numbers) for gid, numbers in (listings or {}).items()
        }
        #: Each group's numbers as this run first saw them (the plan's listing, a reconcile's
        #: or the baseline's): a name that appears after it may be a purchase of its own.
        self.first_seen: dict[int, tuple[Number, ...]] = {
            gid: tuple(numbers) for gid, numbers in (listings or {}).items()
        }
        self.inflight: set[asyncio.Task[None]] = set()
        self.breaker = Breaker(options.breaker_threshold)
        self.budget = PurchaseBudget(options.max_purchases)
        self.jx = JournalThread(journal, linger=LINGER, busy=lambda: len(self.inflight))
        self.done = asyncio.Event()
        #: Set when the run stops: every `nap` (pacing pause, backoff) ends at once.
        self.naps_end = asyncio.Event()
        self.wake_dispatch = asyncio.Event()
        self.wake_reconcile = asyncio.Event()
        self.limiter = RateLimiter(options.rate, clock=clock, sleep=self.nap, space_sleep=sleep)
        self.sem = asyncio.Semaphore(options.concurrency)
        self.client = ApiClient(
            api_url,
            token,
            timeout=options.timeout,
            concurrency=options.concurrency,
            transport=transport,
            sleep=self.nap,
            redactor=self.redactor,
        )

    async def aclose(self) -> None:
        """Close the connection pool and the journal thread."""
        await self.client.aclose()
        self.jx.close()

    # queue and waiting ---------------------------------------------------------------

    def enqueue(self, row: RowState, when: float) -> None:
        self._seq += 1
        row.not_before = when
        heapq.heappush(self.queue, (when, self._seq, row))
        self.wake_dispatch.set()

    def retry(self, row: RowState, when: float) -> None:
        self.enqueue(row, when)
        self.progress()

    def poke(self) -> None:
        self.wake_dispatch.set()
        self.wake_reconcile.set()

    async def wait(self, event: asyncio.Event, delay: float | None) -> None:
        """Until ``event`` is set or ``delay`` seconds have passed (None: no limit)."""
        if delay is None:
            await event.wait()
            return
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(delay))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    async def nap(self, seconds: float) -> None:
        """Sleep ``seconds``, unless the run stops first: then raise `RunHalted` at once.

        Every pause of the run (Retry-After, backoff, pacing) sleeps here, so Ctrl-C never
        waits one out.
        """
        self._note_stop()
        if self.naps_end.is_set():
            raise RunHalted
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waiter = asyncio.ensure_future(self.naps_end.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
        self._note_stop()
        if self.naps_end.is_set():
            raise RunHalted

    def _note_stop(self) -> None:
        if self.stop is not None and self.stop.is_set() and self.halt is None:
            self.stop_run("interrupted")

    # unknown outcomes ----------------------------------------------------------------

    def mark_unknown(self, row: RowState) -> None:
        """The row may have been bought: nothing is sent for it until a reconcile decides."""
        self.unknown.setdefault(row.group, {})[row.key] = row

    def unknown_rows(self) -> Iterator[RowState]:
        return (r for rows in self.unknown.values() for r in rows.values())

    def recovering(self) -> bool:
        return any(r.recovering for r in self.unknown_rows())

    def resolved(self, row: RowState) -> None:
        self.unknown.get(row.group, {}).pop(row.key, None)
        if not self.unknown.get(row.group):
            self.unknown.pop(row.group, None)
        row.recovering = False
        self.poke()

    # final results -------------------------------------------------------------------

    def final(self, row: RowState, result: RowResult) -> None:
        # Running counts: scanning every row on every result would grow with rows squared.
        if row.result is not None:
            self.finals[row.result.status] -= 1
        row.result = result
        self.finals[result.status] += 1
        self.progress(last=result)
        self.check_done()

    def check_done(self) -> None:
        if self.finals.total() == len(self.rows):
            self.done.set()
            self.naps_end.set()
            self.poke()

    def planned(self) -> None:
        """The journal is read: the rows final so far were settled before any send."""
        self.planning = False
        self.resumed = self.finals.total()
        self.progress()

    def progress(self, *, last: RowResult | None = None) -> None:
        if self._on_progress is None:
            return
        self._on_progress(
            Progress(
                total=len(self.rows),
                done=self.finals.total(),
                provisioned=sum(self.finals[s] for s in OWNED),
                failed=self.finals[Status.FAILED],
                retries=self.stats["retries"],
                throttled=self.stats["throttled"],
                last=last,
                resumed=self.resumed,
                planning=self.planning,
            )
        )

    async def record_bought(
        self, row: RowState, number: Number, *, resolved_by: str, status: int | None = None
    ) -> None:
        """The row owns ``number``: from a create's answer or adopted by a reconcile."""
        item = await self.jx(
            self.journal.record_done,
            row.key,
            number,
            provisioned_at=number.created_datetime or now_iso(),
            resolved_by=resolved_by,
            status=status,
        )
        self.final(row, owned_result(row, item, Status.PROVISIONED))

    async def record_review(self, row: RowState, text: str, ids: list[str]) -> None:
        """The row may own a number nobody can vouch for: a person must look; never re-sent."""
        self.stats["review"] += 1
        item = await self.jx(self.journal.record_review, row.key, text, ids)
        self.final(row, failed_result(row, item, review_text(item)))

    def too_long_a_wait(self, seconds: float | None) -> bool:
        """Stop the run when the API asks for a pause beyond the cap (like an outage)."""
        if seconds is None or seconds <= self.opts.max_retry_after:
            return False
        self.stop_run(
            f"the API asked to wait {wait_text(seconds)} (Retry-After); run the same command later"
        )
        return True

    async def record_failed(self, row: RowState, text: str, *, status: int | None = None) -> None:
        """The row fails for good, without a number."""
        item = await self.jx(self.journal.record_failed, row.key, text, status=status)
        self.final(row, failed_result(row, item, text))

    async def exhausted(self, row: RowState, item: Item, detail: str) -> None:
        """The row used up its sends without a purchase."""
        text = (
            f"Not bought after {item.attempts} attempts. Try again later with --retry-failed; "
            f"last answer: {detail}"
        )
        await self.record_failed(row, text)

    # listing -------------------------------------------------------------------------

    async def list_group(self, gid: int) -> list[Number] | None:
        """The group's numbers, or None (after retries). A 401/403 stops the run.

        The caller holds a concurrency slot.
        """
        pages = 0

        async def pace() -> float:
            # Each page's answer counts in what the server accepts, like a create's: the
            # adaptive rate reads that count on a 429, and listings use the same quota.
            nonlocal pages
            if pages:
                self.limiter.on_answer()
            pages += 1
            return await self.limiter.acquire()

        try:
            listing = await self.client.list_numbers(gid, pace=pace)
            if pages:
                self.limiter.on_answer()
        except TokenRejected as exc:
            self.stop_run(f"token rejected ({exc})")
            return None
        except ListingRefused as exc:
            self.refused[gid] = str(exc)
            self.stats["listing_failures"] += 1
            return None
        except ListingFailed as exc:
            self.stats["listing_failures"] += 1
            self.transport_failed(str(exc))
            return None
        self.breaker.success()
        self.first_seen.setdefault(gid, tuple(listing))
        return listing

    def transport_failed(self, detail: str) -> None:
        if self.breaker.failure(detail, self.clock()):
            self.stats["breaker_trips"] += 1

    # stopping ------------------------------------------------------------------------

    async def watch_stop(self) -> None:
        """Poll the caller's stop event (set from a signal handler or another thread)."""
        assert self.stop is not None
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        self.stop_run("interrupted")

    def stop_run(self, reason: str) -> None:
        if self.halt is None:
            self.halt = self.redactor.scrub(reason)
        self.poke()
        self.done.set()
        self.naps_end.set()

    def fail_run(self, exc: BaseException) -> None:
        """A bug: stop cleanly, and re-raise ``exc`` once the run is wound down."""
        if isinstance(exc, RunHalted):  # a wait cut short by the stop: not a bug
            return
        if self.error is None:
            self.error = exc
        self.stop_run(f"internal error: {type(exc).__name__}")

    def abort(self, exc: Exception) -> None:
        """Stop on an error in a task that writes to the journal."""
        if isinstance(exc, RunHalted):
            return
        if isinstance(exc, sqlite3.Error):
            self.stop_run(f"journal write failed ({exc}); stopped so nothing goes unrecorded")
        else:
            self.fail_run(exc)

    def halted(self) -> bool:
        if self.stop is not None and self.stop.is_set() and self.halt is None:
            self.stop_run("interrupted")
        return self.halt is not None or self.done.is_set()
