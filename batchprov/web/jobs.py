"""Web jobs: their records in SQLite, their live progress, and the thread that runs them.

A job is one uploaded file: checked at upload (`checked`), ordered in the background once the
user confirms (`running`, `stopping`), then `done` or `failed`. Orders go through
`pipeline.run_file` with a journal, so a job cut short by a server restart is simply run again
on the next start: rows the journal shows as bought are not bought twice.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchprov.clock import now_iso
from batchprov.config import DEFAULT_API_URL, Api, Environment, RunConfig
from batchprov.errors import BatchprovError
from batchprov.models import CheckedRow, Issue, RowResult, Severity, Status
from batchprov.numbering.area import locality_of
from batchprov.pipeline import Checked, check_file, plan_run, run_file
from batchprov.plan import Plan, format_duration
from batchprov.redact import Redactor, display_url
from batchprov.report import Report
from batchprov.web.orderform import OrderOptions
from batchprov.wording import SANDBOX_MARK

if TYPE_CHECKING:
    from batchprov.sandbox import SandboxConfig

log = logging.getLogger("batchprov.web")

#: Job statuses, in the order a job goes through them.
CHECKED, RUNNING, STOPPING, DONE, FAILED = "checked", "running", "stopping", "done", "failed"
ACTIVE = frozenset({RUNNING, STOPPING})
#: A failed job may be tried again, a stopped one finished: the journal keeps either from
#: buying anything twice.
ORDERABLE = (CHECKED, FAILED)
#: How much of a sheet is kept for display; the annotated workbook always holds everything.
#: The review table shows the first PREVIEW_ROWS rows and every row with a problem, up to
#: MAX_REVIEW_ROWS rows in all.
PREVIEW_ROWS = 100
MAX_REVIEW_ROWS = 500
MAX_ISSUES_SHOWN = 1000
MAX_RESULT_ROWS = 1000
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
    edits INTEGER NOT NULL DEFAULT 0
)
"""
#: Columns added since the first jobs table, added to an older one when it is opened.
_ADDED = {
    "options": "options TEXT NOT NULL DEFAULT '{}'",
    "edits": "edits INTEGER NOT NULL DEFAULT 0",
}
_JSON_FIELDS = frozenset({"counts", "review", "result", "options"})
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

    @property
    def to_order(self) -> int:
        """Rows the review found ready to order."""
        return int(self.review.get("plan", {}).get("to_order", 0))

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


# --- the worker ------------------------------------------------------------------------------


