"""Applying changes to bought numbers exactly once: ``PUT`` (update) and ``DELETE`` (release).

Each change follows the purchase protocol: its intent is committed before the request goes
out and its outcome right after. An answer that is lost (a timeout, a dropped connection, a
5xx) is never followed blindly by a second request: the number is read back first
(``GET /numbers/{id}``). A release whose number is gone, or an update whose number already
shows the change, was applied; otherwise it is safe to send again. A change an earlier command
left in flight is verified the same way before anything is sent, so a killed release resumes
without a second DELETE. 429 and "never sent" are sent again after a pause.

Changes are sent one at a time: they are few, and one at a time keeps every step in order.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from batchprov.change.route import row_fields
from batchprov.config import Api
from batchprov.order.changes import Change, ChangeState
from batchprov.order.client import Answer, ApiClient, Reply
from batchprov.order.crashpoints import crashpoint
from batchprov.order.journal import Journal

__all__ = ["ChangeOutcome", "ChangeTask", "apply_changes"]

Sleep = Callable[[float], Awaitable[None]]
#: Longest pause a ``Retry-After`` may ask for before the command stops instead.
MAX_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class ChangeTask:
    """One change to make: release a number, or update it with ``body``.

    ``index`` is the row (or line) it reports on; ``fields`` the (field, from, to) changes.
    """

    kind: str  # "release" or "update"
    number_id: str
    index: int = 0
    group_id: int | None = None
    name: str | None = None
    phone: str | None = None
    item_key: str | None = None
    body: dict[str, Any] | None = None
    fields: tuple[tuple[str, str, str], ...] = ()

    def body_json(self) -> str | None:
        if self.body is None:
            return None
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What became of one task: applied (now or by an earlier command) or not, and why."""

    task: ChangeTask
    done: bool
    change: Change | None
    text: str = ""
    earlier: bool = False  # applied by an earlier command: nothing was sent now


@dataclass(slots=True)
class _Run:
    journal: Journal
    client: ApiClient
    key_url: str
    run_id: str
    sleep: Sleep
    max_attempts: int
    stop: threading.Event | None
    stopped: str | None = None
    outcomes: list[ChangeOutcome] = field(default_factory=list)


def apply_changes(
    tasks: Sequence[ChangeTask],
    *,
    api: Api,
    journal: Journal,
    run_id: str,
    timeout: float = 30.0,
    max_attempts: int = 4,
    stop: threading.Event | None = None,
    sleep: Sleep = asyncio.sleep,
    key_url: str | None = None,
) -> tuple[list[ChangeOutcome], str | None]:
    """Apply every task once (across commands); returns the outcomes and why it stopped early.

    ``key_url`` is the API URL the journal keys the numbers by (default: ``api``'s; a sandbox
    served again on another port keeps its first URL). Tasks not reached after a stop (token
    rejected, API unavailable, Ctrl-C) have no outcome.
    """

    async def run() -> tuple[list[ChangeOutcome], str | None]:
        client = ApiClient(api.url, api.token, timeout=timeout, transport=api.transport)
        state = _Run(journal, client, key_url or api.key_url, run_id, sleep, max_attempts, stop)
        try:
            for task in tasks:
                if state.stopped is None and stop is not None and stop.is_set():
                    state.stopped = "interrupted"
                if state.stopped is not None:
                    break
                state.outcomes.append(await _apply(state, task))
        finally:
            await client.aclose()
        return state.outcomes, state.stopped

    return asyncio.run(run())


async def _apply(s: _Run, task: ChangeTask) -> ChangeOutcome:
    change = s.journal.ensure_change(
        task.kind,
        s.key_url,
        task.number_id,
        body=task.body_json(),
        fields=task.fields,
        group_id=task.group_id,
        name=task.name,
        phone=task.phone,
        item_key=task.item_key,
    )
    if change.state is ChangeState.DONE:
        return ChangeOutcome(task, True, change, _earlier(change), earlier=True)
    maybe_applied = change.unresolved  # an earlier command sent it and never learnt the answer
    if task.kind == "release" and task.item_key is None and task.phone and not maybe_applied:
        refused = await _check_foreign(s, task, change)
        if refused is not None:
            return refused
    if maybe_applied:
        verdict = await _verify(s, task, change)
        if verdict is not None:
            return verdict
    for _ in range(s.max_attempts):
        change = s.journal.begin_change(change.key, s.run_id)
        crashpoint("after_change_intent")
        reply = await _send(s.client, task)
        crashpoint("after_change_send")
        answer = reply.answer
        if answer is Answer.OK:
            change = _finish(s, change, ChangeState.DONE, reply, "answer")
            return ChangeOutcome(task, True, change)
        if answer is Answer.GONE:
            return _gone(s, task, change, reply, maybe_applied)
        if answer is Answer.PERMANENT:
            change = _finish(s, change, ChangeState.FAILED, reply)
            return ChangeOutcome(task, False, change, reply.detail)
        if answer is Answer.AUTH:
            change = _finish(s, change, ChangeState.PENDING, reply)
            s.stopped = f"token rejected ({reply.detail})"
            return ChangeOutcome(task, False, change, s.stopped)
        if answer in (Answer.THROTTLED, Answer.NOT_SENT):
            change = _finish(s, change, ChangeState.PENDING, reply)
            if not await _pause(s, reply):
                return ChangeOutcome(task, False, change, s.stopped or reply.detail)
            continue
        change = _finish(s, change, ChangeState.UNKNOWN, reply)  # ambiguous: read it back
        maybe_applied = True
        await _pause(s, reply)
        verdict = await _verify(s, task, change)
        if verdict is not None:
            return verdict
        change = s.journal.get_change(change.key) or change
    text = f"not confirmed after {s.max_attempts} attempts; run the same command again"
    return ChangeOutcome(task, False, change, f"{text} (last: {change.detail})")


