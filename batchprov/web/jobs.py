"""Web jobs: their records in SQLite, their live progress, and how each is planned and run.

A job is one uploaded file: checked at upload (`checked`), ordered in the background once the
user confirms (`running`, `stopping`), then `done` or `failed`. Orders go through
`pipeline.run_file` with a journal, so a job cut short by a server restart is simply run again
on the next start (`runner.JobRunner`): rows the journal shows as bought are not bought twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchprov.clock import now_iso
from batchprov.config import DEFAULT_API_URL, Api, RunConfig
from batchprov.models import CheckedRow, RowResult, Status
from batchprov.pipeline import Checked, check_file, plan_run
from batchprov.plan import Plan
from batchprov.web.orderform import OrderOptions
from batchprov.web.views import row_view
from batchprov.wording import SANDBOX_MARK

if TYPE_CHECKING:
    from batchprov.sandbox import SandboxConfig

#: Job statuses, in the order a job goes through them.
CHECKED, RUNNING, STOPPING, DONE, FAILED = "checked", "running", "stopping", "done", "failed"
ACTIVE = frozenset({RUNNING, STOPPING})
#: A failed job may be tried again, a stopped one finished: the journal keeps either from
#: buying anything twice.
ORDERABLE = (CHECKED, FAILED)
#: Rows the progress page lists as they finish.
RECENT_ROWS = 12
RECENT_ERRORS = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    original_name TEXT NOT NULL,
    input_path TEXT NOT NULL,
    group_id INTEGER,
    status TEXT NOT NULL,
    sandbox INTEGER NOT NULL,
    api_url TEXT,
    journal_path TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    review TEXT NOT NULL DEFAULT '{}',
    result TEXT NOT NULL DEFAULT '{}',
    output_path TEXT,
    check_path TEXT,
    stopped_reason TEXT,
    error TEXT,
    started TEXT,
    ended TEXT,
    options TEXT NOT NULL DEFAULT '{}',
    edits INTEGER NOT NULL DEFAULT 0,
    confirmed TEXT NOT NULL DEFAULT '{}'
)
"""
#: Columns added since the first jobs table, added to an older one when it is opened.
_ADDED = {
    "options": "options TEXT NOT NULL DEFAULT '{}'",
    "edits": "edits INTEGER NOT NULL DEFAULT 0",
    "confirmed": "confirmed TEXT NOT NULL DEFAULT '{}'",
}
_JSON_FIELDS = frozenset({"counts", "review", "result", "options", "confirmed"})
_PATH_FIELDS = frozenset({"input_path", "journal_path", "output_path", "check_path"})


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the jobs table. `original_name` is for display only, never a path."""

    id: str
    created: str
    original_name: str
    input_path: Path
    group_id: int | None
    status: str
    sandbox: bool
    api_url: str | None
    journal_path: Path
    counts: dict[str, int] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    output_path: Path | None = None
    check_path: Path | None = None
    stopped_reason: str | None = None
    error: str | None = None
    started: str | None = None
    ended: str | None = None
    #: The order form's choices (`orderform.OrderOptions.as_json`), kept for the run.
    options: dict[str, Any] = field(default_factory=dict)
    #: Cells fixed on the page so far.
    edits: int = 0
    #: The plan the user confirmed (`Confirmed.as_json`): the run buys for those rows only.
    confirmed: dict[str, Any] = field(default_factory=dict)

    @property
    def to_order(self) -> int:
        """Rows the review found ready to order."""
        return int(self.review.get("plan", {}).get("to_order", 0))

    @property
    def version(self) -> str:
        """Changes whenever what the next run would order from may have changed: the file (a
        fix), or an earlier run of the job."""
        return f"{self.input_path.name}:{self.edits}:{self.status}:{self.ended or ''}"

    @property
    def resumable(self) -> bool:
        """A run that stopped early or failed, which can be finished (never buying twice)."""
        return self.status == FAILED or (self.status == DONE and bool(self.stopped_reason))


class JobStore:
    """Job records in one SQLite file; a short-lived connection per call keeps threads apart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            have = {str(row["name"]) for row in db.execute("PRAGMA table_info(jobs)")}
            for name, column in _ADDED.items():
                if name not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock, closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            with db:  # one transaction
                yield db

    def add(self, job: Job) -> None:
        """Record a new job."""
        values = {f.name: _to_db(f.name, getattr(job, f.name)) for f in fields(Job)}
        names = ", ".join(values)
        marks = ", ".join(f":{n}" for n in values)
        with self._db() as db:
            db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", values)

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _from_db(row) if row else None

    def all(self, limit: int = 500) -> list[Job]:
        """The newest jobs first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_from_db(r) for r in rows]

    def with_status(self, statuses: Sequence[str]) -> list[Job]:
        """Jobs in any of these statuses, oldest first."""
        marks = ", ".join("?" for _ in statuses)
        with self._db() as db:
            rows = db.execute(
                f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY created, rowid",
                tuple(statuses),
            ).fetchall()
        return [_from_db(r) for r in rows]

    def update(self, job_id: str, **values: Any) -> None:
        """Set some fields of a job."""
        sets = ", ".join(f"{name} = :{name}" for name in values)
        params = {name: _to_db(name, value) for name, value in values.items()}
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = :_id", {**params, "_id": job_id})

    def transition(self, job_id: str, before: Sequence[str], after: str) -> bool:
        """Move a job from one of `before` to `after` atomically; False if it was not there.

        This is what makes a double-clicked "Order" button order once.
        """
        marks = ", ".join("?" for _ in before)
        with self._db() as db:
            cursor = db.execute(
                f"UPDATE jobs SET status = ? WHERE id = ? AND status IN ({marks})",
                (after, job_id, *before),
            )
        return cursor.rowcount == 1


def _to_db(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value)
    if name in _PATH_FIELDS and value is not None:
        return str(value)
    if name == "sandbox":
        return int(bool(value))
    return value


def _from_db(row: sqlite3.Row) -> Job:
    data: dict[str, Any] = dict(row)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name] or "{}")
    for name in _PATH_FIELDS:
        data[name] = Path(data[name]) if data[name] else None
    data["sandbox"] = bool(data["sandbox"])
    return Job(**data)


# --- live progress ---------------------------------------------------------------------------


class LiveProgress:
    """What the progress page shows while a job runs; updated from the ordering threads."""

    COUNTERS = ("total", "done", "provisioned", "failed", "retries", "throttled")

    def __init__(self, total: int) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = dict.fromkeys(self.COUNTERS, 0)
        self.counts["total"] = total
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ROWS)
        self.errors: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS)
        self._seen: set[int] = set()

    def update(self, progress: object) -> None:
        """The `on_progress` callback of `run_file`."""
        with self._lock:
            for name in self.COUNTERS:
                value = getattr(progress, name, None)
                if isinstance(value, int):
                    self.counts[name] = value
            for result in _finished_rows(progress):
                self._add_row(result)

    def _add_row(self, result: RowResult) -> None:
        if result.index in self._seen:
            return
        self._seen.add(result.index)
        row = row_view(result)
        self.recent.appendleft(row)
        if result.error or result.status in (Status.FAILED, Status.INVALID):
            self.errors.appendleft(row)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        with self._lock:
            return {
                **self.counts,
                "recent": list(self.recent),
                "errors": list(self.errors),
            }


def _finished_rows(progress: object) -> list[RowResult]:
    """The row that just finished, when the runner reports it with its progress."""
    last = getattr(progress, "last", None)
    return [last] if isinstance(last, RowResult) else []


def planning_api(job: Job) -> Api:
    """Where a job's plan says its orders go (nothing is sent while planning)."""
    key = sandbox_key(job) if job.sandbox else None
    return Api(url=job.api_url or DEFAULT_API_URL, token="", sandbox=job.sandbox, key=key)