class JobRunner:
    """Runs confirmed jobs one at a time in a background thread.

    One at a time because every real-API job shares one journal, which admits one run at once.
    """

    def __init__(
        self, store: JobStore, results_dir: Path, sandbox_config: SandboxConfig | None = None
    ) -> None:
        self.store = store
        self.results_dir = results_dir
        self.sandbox_config = sandbox_config  # how sandbox jobs' sandboxes behave
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stops: dict[str, threading.Event] = {}
        self._live: dict[str, LiveProgress] = {}
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: str | None = None  # the job being ordered now
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and resume the jobs a previous server left running."""
        self._ensure_worker()
        for job in self.store.with_status(tuple(ACTIVE)):
            log.warning("resuming job %s (%s) through its journal", job.id, job.status)
            self._enqueue(job)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the running job (in-flight requests finish) and wait for the worker.

        A job cut short this way stays `running` in its record, so the next start resumes it.
        """
        self._closing.set()
        with self._lock:
            for event in self._stops.values():
                event.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="batchprov-jobs", daemon=True
                )
                self._thread.start()

    def submit(self, job: Job) -> bool:
        """Queue a job for ordering; False when it is already on its way or done."""
        before = (*ORDERABLE, DONE) if job.stopped_reason else ORDERABLE
        if not self.store.transition(job.id, before, RUNNING):
            return False
        self._ensure_worker()
        self._enqueue(job)
        return True

    def stop(self, job_id: str) -> bool:
        """Ask a running job to stop, like Ctrl-C: no new requests, in-flight ones finish."""
        if not self.store.transition(job_id, (RUNNING,), STOPPING):
            return False
        with self._lock:
            event = self._stops.setdefault(job_id, threading.Event())
        event.set()
        return True

    def progress(self, job: Job) -> dict[str, Any]:
        """Live counters and rows of a job (zeros before it starts)."""
        with self._lock:
            live = self._live.get(job.id)
            current = self._current
        if live is None:
            live = LiveProgress(job.to_order)
        # Jobs run one at a time: say so rather than show a bar that does not move.
        return {**live.snapshot(), "queued": job.status in ACTIVE and current != job.id}

    def _enqueue(self, job: Job) -> None:
        """Give the run a fresh stop event, then queue it (an earlier run's event is set)."""
        with self._lock:
            stop = threading.Event()
            self._stops[job.id] = stop
            self._live[job.id] = LiveProgress(job.to_order)
        # Read after replacing the event: a Stop that came in meanwhile is not lost.
        current = self.store.get(job.id)
        if current is not None and current.status == STOPPING:
            stop.set()
        self._queue.put(job.id)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            if self._closing.is_set():
                return
            with self._lock:
                self._current = job_id
            try:
                self._run(job_id)
            except Exception:  # the worker must survive anything one job does
                log.exception("job %s: unexpected failure", job_id)
            finally:
                with self._lock:
                    self._current = None

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None or job.status not in ACTIVE:
            return
        with self._lock:
            stop = self._stops[job_id]
            live = self._live[job_id]
        self.store.update(job_id, started=job.started or now_iso(), error=None, stopped_reason=None)
        try:
            with job_api(job, self.sandbox_config) as api:
                report = run_file(
                    job.input_path,
                    self.results_dir / f"{job.id}.results.xlsx",
                    config=job_config(job),
                    api=api,
                    confirm=_confirmed,
                    on_progress=live.update,
                    stop=stop,
                )
        except BatchprovError as exc:
            self._finish_failed(job, scrub(str(exc), job))
        except Exception:
            log.exception("job %s failed", job_id)
            self._finish_failed(job, UNEXPECTED)
        else:
            self._finish_done(job, report)

    def _finish_done(self, job: Job, report: Report) -> None:
        current = self.store.get(job.id)
        if self._closing.is_set() and current is not None and current.status == RUNNING:
            # Cut short by a server shutdown, not by the user: resume at the next start.
            return
        result = result_view(report, job)
        result["stopped_by_user"] = current is not None and current.status == STOPPING
        values: dict[str, Any] = {
            "status": DONE,
            "counts": report.counts(),
            "result": result,
            "output_path": report.output_path,
            "stopped_reason": report.info.stopped_reason,
            "ended": now_iso(),
        }
        if report.info.stopped_reason and current is not None:
            # What "Finish the order" will buy, counted once here rather than on every view.
            try:
                result["remaining"] = job_plan(replace(current, **values)).to_order
            except BatchprovError as exc:
                log.warning("job %s: could not plan the rest of the order: %s", job.id, exc)
        self.store.update(job.id, **values)

    def _finish_failed(self, job: Job, message: str) -> None:
        self.store.update(job.id, status=FAILED, error=message, ended=now_iso())


UNEXPECTED = (
    "Something went wrong inside batchprov while ordering. Numbers already bought are kept in "
    "the journal and will not be bought again; ask whoever runs batchprov to look at its log."
)


def planning_api(job: Job) -> Api:
    """Where a job's plan says its orders go (nothing is sent while planning)."""
    return Api(url=job.api_url or DEFAULT_API_URL, token="", sandbox=job.sandbox)


