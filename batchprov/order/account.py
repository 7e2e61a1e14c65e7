"""What the account and the journal already hold for a run's rows, known before its plan.

The account is the truth, the journal its cache: before anything is bought, every group the
sheet orders into is listed (read-only, every page) and each row is sorted by `holding`.
A row whose name already names a number in its group is *found in the account*: reported
`already provisioned` with that number and not bought, unless the run says
``--existing order``. Names are the same when they are equal after trimming, collapsing
inner whitespace and ignoring case (``" ABC  Plumbing"`` is ``"abc plumbing"``); the API's
suffixed forms (``ABC Plumbing 2``) are other names.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import httpx

from batchprov.models import CheckedRow, name_key
from batchprov.order.client import ApiClient, ListingRefused, Number
from batchprov.order.journal import Item, State, item_key, peek_items, peek_reconcile_basis
from batchprov.order.matching import Decision, candidates, decide
from batchprov.order.vetting import vet
from batchprov.redact import Redactor

__all__ = [
    "Account",
    "Holding",
    "ListingInterrupted",
    "Standing",
    "read_account",
    "same_name",
    "until_stopped",
]

#: Groups listed at once while planning.
_LISTING_CONCURRENCY = 4
#: How often the caller's stop event is looked at while the groups are listed.
_STOP_POLL = 0.05
_T = TypeVar("_T")


class ListingInterrupted(Exception):
    """The caller's stop (Ctrl-C) ended the listing: nothing was bought, nothing is known."""


class Standing(StrEnum):
    """Where a valid row stands before the run."""

    TO_ORDER = "to order"  # will be sent
    TO_RECONCILE = "to reconcile"  # an earlier run was cut short: looked up, maybe sent
    IN_JOURNAL = "in the journal"  # bought before: already provisioned
    FOUND = "found in the account"  # a number already has its name: already provisioned
    SEVERAL = "several in the account"  # several numbers have its name: review, buy nothing
    FAILED_BEFORE = "failed before"  # reported again, not re-sent (unless --retry-failed)
    TO_REVIEW = "to review"  # an earlier run found possible duplicates
    GROUP_REFUSED = "group refused"  # the API refused to list the group (e.g. 404)
    SUSPECT = "suspect in the account"  # a number has its name but is not a plausible number


#: Standings that send a create (at most one purchase each).
SENDS = frozenset({Standing.TO_ORDER, Standing.TO_RECONCILE})


