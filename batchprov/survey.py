"""What a run will do, row by row, known before anything is bought: the plan and its basis.

`survey_run` reads the journal (without its lock) and, unless the run is an offline dry
run, lists every group the sheet orders into (`order.account`), sorts each valid row by
where it stands, and builds the one `Plan` the CLI, `run_file` and the web page show.
`check_can_write` finds before the first request what would stop the run after it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from batchprov.config import Api, Existing, RunConfig
from batchprov.errors import OutputError
from batchprov.models import CheckedRow, RowResult, Status, Table
from batchprov.order.account import SENDS, Account, Holding, Standing, read_account
from batchprov.order.client import Number, says_bought
from batchprov.order.journal import Journal, State, item_key
from batchprov.order.matching import Verdict
from batchprov.plan import Plan, make_plan
from batchprov.write.columns import check_output

__all__ = ["Survey", "check_can_write", "survey_run"]

#: Standings the run engine reports (journal states) or sends; the others are settled here.
_ENGINE = frozenset({*SENDS, Standing.IN_JOURNAL, Standing.FAILED_BEFORE, Standing.TO_REVIEW})


@dataclass(frozen=True, slots=True)
class Survey:
    """The plan, and where each valid row without a number in the workbook stands."""

    plan: Plan
    holdings: Mapping[int, Holding] = field(default_factory=dict)  # by row index
    listings: Mapping[int, tuple[Number, ...]] = field(default_factory=dict)  # by group
    listed_at: float | None = None  # `time.monotonic` when the listings were complete

    def fresh_listings(self, *, within: float) -> Mapping[int, tuple[Number, ...]]:
        """The groups' listings if they were taken at most ``within`` seconds ago, else none.

        A run takes each group's baseline from a listing just before its first create
        (docs/design.md §5.4); one the plan took a moment ago, under the same account lock,
        is that listing.
        """
        if self.listed_at is None or time.monotonic() - self.listed_at > within:
            return {}
        return self.listings

    def engine_rows(self, rows: tuple[CheckedRow, ...]) -> list[CheckedRow]:
        """The rows the run engine orders or reports (journal items, rows to send)."""
        return [r for r in rows if self._standing(r) in _ENGINE]

    def settled(self, row: CheckedRow, *, compared: bool = False) -> RowResult | None:
        """The result of a row settled by the account alone (found, several, refused).

        ``compared``: the row's route is compared with its number elsewhere (``run``), so a
        found row does not also say here where its calls ring.
        """
        holding = self.holdings.get(row.index)
        if holding is None or holding.standing in _ENGINE:
            return None
        return _account_result(row, holding, compared=compared)

    def found(self, row: CheckedRow) -> Number | None:
        """The one number the account holds under the row's name, when that settles the row."""
        holding = self.holdings.get(row.index)
        if holding is None or holding.standing is not Standing.FOUND:
            return None
        (number,) = holding.numbers
        return number

    def several(self, row: CheckedRow) -> tuple[Number, ...]:
        """The numbers sharing the row's name when there are several (the row is for review)."""
        holding = self.holdings.get(row.index)
        if holding is None or holding.standing is not Standing.SEVERAL:
            return ()
        return holding.numbers

    def _standing(self, row: CheckedRow) -> Standing | None:
        holding = self.holdings.get(row.index)
        return holding.standing if holding else None


def survey_run(
    rows: tuple[CheckedRow, ...],
    *,
    config: RunConfig,
    api: Api,
    journal: Path | None,
    hidden: int = 0,
    stop: threading.Event | None = None,
) -> Survey:
    """Read the journal and (``config.lists_account``) the account, then plan.

    ``hidden`` counts the rows the reader left out because Excel hides them; setting
    ``stop`` (Ctrl-C) ends the account's listing at once.

    Raises the client's `TokenRejected` or `ListingFailed` when a group cannot be listed,
    `ListingInterrupted` when ``stop`` ends the listing.
    """
    open_rows = [r for r in rows if r.order is not None and not r.owned]
    listed = config.lists_account and bool(api.token)  # no token: nothing can be listed
    account = read_account(
        open_rows,
        # Listed where the orders go (credentials in the URL included); keyed as the journal
        # keys it.
        api_url=api.url,
        key_url=api.key_url,
        journal=journal,
        token=api.token if listed else None,
        transport=api.transport,
        timeout=config.options.timeout,
        stop=stop,
    )
    adopt = config.existing is Existing.ADOPT
    retry = config.options.retry_failed
    holdings = {r.index: account.holding(r, adopt=adopt, retry_failed=retry) for r in open_rows}
    plan = _plan(rows, holdings, account, config, api, listed=listed)
    return Survey(replace(plan, hidden=hidden), holdings, account.listings, account.listed_at)


def _released(row: CheckedRow) -> bool:
    """The row's own result columns say its number was released (it is skipped)."""
    prev = row.previous
    return prev is not None and prev.released and not prev.owned


def check_can_write(table: Table, out: Path, *, journal: Path | None) -> None:
    """Everything that would stop a run after buying, checked before the first request.

    The output's type and folder, that it is not the input, and that the journal can be
    opened and written (`OutputError`, `JournalError` through the error translation).
    """
    check_output(table, out)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"Cannot write the output {out}: {folder} is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write the output {out}: the folder {folder} is not writable.")
    if out.exists() and not os.access(out, os.W_OK):
        raise OutputError(f"Cannot write the output {out}: the file is read-only.")
    if journal is not None:
        with Journal.open(journal):  # creates it, takes and releases its lock
            pass