def job_plan(job: Job, options: OrderOptions | None = None) -> Plan:
    """The plan of the job's next run, from `pipeline.plan_run`, as the confirm page shows it.

    A run that stopped early or failed is planned from its results workbook, whose result
    columns show the numbers already bought: the plan counts only what is left to buy.
    """
    config = job_config(job, options)
    resumed = job.resumable and job.output_path is not None and job.output_path.exists()
    source = job.output_path if resumed and job.output_path else job.input_path
    checked = check_file(source, config=config)
    if resumed and job.sandbox:
        checked = _sandbox_owned(checked)
    return plan_run(checked, config=config, api=planning_api(job))


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
    after the job). ``config``: how that sandbox behaves otherwise (e.g. its faults)."""
    if not job.sandbox:
        yield Api.from_environment(url=job.api_url)
        return
    from batchprov.sandbox import SandboxConfig, serve_in_thread

    state = job.journal_path.with_name(f"{job.id}.sandbox.sqlite")
    with serve_in_thread(replace(config or SandboxConfig(), state_path=state)) as server:
        yield server.api()


def _confirmed(plan: Plan) -> bool:
    """The user confirmed on the page before the job was queued."""
    return True


def scrub(message: str, job: Job | None = None) -> str:
    """A message fit for the page: no API token or URL credentials, no stored file names."""
    redactor = Redactor.of(Environment.read().token, job.api_url if job else None)
    message = redactor.scrub(message)
    if job is not None:
        message = message.replace(str(job.journal_path), "the journal")
        message = message.replace(str(job.input_path), job.original_name)
        message = message.replace(job.input_path.name, job.original_name)
    return message


# --- what the pages show ---------------------------------------------------------------------


def public_url(url: str | None) -> str | None:
    """An API URL without any user:password part, for display."""
    return display_url(url) if url else url


def review_view(checked: Checked, plan: Plan) -> dict[str, Any]:
    """Everything the review page shows about a checked file and its plan, as JSON-ready data."""
    statuses = [_check_status(row.order is not None, row.owned) for row in checked.rows]
    kinds = [row.match_type.value if row.match_type else "unknown" for row in checked.rows]
    errors = [i for i in checked.issues if i.severity is Severity.ERROR]
    warnings = [i for i in checked.issues if i.severity is Severity.WARNING]
    names, numbers = _names(checked), _column_numbers(checked)
    return {
        "rows": len(checked.rows),
        "sheet": checked.table.sheet,
        "counts": dict(Counter(statuses)),
        "matrix": _matrix(kinds, statuses),
        "plan": {
            "to_order": plan.to_order,
            "already": plan.already,
            "invalid": plan.invalid,
            "per_group": [list(g) for g in plan.per_group],
            "estimate": estimate_text(plan.estimated_seconds),
        },
        "errors": [_issue_view(i, names, numbers) for i in errors[:MAX_ISSUES_SHOWN]],
        "errors_total": len(errors),
        "warnings": [_issue_view(i, names, numbers) for i in warnings[:MAX_ISSUES_SHOWN]],
        "warnings_total": len(warnings),
        "preview": _preview(checked, statuses),
    }


def estimate_text(seconds: float) -> str:
    """`about 3 min 5 s`; short runs are not worth a number."""
    return "a few seconds" if seconds < 10 else f"about {format_duration(seconds)}"


def _check_status(valid: bool, owned: bool) -> str:
    if owned:
        return Status.ALREADY_PROVISIONED.value
    return Status.VALID.value if valid else Status.INVALID.value


def _matrix(kinds: Sequence[str], statuses: Sequence[str]) -> list[dict[str, Any]]:
    """Rows per match type and status, for the review's summary table."""
    counts = Counter(zip(kinds, statuses, strict=True))
    order = ["localtonumber", "localtocity", "tollfree", "unknown"]
    lines = []
    for kind in order:
        per = {s: counts[(kind, s)] for s in ("valid", "invalid", "already provisioned")}
        if any(per.values()):
            lines.append({"match_type": kind, **per, "total": sum(per.values())})
    return lines


def _names(checked: Checked) -> dict[int, str]:
    """Excel row → advertiser name, so that a problem names the advertiser it is about."""
    header = checked.columns.fields.get("name")
    if header is None:
        return {}
    column = checked.table.frame[header]
    return dict(zip(checked.table.excel_rows, map(str, column), strict=True))


