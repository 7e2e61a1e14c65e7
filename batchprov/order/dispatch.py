"""Sending creates: one rate slot and one concurrency slot each, and what each answer means.

Each create is sent once per intent (docs/design.md §4): created → done; a permanent 4xx →
failed; 401/403 → the run stops; never sent and 429 → sent again later; anything ambiguous →
the row waits for the `Reconciler`. Before the first create to a group, the group's numbers
are recorded as a baseline, so a reconcile never adopts a number that was there before.
While the breaker is open, dispatch probes the API instead of sending.
"""

from __future__ import annotations

import asyncio
import heapq

from batchprov.models import Status
from batchprov.numbering.fallback import is_no_match
from batchprov.order.account import same_name
from batchprov.order.client import (
    CreateResult,
    Kind,
    ListingFailed,
    ListingRefused,
    Number,
    TokenRejected,
)
from batchprov.order.crashpoints import crashpoint
from batchprov.order.journal import State
from batchprov.order.rate import backoff
from batchprov.order.reconcile import refresh_baseline
from batchprov.order.rows import MAYBE_TWICE, RowState, failed_result, refused_text
from batchprov.order.state import RunState
from batchprov.order.vetting import review_text, vet

#: A 429 is the server's pacing, not the row's fault: it has its own, larger budget.
THROTTLE_BUDGET_FACTOR = 10


#: Answers that prove a create bought nothing.
_BOUGHT_NOTHING = frozenset({Kind.PERMANENT, Kind.AUTH, Kind.THROTTLED, Kind.NOT_SENT})