@dataclass(frozen=True, slots=True)
class Holding:
    """A row's standing, with the journal item and the account's numbers behind it."""

    standing: Standing
    item: Item | None = None
    numbers: tuple[Number, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    """The groups' numbers (None for a group not listed, e.g. offline) and journal items.

    ``listed_at`` is when the listings were complete (`time.monotonic`), None if not listed.
    """

    api_url: str
    listings: Mapping[int, tuple[Number, ...]] = field(default_factory=dict)
    refused: Mapping[int, str] = field(default_factory=dict)
    items: Mapping[str, Item] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    listed_at: float | None = None
    #: Per group with open journal items: the ids no open item can own (baseline, owned)
    #: and the open items (key → name), as a reconcile weighs them.
    basis: Mapping[int, tuple[frozenset[str], Mapping[str, str]]] = field(default_factory=dict)

    def holding(
        self, row: CheckedRow, *, adopt: bool = True, retry_failed: bool = False
    ) -> Holding:
        """Where a valid row stands: journal first, then the account (``adopt``)."""
        assert row.order is not None
        order = row.order
        item = self.items.get(item_key(self.api_url, order.group_id, order.name))
        journal = _journal_holding(item, order.body_json(), retry_failed)
        if journal is not None:
            return journal
        if order.group_id in self.refused:
            return Holding(Standing.GROUP_REFUSED, item, detail=self.refused[order.group_id])
        named = self.named(order.group_id, order.name)
        if adopt and len(named) == 1:
            return self._found(named[0], order.group_id, item)
        if adopt and named:
            return Holding(Standing.SEVERAL, item, named)
        return Holding(Standing.TO_ORDER, item)

    def _found(self, number: Number, group_id: int, item: Item | None) -> Holding:
        """A listed number taken for a row is checked like a create's answer (and scrubbed)."""
        vetted = vet(number, group_id=group_id, name=number.name, redactor=self.redactor)
        if not vetted.ok:
            return Holding(Standing.SUSPECT, item, (vetted.number,), "; ".join(vetted.problems))
        return Holding(Standing.FOUND, item, (vetted.number,))

    def named(self, group_id: int, name: str) -> tuple[Number, ...]:
        """The group's numbers whose name is ``name`` (see `same_name`)."""
        wanted = name_key(name)
        return tuple(n for n in self.listings.get(group_id, ()) if name_key(n.name) == wanted)

    def recovery(self, group_id: int, ready: Mapping[str, str]) -> dict[str, Decision] | None:
        """What the run's reconcile will decide, on this listing, for rows an earlier run left
        unknown (``ready``: key → name), or None when the group was not listed.

        The same verdicts as `order.reconcile`: numbers in the baseline or owned by other
        items are never the rows' own, and suffixed names count.
        """
        if group_id not in self.listings:
            return None
        excluded, unresolved = self.basis.get(group_id, (frozenset(), {}))
        pool = candidates(self.listings[group_id], excluded)
        # Open items that are not the sheet's rows never settle in the run: settled, as there.
        stray = {k: n for k, n in unresolved.items() if k not in ready}
        decisions = decide({**stray, **ready}, {**unresolved, **ready}, pool)
        return {key: decisions[key] for key in ready}


def same_name(a: str, b: str) -> bool:
    """True when two names are the same advertiser's: trimmed, inner spaces collapsed, any case."""
    return name_key(a) == name_key(b)


def read_account(
    rows: Iterable[CheckedRow],
    *,
    api_url: str,
    key_url: str | None = None,
    journal: Path | None,
    token: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    stop: threading.Event | None = None,
) -> Account:
    """The journal items of ``rows``, and (with a ``token``) every page of their groups.

    The groups are listed at ``api_url``; the journal keys the API by ``key_url`` (default
    ``api_url``; see `batchprov.config.Api.key`).

    Setting ``stop`` ends the listing at once, its retry pauses and requests in flight
    included (they only read).

    Raises the client's `TokenRejected` or `ListingFailed` when a group cannot be listed,
    `ListingInterrupted` when ``stop`` is set before every group is listed.
    """
    orders = [r.order for r in rows if r.order is not None]
    key = key_url or api_url
    keys = [item_key(key, o.group_id, o.name) for o in orders]
    items = peek_items(journal, keys) if journal is not None else {}
    if token is None:
        return Account(key, items=items)
    open_groups = {i.group_id for i in items.values() if i.unresolved}
    basis = peek_reconcile_basis(journal, key, open_groups) if journal is not None else {}
    groups = sorted({o.group_id for o in orders})
    if stop is not None and stop.is_set():
        raise ListingInterrupted("interrupted before the account was listed")
    listing = _list(groups, api_url, token, transport, timeout)
    listings, refused = asyncio.run(until_stopped(listing, stop))
    redactor = Redactor.of(token, api_url)
    return Account(
        key,
        listings=listings,
        refused=refused,
        items=items,
        redactor=redactor,
        listed_at=time.monotonic(),
        basis=basis,
    )


async def _list(
    groups: list[int],
    api_url: str,
    token: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
) -> tuple[dict[int, tuple[Number, ...]], dict[int, str]]:
    listings: dict[int, tuple[Number, ...]] = {}
    refused: dict[int, str] = {}
    gate = asyncio.Semaphore(_LISTING_CONCURRENCY)
    client = ApiClient(api_url, token, timeout=timeout, transport=transport)

    async def one(gid: int) -> None:
        async with gate:
            try:
                listings[gid] = tuple(await client.list_numbers(gid))
            except ListingRefused as exc:
                refused[gid] = str(exc)

    try:
        await asyncio.gather(*(one(g) for g in groups))
    finally:
        await client.aclose()
    return listings, refused


async def until_stopped(work: Coroutine[Any, Any, _T], stop: threading.Event | None) -> _T:
    """``work``'s result, unless ``stop`` is set first: then ``work`` is cancelled."""
    if stop is None:
        return await work
    task = asyncio.ensure_future(work)
    while not task.done():
        if stop.is_set():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # lets the client close
            raise ListingInterrupted("interrupted while the account was being listed")
        await asyncio.wait({task}, timeout=_STOP_POLL)
    return task.result()


def _journal_holding(item: Item | None, body: str, retry_failed: bool) -> Holding | None:
    if item is None or item.state is State.PENDING:
        return None
    if item.state is State.DONE:
        return Holding(Standing.IN_JOURNAL, item)
    if item.state is State.REVIEW:
        return Holding(Standing.TO_REVIEW, item)
    if item.state is State.FAILED:
        resend = retry_failed or item.payload != body
        return None if resend else Holding(Standing.FAILED_BEFORE, item)  # resend: as if new
    return Holding(Standing.TO_RECONCILE, item)