def _column_numbers(checked: Checked) -> dict[str, int]:
    """Header → sheet column number: where an issue's cell is (absent columns have none)."""
    table = checked.table
    return dict(zip(table.headers, table.columns, strict=True))


def _issue_view(
    issue: Issue, names: Mapping[int, str], numbers: Mapping[str, int]
) -> dict[str, Any]:
    return {
        "row": issue.row,
        "name": names.get(issue.row, ""),
        "column": issue.column,
        "col": numbers.get(issue.column),
        "value": issue.value,
        "message": issue.message,
        "severity": issue.severity.value,
        "suggestion": issue.suggestion or "",
    }


def _preview(checked: Checked, statuses: Sequence[str]) -> dict[str, Any]:
    """The rows the review table shows: the first ones and every row with a problem (up to a
    limit), each cell with its problems and what the checker suggests instead."""
    table = checked.table
    numbers = _column_numbers(checked)
    shown = [
        p for p in range(len(table)) if p < PREVIEW_ROWS or table.excel_rows[p] in checked.by_row
    ]
    shown = shown[:MAX_REVIEW_ROWS]
    rows = []
    for position in shown:
        excel_row = table.excel_rows[position]
        issues = checked.by_row.get(excel_row, ())
        cells = []
        for header, value in zip(table.headers, table.frame.iloc[position].tolist(), strict=True):
            found = [_cell_issue(i) for i in issues if i.column == header]
            level = _level(found)
            cells.append(
                {"value": str(value), "col": numbers[header], "issues": found, "level": level}
            )
        order = checked.rows[position].order
        rows.append(
            {
                "excel_row": excel_row,
                "status": statuses[position],
                "area": locality_of(order).text() if order else "",
                "cells": cells,
                "invalid": statuses[position] == Status.INVALID.value,
                # Where the row's problems are, for a table wider than the screen.
                "to_fix": [
                    {"col": c["col"], "header": h}
                    for c, h in zip(cells, table.headers, strict=True)
                    if c["level"] == "error"
                ],
            }
        )
    with_problems = sum(1 for p in range(len(table)) if table.excel_rows[p] in checked.by_row)
    return {
        "headers": list(table.headers),
        "rows": rows,
        "total": len(table),
        "with_problems": with_problems,
    }


def _cell_issue(issue: Issue) -> dict[str, str]:
    return {
        "message": issue.message,
        "severity": issue.severity.value,
        "suggestion": issue.suggestion or "",
    }


def _level(issues: Sequence[Mapping[str, str]]) -> str:
    """``error``, ``warning`` or '' for a cell: the worst of its problems."""
    severities = {i["severity"] for i in issues}
    if Severity.ERROR.value in severities:
        return "error"
    return "warning" if severities else ""


def result_view(report: Report, job: Job) -> dict[str, Any]:
    """What the result page shows after a run."""
    info = report.info
    rows = sorted(report.results, key=_problem_first)
    return {
        "rows": len(report.results),
        "counts": report.counts(),
        "sandbox": info.sandbox,
        "api_url": public_url(info.api_url),
        "started": info.started_at,
        "ended": info.ended_at,
        "exit_code": report.exit_code,
        "issues": len(report.issues),
        "results": [row_view(r, job) for r in rows[:MAX_RESULT_ROWS]],
    }


def _problem_first(result: RowResult) -> tuple[int, int]:
    rank = {Status.FAILED: 0, Status.INVALID: 1, Status.NOT_ATTEMPTED: 2}
    return rank.get(result.status, 3), result.excel_row


def row_view(result: RowResult, job: Job | None = None) -> dict[str, Any]:
    """One row's outcome for the pages."""
    error = scrub(result.error, job) if result.error else ""
    return {
        "excel_row": result.excel_row,
        "status": result.status.value,
        "match_type": result.match_type or "",
        "tracking_number": result.tracking_number or "",
        "assigned_name": result.assigned_name or "",
        "error": error,
        "warnings": " ".join(result.warnings),
    }


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