def sandbox_key(job: Job) -> str:
    """What the journal keys a sandbox job's numbers by, whatever port its sandbox is served
    on: one API across the job's runs and server restarts, so a resumed run finds what an
    earlier one bought, and they are released together."""
    return f"sandbox://{job.id}/v3/api"


def job_plan(job: Job, options: OrderOptions | None = None) -> Plan:
    """The plan of the job's next run from the file and the journal alone (nothing is sent):
    what the review and the results page count. The confirm page lists the account too
    (`account_plan`).
    """
    checked, config = _next_run(job, options)
    return plan_run(checked, config=config, api=planning_api(job))


def account_plan(
    job: Job, options: OrderOptions | None = None, *, sandbox: SandboxConfig | None = None
) -> Plan:
    """The plan of the job's next run as the run itself will make it: `pipeline.plan_run`
    with every group the sheet orders into listed (read-only), so that a name already in the
    account is not counted as to buy. ``sandbox``: how a sandbox job's sandbox behaves.

    Raises `ListingFailed` or `TokenRejected` when the account cannot be listed.
    """
    checked, config = _next_run(job, options)
    with job_api(job, sandbox) as api:
        return plan_run(checked, config=config, api=api)


def _next_run(job: Job, options: OrderOptions | None) -> tuple[Checked, RunConfig]:
    """The rows of the job's next run, and its config.

    A run that stopped early or failed is planned from its results workbook, whose result
    columns show the numbers already bought: the plan counts only what is left to buy.
    """
    config = job_config(job, options)
    resumed = job.resumable and job.output_path is not None and job.output_path.exists()
    source = job.output_path if resumed and job.output_path else job.input_path
    checked = check_file(source, config=config)
    if resumed and job.sandbox:
        checked = _sandbox_owned(checked)
    return checked, config


