"""`run --update`: change numbers already bought whose route differs from the sheet.

A row that already has a number (its result columns, the journal, or a number in the account
with its name) is compared with the account: its groups are listed (read-only, every page) and
each number's termination number and call features are set against the row's. With
``--update`` each row that differs is read back (``GET /numbers/{id}``) and changed with
``PUT /numbers/{id}``: the number exactly as returned, with only the changed fields replaced.
The plan lists each change (row, field, from → to), the run asks as it does for orders, and
each update is journaled like a purchase (`change.apply`). Without ``--update`` a difference is a
warning and nothing changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from batchprov._version import __version__
from batchprov.change.apply import ChangeOutcome, ChangeTask, apply_changes
from batchprov.change.route import differences, updated_body
from batchprov.check.parsers import parse_group_id, parse_yes_no
from batchprov.check.phones import check_phone
from batchprov.config import Api
from batchprov.errors import RunAborted
from batchprov.models import CheckedRow, MatchType, OrderRequest
from batchprov.order.account import until_stopped
from batchprov.order.client import (
    Answer,
    ApiClient,
    ListingFailed,
    ListingRefused,
    Number,
    TokenRejected,
)
from batchprov.order.journal import Journal, item_key
from batchprov.order.runlog import RunMeta

__all__ = ["Held", "UpdatePlan", "apply_updates", "change_text", "survey_updates"]

#: Requests in flight while comparing.
_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Held:
    """A row that already has a number: which, and the route the row asks for (``order``)."""

    row: CheckedRow
    number_id: str
    phone: str = ""
    order: OrderRequest | None = None


def route_request(
    cells: Mapping[str, str], *, default_group: int | None = None
) -> OrderRequest | None:
    """The route a row that owns a number asks for, from its cells (None when unreadable).

    Such a row needs no match type (it is never bought); its name, group, termination number
    and call features are read as they are for an order.
    """
    term = check_phone(cells.get("termination_number", "").strip())
    record = parse_yes_no(cells.get("record_calls", ""))
    group = parse_group_id(cells.get("group_id", "")) if cells.get("group_id", "").strip() else None
    group_id = group.value if group is not None else default_group
    name = cells.get("name", "").strip()
    if not term.ok or record.problem or group_id is None or not name:
        return None
    return OrderRequest(
        group_id=group_id,
        name=name,
        match_type=MatchType.TOLLFREE,  # not sent: only the route is compared and changed
        termination_number=term.number,
        record_calls=record.value,
        recording_message=cells.get("recording_message", "").strip() or None,
        whisper_message=cells.get("whisper_message", "").strip() or None,
    )


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    """The updates a run will make, and the differences it only warns about.

    ``tasks`` are the PUTs to send (``--update``); ``warnings`` hold, per row index, what
    differs (or why it could not be compared) when nothing will be changed; ``failures`` why a
    row that differs will not be changed although ``--update`` asks it.
    """

    tasks: tuple[ChangeTask, ...] = ()
    warnings: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    excel_rows: Mapping[int, int] = field(default_factory=dict)
    #: Rows ``--update`` should change but will not (the number could not be read): an error.
    failures: Mapping[int, str] = field(default_factory=dict)
    #: Rows compared (or said not to be comparable): their difference is told here only.
    compared: frozenset[int] = frozenset()

    def lines(self, limit: int = 20) -> list[str]:
        """One line per change: ``row 5 (ABC, 8005551234): termination_number a → b``."""
        lines = []
        for task in self.tasks:
            row = self.excel_rows.get(task.index, task.index)
            for name, before, after in task.fields:
                lines.append(
                    f"    row {row} ({task.name}, {task.phone}): {name} "
                    f"{before or '(none)'} → {after or '(none)'}"
                )
        if len(lines) > limit:
            lines = [*lines[:limit], f"    … and {len(lines) - limit} more changes"]
        return lines


def survey_updates(
    held: Sequence[Held],
    *,
    api: Api,
    update: bool,
    listings: Mapping[int, Sequence[Number]] | None = None,
    timeout: float = 30.0,
    stop: threading.Event | None = None,
) -> UpdatePlan:
    """Compare each held row with the account; with ``update``, plan a PUT for each that differs.

    ``listings`` are groups already listed (the run's plan lists the groups it orders into).
    When the account cannot be read, rows are only compared with ``update`` (`RunAborted`:
    nothing is changed); otherwise each row says it was not compared. Setting ``stop`` (Ctrl-C)
    ends the reading at once, its retry pauses included: `ListingInterrupted`.
    """
    rows = [h for h in held if h.order is not None]
    if not rows or not api.token:
        return UpdatePlan()
    try:
        work = _survey(rows, api, update, dict(listings or {}), timeout)
        return asyncio.run(until_stopped(work, stop))
    except (TokenRejected, ListingFailed) as exc:
        why = "the token was rejected" if isinstance(exc, TokenRejected) else "no answer"
        if update:
            raise RunAborted(
                f"Nothing was changed: the account could not be read to compare ({why}: {exc})."
            ) from None
        text = f"not compared with the account ({why})"
        indices = [h.row.index for h in rows]
        return UpdatePlan(warnings=dict.fromkeys(indices, (text,)), compared=frozenset(indices))


async def _survey(
    rows: list[Held],
    api: Api,
    update: bool,
    listings: dict[int, Sequence[Number]],
    timeout: float,
) -> UpdatePlan:
    warnings: dict[int, tuple[str, ...]] = {}
    failures: dict[int, str] = {}
    tasks: list[ChangeTask] = []
    gate = asyncio.Semaphore(_CONCURRENCY)
    async with ApiClient(api.url, api.token, timeout=timeout, transport=api.transport) as client:
        refused: dict[int, str] = {}
        wanted = sorted({h.order.group_id for h in rows if h.order} - set(listings))

        async def list_group(gid: int) -> None:
            async with gate:
                try:
                    listings[gid] = await client.list_numbers(gid)
                except ListingRefused as exc:
                    refused[gid] = str(exc)

        await asyncio.gather(*(list_group(g) for g in wanted))
        by_id = {n.id: n for numbers in listings.values() for n in numbers}

        async def compare(held: Held) -> None:
            order = held.order
            assert order is not None
            index = held.row.index
            if order.group_id in refused:
                warnings[index] = (f"not compared with the account: {refused[order.group_id]}",)
                return
            number = by_id.get(held.number_id)
            if number is None:
                warnings[index] = (
                    f"number {held.number_id} is not in group {order.group_id} in the account "
                    "(released, or moved?); not compared",
                )
                return
            changed = differences(number.data, order)
            if not changed:
                return
            if not update:
                warnings[index] = (_differs(changed),)
                return
            async with gate:
                reply = await client.get_number(held.number_id)  # the number exactly as it is
            if reply.answer is not Answer.OK or reply.data is None:
                failures[index] = (
                    f"not updated ({change_text(changed)}): could not read number {held.number_id} "
                    f"({reply.detail}); run the same command again"
                )
                return
            changed = differences(reply.data, order)
            if changed:
                tasks.append(_task(held, number, reply.data, changed))

        await asyncio.gather(*(compare(h) for h in rows))
    tasks.sort(key=lambda t: t.index)
    excel = {h.row.index: h.row.excel_row for h in rows}
    return UpdatePlan(tuple(tasks), warnings, excel, failures, frozenset(excel))


def _task(
    held: Held, number: Number, data: dict[str, object], changed: list[tuple[str, str, str]]
) -> ChangeTask:
    order = held.order
    assert order is not None
    return ChangeTask(
        kind="update",
        number_id=held.number_id,
        index=held.row.index,
        group_id=order.group_id,
        name=number.name or order.name,
        phone=number.phone_number or held.phone,
        item_key=None,
        body=updated_body(dict(data), order),
        fields=tuple(changed),
    )


def change_text(changed: Sequence[tuple[str, str, str]]) -> str:
    """``termination_number 4165551234 → 9055550101; record_calls (none) → yes``."""
    return "; ".join(f"{f} {a or '(none)'} → {b or '(none)'}" for f, a, b in changed)


def _differs(changed: Sequence[tuple[str, str, str]]) -> str:
    text = change_text(changed)
    return f"the account differs from this row ({text}); run with --update to change it"


def apply_updates(
    plan: UpdatePlan,
    *,
    api: Api,
    journal: Path,
    meta: RunMeta,
    timeout: float = 30.0,
) -> tuple[dict[int, ChangeOutcome], str | None]:
    """Send the plan's PUTs once each, journaled as a run of their own (kind ``update``)."""
    if not plan.tasks:
        return {}, None
    with Journal.open(journal) as jr:
        run_id = jr.start_run(__version__, meta)
        tasks = [_keyed(jr, api, t) for t in plan.tasks]
        outcomes, stopped = apply_changes(
            tasks, api=api, journal=jr, run_id=run_id, timeout=timeout
        )
        counts = {
            "updated": sum(o.done for o in outcomes),
            "failed": sum(not o.done for o in outcomes),
        }
        jr.end_run(run_id, stopped or "finished", counts=counts)
    return {o.task.index: o for o in outcomes}, stopped


def _keyed(jr: Journal, api: Api, task: ChangeTask) -> ChangeTask:
    """The task with the journal item that bought its number, when this journal did."""
    owner = jr.owner_of(api.key_url, task.number_id)
    if owner is None and task.group_id is not None and task.name:
        candidate = jr.get(item_key(api.key_url, task.group_id, task.name))
        owner = candidate if candidate and candidate.number_id == task.number_id else None
    if owner is None:
        return task
    from dataclasses import replace

    return replace(task, item_key=owner.key)
