"""Finding out what became of creates whose answers were lost, here or in an earlier run.

Once a row's settle delay has passed, its group is listed and `reconcile.decide` gives a
verdict: exactly one matching new number is adopted, none (twice) means it is safe to send
again (unless a 2xx said it bought: then it stays unknown, never re-sent), several go to
review. Rows an earlier run left in flight are recovered the same way, before anything new
is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from batchprov.order.client import Number, says_bought
from batchprov.order.crashpoints import crashpoint
from batchprov.order.journal import Item, Journal, State
from batchprov.order.matching import Decision, Verdict, candidates, decide, name_pattern
from batchprov.order.rate import backoff
from batchprov.order.rows import MAYBE_TWICE, RowState, failed_result, unknown_text
from batchprov.order.state import RunState
from batchprov.order.vetting import review_text, vet

#: On an interrupt, unknown outcomes are reconciled only if that takes at most this long.
QUICK_RECONCILE = 3.0


class Reconciler:
    """Lists groups whose unknown rows have settled; adopts, resends or reviews them."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def recover(self, row: RowState, item: Item) -> None:
        """An earlier run left this row in flight: reconcile it before any new order."""
        s = self.state
        age = max(0.0, time.time() - (item.intent_epoch or time.time()))
        row.recovering = True
        row.unknown_detail = item.last_error or "the earlier run stopped while it was in flight"
        row.claimed = item.state is State.UNKNOWN and says_bought(row.unknown_detail)
        row.ready_at = s.clock() - age + s.opts.settle
        s.mark_unknown(row)
        s.stats["recovered"] += 1

    async def run(self) -> None:
        """Reconcile settled groups until the run halts."""
        s = self.state
        try:
            while not s.halted():
                s.wake_reconcile.clear()
                now = s.clock()
                groups = [
                    g
                    for g, rows in s.unknown.items()
                    if any(r.ready_at <= now for r in rows.values())
                ]
                if not groups:
                    await s.wait(s.wake_reconcile, self._next_ready(now))
                    continue
                for gid in groups:
                    await self.reconcile_group(gid, final=False)
        except Exception as exc:
            s.abort(exc)

    def _next_ready(self, now: float) -> float | None:
        times = [r.ready_at for r in self.state.unknown_rows()]
        return max(min(times) - now, 0.0) if times else None

    async def quick(self) -> None:
        """On an interrupt: one look for unknown rows, if their settle delay is nearly over."""
        s = self.state
        times = [r.ready_at for r in s.unknown_rows()]
        if not times or max(times) - s.clock() > QUICK_RECONCILE:
            return
        if s.limiter.paused_until - s.clock() > QUICK_RECONCILE:
            return  # the API asked for a pause: a listing now would wait it out
        s.naps_end.clear()  # this one look is allowed its short waits
        await s.sleep(max(max(times) - s.clock(), 0.0))
        # Its listings too are allowed that long in all: an API that does not answer must not
        # hold an interrupted run (what stays unknown is reconciled by the next run).
        ends = time.monotonic() + QUICK_RECONCILE
        for gid in list(s.unknown):
            await self.reconcile_group(gid, final=True, within=ends - time.monotonic())

    async def reconcile_group(self, gid: int, *, final: bool, within: float | None = None) -> None:
        """One listing of the group (given up after ``within`` seconds); a verdict for each of
        its settled unknown rows."""
        s = self.state
        taken_at = s.clock()
        ready = {k: r for k, r in s.unknown.get(gid, {}).items() if r.ready_at <= taken_at}
        if not ready:
            return
        async with s.sem:
            listing = await self._listing(gid, within)
        if listing is None:
            self._unlisted(gid, ready.values())
            return
        s.stats["reconciles"] += 1
        names = {k: r.order.name for k, r in ready.items()}
        ours = frozenset(r.key for r in s.rows)
        verdicts = await s.jx(_verdicts, s.journal, s.api_url, gid, listing, names, ours)
        for key, decision in verdicts.items():
            await self._apply(ready[key], decision, taken_at, final=final)
            crashpoint("mid_reconcile")

    async def _listing(self, gid: int, within: float | None) -> list[Number] | None:
        if within is None:
            return await self.state.list_group(gid)
        if within <= 0:
            return None
        try:
            async with asyncio.timeout(within):
                return await self.state.list_group(gid)
        except TimeoutError:
            return None

    def _unlisted(self, gid: int, rows: Iterable[RowState]) -> None:
        """The listing failed: look again later, or give up if the group is refused for good."""
        s = self.state
        for row in rows:
            row.ready_at = s.clock() + backoff(2, rng=s.rng)
            if gid in s.refused:
                self._give_up(row, s.refused[gid])

    async def _apply(
        self, row: RowState, decision: Decision, taken_at: float, *, final: bool
    ) -> None:
        verdict = decision.verdict
        if verdict is Verdict.ADOPT:
            await self._adopt(row, decision.numbers[0])
        elif verdict in (Verdict.REVIEW, Verdict.OVERLAP):
            await self._review(row, decision)
        elif verdict is Verdict.DEFER:
            row.ready_at = self.state.clock() + self.state.opts.settle
        elif not final:
            await self._absent(row, taken_at)

    async def _adopt(self, row: RowState, number: Number) -> None:
        s = self.state
        vetted = vet(number, group_id=row.group, name=row.order.name, redactor=s.redactor)
        if not vetted.ok:
            answered = "the group's listing holds a number by this name"
            text = review_text(vetted, answered=answered, group_id=row.group, name=row.order.name)
            s.resolved(row)
            await s.record_review(row, text, [vetted.number.id])
            return
        number = vetted.number
        s.stats["adopted"] += 1
        if row.resent_unseen:
            row.warnings.append(
                f"{MAYBE_TWICE}: no clear answer came for it ({row.unknown_detail}), twice. It "
                "was sent again after the group's listing showed no number by its name, and "
                f"then number {number.id} showed, kept. If the listing was late, the first "
                f"attempt bought one too: check group {row.group} for another number named "
                f'"{row.order.name.strip()}" or a suffixed form'
            )
        else:
            row.warnings.append(
                f"No clear answer came when this row was ordered ({row.unknown_detail}); its "
                "number was then found in the account by its name, and kept: nothing was bought "
                "twice"
            )
        await s.record_bought(row, number, resolved_by="reconcile")
        s.resolved(row)

    async def _review(self, row: RowState, decision: Decision) -> None:
        s = self.state
        s.stats["review"] += 1
        if decision.verdict is Verdict.REVIEW:
            text = (
                f"This row may have been bought twice: review numbers {decision.ids} in the "
                "account and release the one you do not want"
            )
        else:
            text = (
                f"batchprov cannot tell which row owns numbers {decision.ids}: their names fit "
                "several rows of this group. Look at them in the account before running again"
            )
        ids = [n.id for n in decision.numbers]
        item = await s.jx(s.journal.record_review, row.key, text, ids)
        s.resolved(row)
        s.final(row, failed_result(row, item, text))

    async def _absent(self, row: RowState, taken_at: float) -> None:
        """Absent once: look again a little later. Absent twice: provably not bought."""
        s = self.state
        gap = min(1.0, s.opts.settle / 2)
        if row.absent_since is None or taken_at < row.absent_since + gap:
            row.absent_since = row.absent_since if row.absent_since is not None else taken_at
            row.ready_at = max(row.ready_at, row.absent_since + gap)
            return
        if row.claimed:
            await self._unvouched(row)
            return
        s.stats["absent"] += 1
        s.budget.spend(row)
        detail = f"not found after: {row.unknown_detail}"
        item = await s.jx(s.journal.record_pending, row.key, "absent", detail)
        s.resolved(row)
        if row.sends >= s.opts.max_attempts:
            await s.exhausted(row, item, row.unknown_detail)
        else:
            row.resent_unseen = True
            s.retry(row, max(row.not_before, s.clock()))

    async def _unvouched(self, row: RowState) -> None:
        """A 2xx said it bought, and the listing shows no number by the name (a listing may lag
        behind a purchase): the row stays unknown for a later run to find, never sent again."""
        s = self.state
        s.resolved(row)
        text = (
            f"The API answered {row.unknown_detail}, which says it bought a number, but group "
            f'{row.group} shows none named "{row.order.name.strip()}" yet, so it is not sent '
            "again. Run the same command later: batchprov looks for it again; if it never "
            "shows, check the account"
        )
        s.final(row, failed_result(row, row.item, text))

    def _give_up(self, row: RowState, why: str) -> None:
        """The group cannot be listed: leave the row UNKNOWN for the next run to reconcile."""
        self.state.resolved(row)
        text = unknown_text(row.unknown_detail, why)
        self.state.final(row, failed_result(row, row.item, text))


def refresh_baseline(journal: Journal, api_url: str, gid: int, listing: list[Number]) -> None:
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
    journal: Journal,
    api_url: str,
    gid: int,
    listing: list[Number],
    ready: dict[str, str],
    ours: frozenset[str] = frozenset(),
) -> dict[str, Decision]:
    """Verdicts for settled rows against one listing (runs on the journal thread).

    Open items that are not rows of this run (``ours``; a row since dropped from the sheet)
    never settle in it: they count as settled, so a number whose name fits one of them is a
    question for a person (OVERLAP) instead of a wait that never ends.
    """
    excluded = journal.baseline_ids(api_url, gid) | journal.owned_ids(api_url, gid)
    unresolved = {i.key: i.name for i in journal.unresolved(api_url, gid)}
    stray = {k: n for k, n in unresolved.items() if ours and k not in ours}
    decisions = decide({**stray, **ready}, unresolved, candidates(listing, excluded))
    return {key: decisions[key] for key in ready}