class Dispatcher:
    """Sends queued rows and acts on their answers."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self._baselined: set[int] = set()
        self._group_locks: dict[int, asyncio.Lock] = {}

    async def run(self) -> None:
        """Send queued rows until the run halts."""
        s = self.state
        try:
            while not s.halted():
                s.wake_dispatch.clear()
                if s.recovering() or not s.queue:
                    await s.wait(s.wake_dispatch, None)
                    continue
                wait = s.queue[0][0] - s.clock()
                if wait > 0:
                    await s.wait(s.wake_dispatch, wait)
                    continue
                if s.breaker.tripped_at is not None:
                    await self._probe(s.queue[0][2].group)
                    continue
                await self._send_next()
        except Exception as exc:  # a bug: stop cleanly, re-raise at the end
            s.fail_run(exc)

    async def _send_next(self) -> None:
        s = self.state
        await s.sem.acquire()
        sent_at: float | None = None
        if s.queue and s.queue[0][2].group in self._baselined:
            try:
                sent_at = await s.limiter.acquire()
            except BaseException:
                s.sem.release()
                raise
        # else: the group is still to be listed. The row takes its rate slot once the listing
        # is done: a slot taken now would go by during the listing, and the rows queued behind
        # it would then reach the server in one clump, over its rate.
        if s.halted() or not s.queue:
            s.sem.release()
            return
        row = heapq.heappop(s.queue)[2]
        if row.group not in self._baselined:
            sent_at = None  # (the queue changed while waiting for the slot)
        task = asyncio.create_task(self._send(row, sent_at))
        s.inflight.add(task)
        task.add_done_callback(s.inflight.discard)

    async def _send(self, row: RowState, sent_at: float | None) -> None:
        """One attempt: baseline, durable intent, POST, durable outcome."""
        s = self.state
        try:
            if await self._ensure_baseline(row) and not s.halted():
                if sent_at is None:
                    sent_at = await s.limiter.acquire()
                if not s.halted():
                    await self._attempt(row, sent_at)
                    return
            if row.result is None and row.key not in s.unknown.get(row.group, {}):
                s.enqueue(row, row.not_before)
        except Exception as exc:
            s.abort(exc)
        finally:
            s.sem.release()
            s.poke()

    async def _attempt(self, row: RowState, sent_at: float) -> None:
        s = self.state
        # The item keeps the row's own order; the attempt, the body sent (maybe a fallback).
        payload, body = row.payload, row.body_json()
        if not s.budget.take(row):
            if row.resent_unseen:  # its earlier send may have bought: not "not attempted"
                s.final(row, failed_result(row, row.item, s.budget.text(resend=True)))
            else:
                s.final(row, failed_result(row, row.item, s.budget.text(), Status.NOT_ATTEMPTED))
            return
        if row.item is not None and row.item.state is State.FAILED:
            await s.jx(s.journal.reopen, row.key, payload)
        item = await s.jx(s.journal.begin_attempt, row.key, s.run_id, payload, sent=body)
        row.item = item
        crashpoint("after_intent_commit")
        if item.attempts > 1:
            s.stats["retries"] += 1
        await s.limiter.space()
        result = await s.client.create_number(row.group, body)
        crashpoint("after_send_before_commit")
        await self._handle(row, result, sent_at)
        crashpoint("after_result_commit")

    async def _ensure_baseline(self, row: RowState) -> bool:
        """Before this run's first POST to a group, record the group's numbers as not ours."""
        s, gid = self.state, row.group
        if gid in self._baselined:
            return True
        async with self._group_locks.setdefault(gid, asyncio.Lock()):
            if gid in self._baselined:
                return True
            if gid in s.refused:
                await self._refuse(row, s.refused[gid])
                return False
            listing = s.fresh_listings.pop(gid, None)
            if listing is None:
                listing = await s.list_group(gid)
            if listing is None:
                if gid in s.refused:
                    await self._refuse(row, s.refused[gid])
                row.not_before = s.clock() + backoff(1, rng=s.rng)
                return False
            await s.jx(refresh_baseline, s.journal, s.api_url, gid, listing)
            s.first_seen.setdefault(gid, tuple(listing))
            self._baselined.add(gid)
            return True

    async def _refuse(self, row: RowState, detail: str) -> None:
        """The group cannot be listed (e.g. 404): its rows fail without a purchase attempt."""
        await self.state.record_failed(row, detail)

    async def _probe(self, gid: int) -> None:
        """While the breaker is open: probe with a small GET, backing off, until it answers."""
        s = self.state
        attempt = 0
        while s.breaker.tripped_at is not None and not s.halted():
            elapsed = s.clock() - s.breaker.tripped_at
            if elapsed >= s.opts.breaker_give_up:
                s.stop_run(f"API unavailable: {s.breaker.last_error}")
                return
            attempt += 1
            pause = min(
                backoff(attempt, base=0.5, cap=10.0, rng=s.rng) + 0.1,
                s.opts.breaker_give_up - elapsed,
            )
            await s.nap(pause)
            await self._probe_once(gid)

    async def _probe_once(self, gid: int) -> None:
        s = self.state
        s.stats["probes"] += 1
        try:
            async with s.sem:
                await s.client.probe(gid)
        except TokenRejected as exc:
            s.stop_run(f"token rejected ({exc})")
        except (ListingFailed, ListingRefused) as exc:
            s.breaker.last_error = str(exc)
        else:
            s.breaker.success()

    # answers -------------------------------------------------------------------------

    async def _handle(self, row: RowState, res: CreateResult, sent_at: float) -> None:
        """Record what the answer means, then decide the row's next step."""
        s = self.state
        self._note_transport(res)
        if res.kind in _BOUGHT_NOTHING:
            s.budget.give_back(row)
        if res.kind is Kind.CREATED and res.number is not None:
            await self._created(row, res)
        elif res.kind is Kind.PERMANENT:
            await self._refused(row, res)
        elif res.kind is Kind.AUTH:
            await s.jx(s.journal.record_pending, row.key, "auth", res.detail, status=res.status)
            s.stop_run(f"token rejected ({res.detail})")
        elif res.kind is Kind.THROTTLED:
            await self._throttled(row, res, sent_at)
        elif res.kind is Kind.NOT_SENT:
            await self._not_sent(row, res)
        else:
            await self._ambiguous(row, res)

    async def _created(self, row: RowState, res: CreateResult) -> None:
        """A 2xx with a number: the row's purchase only if it is the number asked for."""
        s = self.state
        assert res.number is not None
        vetted = vet(res.number, group_id=row.group, name=row.order.name, redactor=s.redactor)
        if vetted.ok and self._named_since(row, vetted.number):
            row.warnings.append(self._twice_text(row, vetted.number))  # kept: it is bought
        if vetted.ok:
            await s.record_bought(row, vetted.number, resolved_by="answer", status=res.status)
            return
        answered = f"the API answered HTTP {res.status} (bought)"
        text = review_text(vetted, answered=answered, group_id=row.group, name=row.order.name)
        await s.record_review(row, text, [vetted.number.id])

    def _named_since(self, row: RowState, number: Number) -> bool:
        """True when the API suffixed the name for a number that was not in the group as
        this run first saw it: an earlier attempt of the row (its listing lagging), or another
        run, has bought one since, so this purchase may be a second."""
        name = row.order.name
        if same_name(number.name, name):
            return False
        seen = self.state.first_seen.get(row.group, ())
        return not any(same_name(n.name, name) for n in seen)

    def _twice_text(self, row: RowState, number: Number) -> str:
        name = row.order.name.strip()
        return (
            f"{MAYBE_TWICE}: the API named number {number.id} "
            f'"{number.name}" because "{name}" is in use, but group {row.group} held no number '
            f"by that name when this run began (an earlier attempt of this row, or another run, "
            f"bought it since). This one is kept: find the other in the account and release the "
            f"one you do not want"
        )

    async def _refused(self, row: RowState, res: CreateResult) -> None:
        """The row fails for good, unless no number matched and a fallback is left to try."""
        s = self.state
        no_match = is_no_match(res.status, res.detail)
        if no_match and row.has_fallback():
            s.stats["fallbacks"] += 1
            row.item = await s.jx(
                s.journal.record_pending, row.key, "no match", res.detail, status=res.status
            )
            row.advance()
            s.retry(row, s.clock())  # nothing was bought: the fallback may go at once
            return
        text = refused_text(row, res.detail, no_match=no_match)
        await s.record_failed(row, text, status=res.status)

    def _note_transport(self, res: CreateResult) -> None:
        if res.kind is not Kind.THROTTLED and res.status is not None:
            self.state.limiter.on_answer()
        if not res.transport:
            self.state.breaker.success()
        else:
            self.state.transport_failed(res.detail)

    async def _throttled(self, row: RowState, res: CreateResult, sent_at: float) -> None:
        s = self.state
        s.stats["throttled"] += 1
        row.throttles += 1
        wait = res.retry_after if res.retry_after is not None else backoff(row.throttles, rng=s.rng)
        s.limiter.on_throttle(sent_at, wait)
        item = await s.jx(
            s.journal.record_pending, row.key, "throttled", res.detail, status=res.status
        )
        if s.too_long_a_wait(res.retry_after):
            return
        if row.throttles >= s.opts.max_attempts * THROTTLE_BUDGET_FACTOR:
            await s.exhausted(row, item, res.detail)
        else:
            s.retry(row, s.clock() + wait)

    async def _not_sent(self, row: RowState, res: CreateResult) -> None:
        s = self.state
        s.stats["not_sent"] += 1
        row.sends += 1
        item = await s.jx(s.journal.record_pending, row.key, "not sent", res.detail)
        if row.sends >= s.opts.max_attempts:
            await s.exhausted(row, item, res.detail)
        else:
            s.retry(row, s.clock() + backoff(row.sends, rng=s.rng))

    async def _ambiguous(self, row: RowState, res: CreateResult) -> None:
        """It may have bought: no resend until a reconcile, after the settle delay, decides.

        A 2xx that did not say what it bought (``claimed``) is a purchase: the reconcile may
        find its number, but never sends the row again.
        """
        s = self.state
        s.stats["ambiguous"] += 1
        row.sends += 1
        row.claimed = row.claimed or res.claimed
        row.item = await s.jx(s.journal.record_unknown, row.key, res.detail, status=res.status)
        now = s.clock()
        row.unknown_detail = res.detail
        row.ready_at = now + s.opts.settle
        row.absent_since = None
        row.not_before = now + (res.retry_after or 0.0)
        s.mark_unknown(row)
        s.wake_reconcile.set()
        s.too_long_a_wait(res.retry_after)