async def _verify(s: _Run, task: ChangeTask, change: Change) -> ChangeOutcome | None:
    """Read the number back after a lost answer: the outcome when that settles it, else None
    (the change is PENDING again: not applied, safe to send)."""
    for attempt in range(s.max_attempts):
        reply = await s.client.get_number(task.number_id)
        if reply.answer is Answer.GONE:
            if task.kind == "release":
                done = _finish(s, change, ChangeState.DONE, reply, "verified absent")
                return ChangeOutcome(task, True, done)
            failed = _finish(s, change, ChangeState.FAILED, reply)
            return ChangeOutcome(task, False, failed, f"the number is gone ({reply.detail})")
        if reply.answer is Answer.OK:
            if task.kind == "update" and _shows(reply.data, task.body):
                done = _finish(s, change, ChangeState.DONE, reply, "verified applied")
                return ChangeOutcome(task, True, done)
            _finish(s, change, ChangeState.PENDING, reply, None, "verified not applied")
            return None
        if reply.answer is Answer.AUTH:
            s.stopped = f"token rejected ({reply.detail})"
            return ChangeOutcome(task, False, change, s.stopped)
        if attempt + 1 < s.max_attempts and not await _pause(s, reply, attempt):
            break
    text = "sent, but the outcome could not be confirmed; run the same command again"
    return ChangeOutcome(task, False, change, f"{text} (last: {reply.detail})")


async def _check_foreign(s: _Run, task: ChangeTask, change: Change) -> ChangeOutcome | None:
    """A number this journal did not buy is released only if its id is the number the row
    shows (``GET /numbers/{id}``): an edited id would release someone else's number. None
    to go on (the same number, or the account could not say: the DELETE decides)."""
    reply = await s.client.get_number(task.number_id)
    shown = (reply.data or {}).get("phone_number") if reply.answer is Answer.OK else None
    if shown is None or _digits(str(shown)) == _digits(task.phone or ""):
        return None
    text = (
        f"number id {task.number_id} is {shown} in the account, not the row's {task.phone}; "
        "nothing was released: check the row's Tracking Number and Number ID"
    )
    failed = _finish(s, change, ChangeState.FAILED, reply, detail=text)
    return ChangeOutcome(task, False, failed, text)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())[-10:]


def _gone(
    s: _Run, task: ChangeTask, change: Change, reply: Reply, maybe_applied: bool
) -> ChangeOutcome:
    """404 on PUT/DELETE: released, when it is our own earlier DELETE that took it away."""
    if task.kind == "release" and maybe_applied:
        done = _finish(s, change, ChangeState.DONE, reply, "absent after an earlier attempt")
        return ChangeOutcome(task, True, done)
    failed = _finish(s, change, ChangeState.FAILED, reply)
    text = f"the account has no number {task.number_id} ({reply.detail})"
    return ChangeOutcome(task, False, failed, text)


def _shows(data: dict[str, Any] | None, body: dict[str, Any] | None) -> bool:
    """True when the number as read has the route the update sends."""
    return body is not None and row_fields(data) == row_fields(body)


async def _send(client: ApiClient, task: ChangeTask) -> Reply:
    if task.kind == "release":
        return await client.delete_number(task.number_id)
    assert task.body is not None
    return await client.update_number(task.number_id, task.body)


def _finish(
    s: _Run,
    change: Change,
    state: ChangeState,
    reply: Reply,
    resolved_by: str | None = None,
    detail: str | None = None,
) -> Change:
    return s.journal.finish_change(
        change.key,
        state,
        detail=detail or reply.detail,
        status=reply.status,
        resolved_by=resolved_by,
    )


async def _pause(s: _Run, reply: Reply, attempt: int = 0) -> bool:
    """Wait before the next request (``Retry-After`` or a short backoff); False to stop."""
    wait = reply.retry_after if reply.retry_after is not None else min(0.25 * 2**attempt, 4.0)
    if wait > MAX_WAIT:
        s.stopped = f"the API asked to wait {wait:.0f} s ({reply.detail})"
        return False
    await s.sleep(wait)
    return True


def _earlier(change: Change) -> str:
    when = change.finished_at or "an earlier run"
    verb = "released" if change.kind == "release" else "updated"
    return f"{verb} earlier ({when})"
