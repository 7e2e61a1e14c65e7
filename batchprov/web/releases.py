"""Releasing a finished job's numbers from the web page, and the journal's history.

The page shows the same plan as ``batchprov release`` (count, names, numbers) and asks; the
release runs against the job's own journal and API, journaled like an order, and the job's
results workbook becomes the released one. A sandbox job keeps its sandbox's numbers in a
file beside its journal, so they are still there to release after the job.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from batchprov.errors import BatchprovError
from batchprov.lifecycle.history import read_history
from batchprov.lifecycle.release import plan_release, release_numbers
from batchprov.models import OWNED
from batchprov.order.runlog import RunRecord
from batchprov.report import Report
from batchprov.web.jobs import DONE, Job, job_api, planning_api

#: Runs the jobs page lists, newest first.
HISTORY_ROWS = 50


def can_release(job: Job) -> bool:
    """A finished job whose results show numbers bought."""
    owned = {s.value for s in OWNED}
    has_numbers = any(job.counts.get(s, 0) for s in owned)
    return job.status == DONE and job.output_path is not None and has_numbers


def release_view(job: Job) -> dict[str, Any]:
    """What the confirmation shows: how many numbers, and each one's number, name and group."""
    assert job.output_path is not None
    plan = plan_release(
        job.output_path, journal=job.journal_path, api=planning_api(job) if job.sandbox else None
    )
    return {
        "count": len(plan.to_release),
        "numbers": [
            {"phone": c.phone, "name": c.name, "group": c.group_id or ""} for c in plan.to_release
        ],
        "foreign": plan.foreign,
        "already": plan.already,
    }


def release_job(job: Job, results_dir: Path) -> Report:
    """Release the job's numbers (confirmed on the page) and write the released workbook."""
    assert job.output_path is not None
    out = results_dir / f"{job.id}.released.xlsx"
    with job_api(job) as api:
        return release_numbers(
            job.output_path, out, journal=job.journal_path, api=api, confirm=_confirmed
        )


def _confirmed(plan: object) -> bool:
    """The user confirmed on the page before the release was sent."""
    return True


def history(journals: list[Path]) -> list[RunRecord]:
    """The runs of these journals, newest first (a journal that cannot be read is skipped)."""
    runs: list[RunRecord] = []
    for path in journals:
        with contextlib.suppress(BatchprovError, sqlite3.Error, OSError):  # show the page anyway
            runs += read_history(path)
    runs.sort(key=lambda r: r.started_at, reverse=True)
    return runs[:HISTORY_ROWS]
