"""Ordering many rows at once without ever buying a number twice or losing one.

`order_rows` drives one run: it looks every row up in the journal, reconciles what an earlier
run left in flight, then sends the rest under a concurrency bound and a shared rate. Each
create is sent once per intent; what happens next depends on the answer (docs/design.md §4):

* created → DONE; a permanent 4xx → failed; 401/403 → the whole run stops at once;
* a 4xx saying no number matches → the row's next fallback (`batchprov.numbering.fallback`), if any;
* never sent (connect errors) and 429 → sent again later, with backoff or ``Retry-After``;
* anything ambiguous (timeouts, dropped connections, 5xx, 408/409, unreadable 2xx) → the
  group is listed once the settle delay has passed: exactly one matching new number is
  adopted, none (twice) means it is safe to send again, several go to review.

A circuit breaker pauses dispatch when the network fails repeatedly, and a ``stop`` event
(Ctrl-C) lets in-flight requests finish before returning.

This module plans the run and winds it down; the parts live beside it: `state` (what they
share), `dispatch` (sending and answers), `reconcile` (reconciling) and `rows` (messages).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from batchprov._version import __version__
from batchprov.models import CheckedRow, RowResult, Status
from batchprov.order.client import Number
from batchprov.order.dispatch import Dispatcher
from batchprov.order.journal import Item, Journal, State, item_key
from batchprov.order.options import RunOptions
from batchprov.order.reconcile import Reconciler
from batchprov.order.rows import (
    RowState,
    earlier_failure_text,
    earlier_review_text,
    failed_result,
    owned_result,
    stopped_result,
)
from batchprov.order.runlog import RunMeta
from batchprov.order.state import Progress, RunState
from batchprov.redact import Redactor

__all__ = ["OrderOutcome", "Progress", "RunOptions", "order_rows"]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What `order_rows` returns: one result per row, in the order given."""

    results: tuple[RowResult, ...]
    stopped_reason: str | None
    stats: dict[str, int]
    run_id: str = ""


def order_rows(
    rows: Sequence[CheckedRow],
    *,
    api_url: str,
    token: str,
    journal_path: Path,
    key_url: str | None = None,
    options: RunOptions = RunOptions(),  # noqa: B008 (frozen, so sharing it is safe)
    transport: httpx.AsyncBaseTransport | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    meta: RunMeta | None = None,
    listings: Mapping[int, Sequence[Number]] | None = None,
) -> OrderOutcome:
    """Order a number for every row (each must have ``.order``), exactly once across runs.

    ``key_url``: what the journal keys the API by (default ``api_url``; `config.Api.key`).
    ``meta`` is what the journal records about the run (user, input, API; `history`).
    ``listings`` are complete listings of some groups taken a moment ago (the plan's): each
    becomes its group's baseline instead of a second listing (docs/design.md §5.4).

    Raises `JournalBusyError` when another run holds the journal. Everything else (token
    rejected, API down, interrupted) ends in ``OrderOutcome.stopped_reason``.
    """
    url = api_url.rstrip("/")
    key = key_url or url
    with Journal.open(journal_path) as journal:
        states = [_row_state(key, row) for row in rows]

        async def run() -> OrderOutcome:
            # Built inside the event loop: the state owns its events, locks and HTTP pool.
            state = RunState(
                states,
                api_url=url,
                key_url=key,
                token=token,
                journal=journal,
                options=options,
                transport=transport,
                on_progress=on_progress,
                stop=stop,
                sleep=sleep,
                clock=clock,
                listings=listings,
            )
            return await _Run(state, meta).execute()

        return asyncio.run(run())


def _new_items(rows: Sequence[RowState]) -> list[tuple[int, str, str]]:
    """(group, name, payload) of each distinct item, for the journal to create on first sight."""
    first: dict[str, RowState] = {}
    for row in rows:
        first.setdefault(row.key, row)  # a repeated name is refused by the plan, not journaled
    return [(row.group, row.order.name, row.payload) for row in first.values()]


def _row_state(api_url: str, row: CheckedRow) -> RowState:
    if row.order is None:
        raise ValueError(f"row {row.excel_row} has no order; only valid rows can be ordered")
    order = row.order
    return RowState(row=row, order=order, key=item_key(api_url, order.group_id, order.name))


