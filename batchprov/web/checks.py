"""The account check behind the confirm page, and the promise a run keeps to what was confirmed.

The confirm page shows `jobs.account_plan`: the plan `pipeline.plan_run` makes with every group
the sheet orders into listed, as the command line confirms it, so a name already in the
account is not counted as to buy. Listing a large account takes a while, so each check runs in
a thread of its own while the page says "Checking the account…" and looks again. An account
that cannot be listed is said plainly, and nothing can be ordered (as the command line stops).

The plan confirmed is kept with the job (`Confirmed`). The run lists the account again; its
own plan decides what is still to buy (a row bought meanwhile is not bought again), and
`Promise` holds it to the rows confirmed: it never buys for a row the user did not confirm.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from batchprov.errors import BatchprovError, ConfirmationRefused, NoTokenError
from batchprov.order.client import ListingFailed, TokenRejected
from batchprov.plan import Plan
from batchprov.web.jobs import Job, account_plan
from batchprov.web.orderform import OrderOptions
from batchprov.web.views import scrub

if TYPE_CHECKING:
    from batchprov.sandbox import SandboxConfig

log = logging.getLogger("batchprov.web")

#: Seconds the confirm page waits for a check before it shows "Checking the account…".
FIRST_WAIT = 3.0
#: Seconds a finished check is shown again (a reload, the way back from the order form).
SHOWN_FOR = 300.0
#: Seconds within which a confirmed check may be ordered; an older one is checked again.
ORDER_WITHIN = 900.0
#: Checks kept per job: a confirm page open in another tab can still be ordered from.
KEPT = 8
#: Rows a message names before it says "and N more".
NAMED_ROWS = 10


@dataclass(frozen=True, slots=True)
class Check:
    """One listing of the account for a job's confirm page, and its outcome once done."""

    id: str
    job_id: str
    version: str  # `Job.version` when the check began
    options: OrderOptions
    started: float  # time.monotonic()
    plan: Plan | None = None
    problem: str | None = None  # why the account could not be listed: nothing can be ordered
    unreadable: bool = False  # the job's file could not be read again

    @property
    def done(self) -> bool:
        return self.plan is not None or self.problem is not None or self.unreadable

    def fits(self, job: Job, options: OrderOptions, *, within: float) -> bool:
        """True when this check is of this job as it is now, with these options, and recent."""
        fresh = time.monotonic() - self.started < within
        return (self.job_id, self.version, self.options) == (job.id, job.version, options) and fresh


class AccountChecks:
    """The recent checks of each job (a few per job: every open view of the confirm page
    keeps its own); each runs in a thread of its own."""

    def __init__(self, sandbox: SandboxConfig | None = None) -> None:
        self._sandbox = sandbox  # how sandbox jobs' sandboxes behave
        self._lock = threading.Lock()
        self._recent: dict[str, dict[str, Check]] = {}  # by job, then check id, oldest first
        self._events: dict[str, threading.Event] = {}

    def for_page(self, job: Job, options: OrderOptions, check_id: str = "") -> Check:
        """The check a confirm page shows: the one it names while still current, one under
        way for the same job and options, else a new one (the account is listed again)."""
        with self._lock:
            recent = self._recent.setdefault(job.id, {})
            named = recent.get(check_id)
            if named is not None and named.fits(job, options, within=SHOWN_FOR):
                return named
            for other in reversed(recent.values()):
                if not other.done and other.fits(job, options, within=SHOWN_FOR):
                    return other
            check = Check(uuid.uuid4().hex, job.id, job.version, options, time.monotonic())
            event = threading.Event()
            recent[check.id] = check
            while len(recent) > KEPT:
                del recent[next(iter(recent))]
            self._events[check.id] = event
        name = f"batchprov-check-{job.id[:8]}"
        threading.Thread(target=self._run, args=(check, job, event), name=name, daemon=True).start()
        return check

    def wait(self, check: Check, timeout: float) -> Check:
        """The check once done, or as it stands after ``timeout`` seconds."""
        with self._lock:
            event = self._events.get(check.id)
        if event is not None:
            event.wait(timeout)
        return self.get(check.job_id, check.id) or check

    def get(self, job_id: str, check_id: str | None) -> Check | None:
        """One of the job's recent checks, or None (one older than the last `KEPT` is gone)."""
        with self._lock:
            return self._recent.get(job_id, {}).get(check_id or "")

    def newest_done(self, job_id: str) -> Check | None:
        """The job's newest check that has a plan."""
        with self._lock:
            recent = list(self._recent.get(job_id, {}).values())
        return next((c for c in reversed(recent) if c.plan is not None), None)

    def _run(self, check: Check, job: Job, event: threading.Event) -> None:
        done = _outcome(check, job, self._sandbox)
        with self._lock:
            recent = self._recent.get(job.id, {})
            if check.id in recent:
                recent[check.id] = done
            self._events.pop(check.id, None)
        event.set()