def _sandbox_owned(checked: Checked) -> Checked:
    """Rows a sandbox job's results show as ``provisioned (sandbox)``, counted as owned.

    The mark keeps a sandbox number from counting as bought anywhere else; but this server's
    own sandbox holds them, and its next run of the job will not order them again.
    """

    def unmarked(row: CheckedRow) -> CheckedRow:
        previous = row.previous
        if previous is None or not previous.status.endswith(SANDBOX_MARK):
            return row
        status = previous.status.removesuffix(SANDBOX_MARK)
        return replace(row, previous=replace(previous, status=status))

    return replace(checked, rows=tuple(unmarked(row) for row in checked.rows))


def job_config(job: Job, options: OrderOptions | None = None) -> RunConfig:
    """How a job reads, checks and orders: the same config for its review, its plan and its
    run (``options``: the order form's, else the job's own)."""
    base = RunConfig(group_id=job.group_id, input_name=job.original_name, journal=job.journal_path)
    return (options or OrderOptions.from_json(job.options)).config(base)


@contextmanager
def job_api(job: Job, config: SandboxConfig | None = None) -> Iterator[Api]:
    """The job's API: for a sandbox job its own sandbox, whose numbers are kept in a file
    beside the job's journal (so they are still there to release, or to finish the order,
    after the job), and which the journal keys by `sandbox_key`, not by its port.
    ``config``: how that sandbox behaves otherwise (e.g. its faults)."""
    if not job.sandbox:
        yield Api.from_environment(url=job.api_url)
        return
    from batchprov.sandbox import SandboxConfig, serve_in_thread

    state = job.journal_path.with_name(f"{job.id}.sandbox.sqlite")
    with serve_in_thread(replace(config or SandboxConfig(), state_path=state)) as server:
        yield replace(server.api(), key=sandbox_key(job))


def new_job(
    *,
    job_id: str,
    original_name: str,
    input_path: Path,
    group_id: int | None,
    sandbox: bool,
    api_url: str | None,
    journal_path: Path,
    review: Mapping[str, Any],
) -> Job:
    """A freshly checked job."""
    return Job(
        id=job_id,
        created=now_iso(),
        original_name=original_name,
        input_path=input_path,
        group_id=group_id,
        status=CHECKED,
        sandbox=sandbox,
        api_url=api_url,
        journal_path=journal_path,
        counts=dict(review.get("counts", {})),
        review=dict(review),
    )


def new_id() -> str:
    """A random job id, also the stored input's file name."""
    return uuid.uuid4().hex
