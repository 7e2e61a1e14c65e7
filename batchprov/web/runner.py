"""The thread that orders confirmed jobs, one at a time, through `pipeline.run_file`.

A job cut short by a server shutdown stays `running` in its record and is run again at the
next start: rows the journal shows as bought are not bought twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchprov.clock import now_iso
from batchprov.errors import BatchprovError
from batchprov.pipeline import run_file
from batchprov.plan import Plan
from batchprov.report import Report
from batchprov.web.checks import Confirmed, Promise
from batchprov.web.jobs import (
    ACTIVE,
    DONE,
    FAILED,
    ORDERABLE,
    RUNNING,
    STOPPING,
    Job,
    JobStore,
    LiveProgress,
    job_api,
    job_config,
    job_plan,
)
from batchprov.web.views import result_view, scrub

if TYPE_CHECKING:
    from batchprov.sandbox import SandboxConfig

log = logging.getLogger("batchprov.web")


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
            live = LiveProgress(_total(job))
        # Jobs run one at a time: say so rather than show a bar that does not move.
        return {**live.snapshot(), "queued": job.status in ACTIVE and current != job.id}

    def _enqueue(self, job: Job) -> None:
        """Give the run a fresh stop event, then queue it (an earlier run's event is set)."""
        with self._lock:
            stop = threading.Event()
            self._stops[job.id] = stop
            self._live[job.id] = LiveProgress(_total(job))
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
        promise = Promise(Confirmed.from_json(job.confirmed))
        try:
            with job_api(job, self.sandbox_config) as api:
                report = run_file(
                    job.input_path,
                    self.results_dir / f"{job.id}.results.xlsx",
                    config=job_config(job),
                    api=api,
                    confirm=_confirmed,
                    on_plan=promise.check,  # buys for the confirmed rows only
                    on_progress=live.update,
                    stop=stop,
                )
        except BatchprovError as exc:
            self._finish_failed(job, scrub(str(exc), job))
        except Exception:
            log.exception("job %s failed", job_id)
            self._finish_failed(job, UNEXPECTED)
        else:
            self._finish_done(job, report, promise)
        finally:
            if promise.confirmed is not None and promise.seen is not None:
                kept = replace(promise.confirmed, fresh=False)  # held to once
                self.store.update(job_id, confirmed=kept.as_json())

    def _finish_done(self, job: Job, report: Report, promise: Promise) -> None:
        current = self.store.get(job.id)
        if self._closing.is_set() and current is not None and current.status == RUNNING:
            # Cut short by a server shutdown, not by the user: resume at the next start.
            return
        result = result_view(report, job)
        result["stopped_by_user"] = current is not None and current.status == STOPPING
        result["account_note"] = promise.note()
        values: dict[str, Any] = {
            "status": DONE,
            "counts": report.counts(),
            "result": result,
            # A run that could not vouch for the earlier results left them: they stay shown.
            "output_path": report.output_path or (current.output_path if current else None),
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


def _total(job: Job) -> int:
    """The rows the progress bar counts before the run says: the confirmed count."""
    confirmed = Confirmed.from_json(job.confirmed)
    return confirmed.count if confirmed is not None else job.to_order


def _confirmed(plan: Plan) -> bool:
    """The user confirmed on the page before the job was queued."""
    return True