def same_plan(a: Plan, b: Plan) -> bool:
    """True when two plans buy for the same rows, as many numbers, at the same cost."""
    return (a.rows_to_order, a.to_order, a.estimated_cost) == (
        b.rows_to_order,
        b.to_order,
        b.estimated_cost,
    )


def _outcome(check: Check, job: Job, sandbox: SandboxConfig | None) -> Check:
    """List the account and plan; what went wrong is the check's, never the server's."""
    try:
        return replace(check, plan=account_plan(job, check.options, sandbox=sandbox))
    except TokenRejected as exc:
        text = (
            f"The API did not accept this server's token ({scrub(str(exc), job)}), so the "
            "account could not be checked. Nothing was ordered. Ask whoever runs batchprov to "
            "check TELMETRICS_TOKEN."
        )
        return replace(check, problem=text)
    except (ListingFailed, NoTokenError) as exc:
        text = (
            f"The account could not be checked ({scrub(str(exc), job)}), so nothing can be "
            "ordered now: without it the count could include numbers the account already "
            "has. Nothing was ordered. Try again in a moment."
        )
        return replace(check, problem=text)
    except BatchprovError as exc:
        log.warning("job %s: cannot plan: %s", job.id, scrub(str(exc), job))
        return replace(check, unreadable=True)
    except Exception:
        log.exception("job %s: the account check failed", job.id)
        text = (
            "Something went wrong inside batchprov while checking the account. Nothing was "
            "ordered; ask whoever runs batchprov to look at its log."
        )
        return replace(check, problem=text)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the user confirmed: the rows to buy for, their count and the monthly cost.

    ``fresh`` until a run has been held to it (a run resumed after a restart is held to it
    too, but its plan is smaller because of what the first one bought, not the account).
    """

    rows: tuple[int, ...]
    count: int
    cost: float | None = None
    fresh: bool = True

    @classmethod
    def of(cls, plan: Plan) -> Confirmed:
        return cls(plan.rows_to_order, plan.to_order, plan.estimated_cost)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Confirmed | None:
        """A job's stored confirmation; None for a job confirmed before rows were kept."""
        if "rows" not in data:
            return None
        rows = tuple(int(r) for r in data["rows"])
        cost = data.get("cost")
        return cls(
            rows,
            int(data["count"]),
            float(cost) if cost is not None else None,
            bool(data.get("fresh", False)),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": list(self.rows),
            "count": self.count,
            "cost": self.cost,
            "fresh": self.fresh,
        }


class NotConfirmed(ConfirmationRefused):
    """The run's own plan would buy for rows the user did not confirm."""


class Promise:
    """The ``on_plan`` of a job's run: its plan may buy for confirmed rows only."""

    def __init__(self, confirmed: Confirmed | None) -> None:
        self.confirmed = confirmed
        self.seen: Plan | None = None

    def check(self, plan: Plan) -> None:
        """Raise `NotConfirmed` (nothing is sent) when the plan goes beyond the confirmation."""
        self.seen = plan
        if self.confirmed is None or plan.to_order == 0:
            return
        extra = sorted(set(plan.rows_to_order) - set(self.confirmed.rows))
        if extra or plan.to_order > self.confirmed.count:
            raise NotConfirmed(
                "The account changed after you confirmed: the order would now also buy for "
                f"{_rows_text(extra)}, which you did not confirm. Nothing was bought. Look "
                "at the new plan and confirm it again."
            )

    def note(self) -> str | None:
        """What the results page says when the run's own check bought fewer than confirmed."""
        confirmed, seen = self.confirmed, self.seen
        if confirmed is None or seen is None or not confirmed.fresh:
            return None
        settled = confirmed.count - seen.to_order
        if settled <= 0:
            return None
        return (
            f"The account changed after you confirmed: you confirmed {confirmed.count}, but "
            f"when the order started, its own check of the account and the journal found that "
            f"{settled} of those rows already had a number, so it ordered {seen.to_order} "
            "and bought nothing twice."
        )


def _rows_text(rows: list[int]) -> str:
    if not rows:
        return "more rows"
    shown = ", ".join(str(r) for r in rows[:NAMED_ROWS])
    more = f" and {len(rows) - NAMED_ROWS} more" if len(rows) > NAMED_ROWS else ""
    return f"row{'' if len(rows) == 1 else 's'} {shown}{more}"