def _plan(
    rows: tuple[CheckedRow, ...],
    holdings: Mapping[int, Holding],
    account: Account,
    config: RunConfig,
    api: Api,
    *,
    listed: bool,
) -> Plan:
    verdicts = _recoveries(rows, holdings, account)
    sending = [r for r in rows if r.index in holdings and _buys(holdings[r.index], verdicts, r)]
    invalid = sum(1 for r in rows if r.order is None and not r.owned)
    strict_held = len(sending) if config.strict and invalid else 0
    if strict_held:  # --strict with an invalid row: the run orders nothing at all
        sending = []
    standings = [h.standing for h in holdings.values()]
    reconciled = sum(1 for r in rows if verdicts.get(r.index) is Verdict.ADOPT)
    held = {
        Standing.FAILED_BEFORE,
        Standing.TO_REVIEW,
        Standing.SEVERAL,
        Standing.SUSPECT,
        Standing.GROUP_REFUSED,
    }
    return make_plan(
        [r.order for r in sending if r.order],
        api_url=api.key_url,
        sandbox=api.sandbox,
        already=sum(1 for r in rows if r.owned and not _released(r))
        + standings.count(Standing.IN_JOURNAL),
        released=sum(1 for r in rows if _released(r)),
        invalid=invalid,
        rate=config.options.rate,
        rows=sending,
        price_per_number=config.price_per_number,
        dry_run=config.dry_run,
        found=standings.count(Standing.FOUND),
        recovered=reconciled,
        held=sum(1 for s in standings if s in held)
        + sum(
            1
            for r in rows
            if r.index in verdicts
            and verdicts[r.index] is not Verdict.ADOPT
            and not _buys(holdings[r.index], verdicts, r)
        ),
        account_checked=listed,
        max_numbers=config.max_numbers,
        max_cost=config.max_cost,
        named_anyway=sum(
            1 for r in sending if r.order and account.named(r.order.group_id, r.order.name)
        ),
        strict_held=strict_held,
    )


def _recoveries(
    rows: tuple[CheckedRow, ...], holdings: Mapping[int, Holding], account: Account
) -> dict[int, Verdict | None]:
    """For each row an earlier run left unknown, what the run's reconcile will decide on the
    plan's listing: ABSENT when the group was not listed (offline: it may be sent again),
    None when the API refused to list it (the run leaves the row unknown, never sends it)."""
    waiting: dict[int, dict[str, CheckedRow]] = {}
    for r in rows:
        holding = holdings.get(r.index)
        if holding is None or holding.standing is not Standing.TO_RECONCILE or r.order is None:
            continue
        key = item_key(account.api_url, r.order.group_id, r.order.name)
        waiting.setdefault(r.order.group_id, {})[key] = r
    verdicts: dict[int, Verdict | None] = {}
    for gid, by_key in waiting.items():
        ready = {key: r.order.name for key, r in by_key.items() if r.order is not None}
        decisions = account.recovery(gid, ready)
        for key, r in by_key.items():
            if decisions is not None:
                verdicts[r.index] = decisions[key].verdict
            else:
                verdicts[r.index] = None if gid in account.refused else Verdict.ABSENT
    return verdicts


def _buys(holding: Holding, verdicts: Mapping[int, Verdict | None], row: CheckedRow) -> bool:
    """The row will send a create: new, retried, or cut short before with no number of its
    own in the account (unless a 2xx said it bought: that one is only looked for)."""
    if holding.standing is Standing.TO_ORDER:
        return True
    return (
        holding.standing is Standing.TO_RECONCILE
        and verdicts.get(row.index) is Verdict.ABSENT
        and not _claimed(holding)
    )


def _claimed(holding: Holding) -> bool:
    """An earlier run's 2xx said it bought, not what: the row is never sent again."""
    item = holding.item
    return item is not None and item.state is State.UNKNOWN and says_bought(item.last_error or "")


def _account_result(row: CheckedRow, holding: Holding, *, compared: bool) -> RowResult:
    order = row.order
    assert order is not None
    base = RowResult(
        index=row.index,
        excel_row=row.excel_row,
        status=Status.FAILED,
        match_type=order.match_type.value,
    )
    if holding.standing is Standing.GROUP_REFUSED:
        return replace(
            base, error=f"the API refused to list group {order.group_id}: {holding.detail}"
        )
    if holding.standing is Standing.SUSPECT:
        text = (
            f"a number in group {order.group_id} has this name, but {holding.detail}; check it "
            "in the account — nothing was bought"
        )
        return replace(base, error=text)
    if holding.standing is Standing.SEVERAL:
        ids = ", ".join(n.id for n in holding.numbers)
        text = (
            f"{len(holding.numbers)} numbers in group {order.group_id} are already named "
            f"'{order.name}' (ids {ids}); review them in the account — nothing was bought"
        )
        return replace(base, error=text)
    (number,) = holding.numbers
    warnings = [
        f"found in the account: number {number.id} in group {order.group_id} already has this "
        "name; not bought now (--existing order buys another)"
    ]
    ring = number.termination_number
    if not compared and ring and ring != order.termination_number:
        warnings.append(
            f"calls to it ring {number.termination_number}, not {order.termination_number} as "
            "the sheet says"
        )
    return replace(
        base,
        status=Status.ALREADY_PROVISIONED,
        tracking_number=number.phone_number,
        number_id=number.id,
        route_id=number.route_id,
        assigned_name=number.name,
        provisioned_at=number.created_datetime,
        warnings=tuple(warnings),
    )