class _Run:
    """One `order_rows` call: plan, then dispatch and reconcile until every row is final."""

    def __init__(self, state: RunState, meta: RunMeta | None = None) -> None:
        self.state = state
        self.meta = meta
        self.dispatcher = Dispatcher(state)
        self.reconciler = Reconciler(state)

    async def execute(self) -> OrderOutcome:
        """Plan, recover, dispatch until every row is final or the run stops."""
        s = self.state
        try:
            s.run_id = await s.jx(s.journal.start_run, __version__, self.meta)
            await self._plan()
            s.planned()
            await self._drive()
            await self._finish()
            counts = Counter(r.result.status.value for r in s.rows if r.result is not None)
            await s.jx(s.journal.end_run, s.run_id, s.halt or "finished", counts=counts)
        finally:
            await s.aclose()
        if s.error is not None:
            raise s.error
        return self._outcome()

    async def _drive(self) -> None:
        """Run the dispatcher and reconciler until every row is final or the run halts."""
        s = self.state
        s.check_done()
        loops = [
            asyncio.create_task(self.dispatcher.run()),
            asyncio.create_task(self.reconciler.run()),
        ]
        if s.stop is not None:
            loops.append(asyncio.create_task(s.watch_stop()))
        await s.done.wait()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        while s.inflight:  # let requests in flight finish and be recorded
            await asyncio.gather(*list(s.inflight), return_exceptions=True)

    async def _finish(self) -> None:
        """After a stop: a quick reconcile if interrupted, then every open row's result."""
        s = self.state
        if s.halt == "interrupted" and s.error is None:
            await self.reconciler.quick()
        for row in s.rows:
            if row.result is None:
                item = await s.jx(s.journal.get, row.key)
                row.result = stopped_result(row, item, s.halt)

    async def _plan(self) -> None:
        """Look every row up in the journal: done, failed, to recover, or to order."""
        s = self.state
        items = await s.jx(s.journal.ensure_items, s.api_url, _new_items(s.rows))
        seen: dict[str, RowState] = {}
        for row in s.rows:
            first = seen.setdefault(row.key, row)
            if first is not row:
                text = (
                    f"same name as row {first.row.excel_row} in group {row.group}; "
                    "names must be unique in a group, so this row was not ordered"
                )
                s.final(row, failed_result(row, None, text))
                continue
            self._plan_row(row, items[row.key])

    def _plan_row(self, row: RowState, item: Item) -> None:
        s = self.state
        row.item = item
        changed = item.payload != row.payload
        row.resume(item)  # a fallback an earlier run sent is what the row reports, or resends
        if item.state is State.DONE:
            if changed:
                row.warnings.append("row changed since it was provisioned; not re-ordered")
            s.final(row, owned_result(row, item, Status.ALREADY_PROVISIONED))
        elif item.state is State.REVIEW:
            s.final(row, failed_result(row, item, earlier_review_text(item)))
        elif item.state is State.FAILED and not (s.opts.retry_failed or changed):
            s.final(row, failed_result(row, item, earlier_failure_text(item)))
        elif item.unresolved:
            self.reconciler.recover(row, item)
        else:
            s.enqueue(row, 0.0)

    def _outcome(self) -> OrderOutcome:
        s = self.state
        stats = dict(s.stats)
        stats["requests"] = s.client.sent["POST"]
        stats["list_requests"] = s.client.sent["GET"]
        results = tuple(_scrubbed(r.result, s.redactor) for r in s.rows if r.result is not None)
        halt = s.redactor.scrub(s.halt) if s.halt else s.halt
        return OrderOutcome(results=results, stopped_reason=halt, stats=stats, run_id=s.run_id)


def _scrubbed(result: RowResult, redactor: Redactor) -> RowResult:
    """The result with the run's secrets masked in every text from the API (a last guard)."""

    def clean(text: str | None) -> str | None:
        return None if text is None else redactor.scrub(text)

    cleaned: dict[str, Any] = {
        "tracking_number": clean(result.tracking_number),
        "number_id": clean(result.number_id),
        "route_id": clean(result.route_id),
        "assigned_name": clean(result.assigned_name),
        "error": clean(result.error),
        "warnings": tuple(redactor.scrub(w) for w in result.warnings),
        "provisioned_at": clean(result.provisioned_at),
    }
    changed = {k: v for k, v in cleaned.items() if v != getattr(result, k)}
    return replace(result, **changed) if changed else result  # (usually nothing to mask)
