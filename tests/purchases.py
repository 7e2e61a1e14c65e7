"""What a sandbox sold, compared with what a run reported and journaled."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_clock import FakeClock

from batchprov.models import OWNED, CheckedRow
from batchprov.order.journal import Journal, State
from batchprov.order.runner import OrderOutcome
from batchprov.sandbox import SandboxConfig, SandboxTransport, transport

#: A token distinctive enough to search journals and results for.
TOKEN = "s3cret-token-value"


def sandbox_transport(clock: FakeClock, **config: Any) -> SandboxTransport:
    """A fresh in-process sandbox accepting `TOKEN`, on the fake clock."""
    return transport(SandboxConfig(token=TOKEN, **config), clock=clock, sleep=clock.sleep)


def bought(api: SandboxTransport, *, before: int = 0) -> Counter[str]:
    """Purchases per requested (casefolded) name, leaving out the first ``before`` numbers."""
    return bought_in(api.sandbox.ledger(), before=before)


def bought_in(ledger: Sequence[dict[str, Any]], *, before: int = 0) -> Counter[str]:
    """`bought` for any sandbox's ledger (e.g. one served on loopback: ``server.state``)."""
    return Counter(entry["requested_name"].strip().casefold() for entry in ledger[before:])


def duplicates(api: SandboxTransport) -> list[str]:
    """Requested names bought more than once."""
    return duplicates_in(api.sandbox.ledger())


def duplicates_in(ledger: Sequence[dict[str, Any]]) -> list[str]:
    """`duplicates` for any sandbox's ledger."""
    return [name for name, count in bought_in(ledger).items() if count > 1]


def number(api: SandboxTransport, requested_name: str) -> dict[str, Any]:
    """The one number bought for a requested name, as the API shows it."""
    (entry,) = [e for e in api.sandbox.ledger() if e["requested_name"] == requested_name]
    return api.sandbox.get_number(entry["id"])


def ledger_ids(api: SandboxTransport) -> list[str]:
    """Ids of every number the sandbox created, in creation order."""
    return [str(entry["id"]) for entry in api.sandbox.ledger()]


@dataclass(frozen=True, slots=True)
class Money:
    """The sandbox's ledger compared with a run's results and its journal.

    Attributes:
        bought: numbers the sandbox created during the run (someone else's left out).
        duplicates: numbers beyond the first for one (group, requested name), in the ledger.
        lost: numbers bought during the run that no result reports (nor names for review).
        unjournaled: owned results whose journal item is not DONE with that number.
        phantom: owned results whose number the ledger does not hold for the row's name.
    """

    bought: int
    duplicates: int
    lost: int
    unjournaled: int
    phantom: int

    def clean(self) -> bool:
        """Nothing bought twice, nothing lost, every owned result on the server and journaled."""
        return (self.duplicates, self.lost, self.unjournaled, self.phantom) == (0, 0, 0, 0)


def money(
    ledger: Sequence[dict[str, Any]],
    api_url: str,
    checked: Sequence[CheckedRow],
    outcome: OrderOutcome,
    journal: Path,
    *,
    before: int,
    foreign: Collection[str] = (),
) -> Money:
    """Compare a sandbox's ledger (from entry ``before`` on: this run's) with results and journal.

    ``foreign`` holds the ids of numbers someone else bought; they are never ours.
    """
    ours = [e for e in ledger if str(e["id"]) not in foreign]
    new = [e for e in ledger[before:] if str(e["id"]) not in foreign]
    orders = {row.index: row.order for row in checked if row.order is not None}
    owned = [r for r in outcome.results if r.status in OWNED]
    accounted = {r.number_id for r in owned} | {
        number
        for r in outcome.results
        if "review numbers" in (r.error or "")
        for number in re.findall(r"\d+", (r.error or "").split("review numbers", 1)[1])
    }
    per_name = Counter((e["group_id"], _key(e["requested_name"])) for e in ours)
    by_id = {str(e["id"]): e for e in ours}
    with Journal.open(journal) as j:
        items = {
            r.index: j.lookup(api_url, orders[r.index].group_id, orders[r.index].name)
            for r in owned
        }
    return Money(
        bought=len(new),
        duplicates=sum(count - 1 for count in per_name.values()),
        lost=sum(1 for e in new if str(e["id"]) not in accounted),
        unjournaled=sum(
            1
            for r in owned
            if (item := items[r.index]) is None
            or item.state is not State.DONE
            or item.number_id != r.number_id
        ),
        phantom=sum(
            1
            for r in owned
            if (entry := by_id.get(r.number_id or "")) is None
            or _key(entry["requested_name"]) != _key(orders[r.index].name)
        ),
    )


def committed_state(path: Path, key: str) -> str | None:
    """An item's state as another connection sees it: only what was committed."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT state FROM item WHERE item_key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _key(name: str) -> str:
    return name.strip().casefold()
