"""`history`: the journal's runs, and one run's purchases as an audit workbook.

The audit workbook lists every number the run bought, updated or released, and every row it
tried and failed, in batchprov's input layout rebuilt from the request each attempt sent, with
the result columns filled and the exact request body beside it; its Summary sheet carries the
run's facts (when, who, input and SHA-256, API). Like every output it is a valid input, and
running it orders nothing it shows as bought.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from batchprov._version import __version__
from batchprov.change.route import ROUTE_FIELDS, row_fields
from batchprov.config import Environment
from batchprov.errors import OptionError, translated
from batchprov.models import RowResult, Status, Table
from batchprov.order.changes import ChangeState, change_key
from batchprov.order.journal import Item, Journal
from batchprov.order.runlog import BOUGHT_OUTCOMES, RunRecord, read_runs
from batchprov.report import RunInfo
from batchprov.write.output import write_output

__all__ = ["AUDIT_HEADERS", "find_run", "read_history", "write_audit"]

AUDIT_HEADERS = (
    "name",
    "group_id",
    "match_type",
    "local_to_number",
    "city",
    "state",
    "number_match_filter",
    *ROUTE_FIELDS,
)
_REQUEST_FIELDS = ("match_type", "local_to_number", "city", "state", "number_match_filter")


def read_history(journal: str | Path | None = None) -> list[RunRecord]:
    """Every run of the journal (default: the user's), oldest first."""
    path = _path(journal)
    if not path.exists():  # nothing ran yet: do not create a journal just to say so
        return []
    try:  # read-only and without the lock, so a run in progress does not stop it
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return read_runs(db)
    except sqlite3.OperationalError:  # a journal made by an older version: migrate it first
        with translated(journal=path), Journal.open(path) as jr:
            return jr.runs()


def find_run(jr: Journal, run_id: str) -> RunRecord:
    """The run whose id is (or starts with) ``run_id``; `OptionError` when not exactly one."""
    runs = jr.runs(run_id.strip())
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise OptionError(f"The journal has no run {run_id!r} (batchprov history lists them).")
    raise OptionError(f"{len(runs)} runs start with {run_id!r}; give more of the run id.")


@dataclass(frozen=True, slots=True)
class _Line:
    fields: dict[str, str]
    result: RowResult
    body: str


def write_audit(run_id: str, out: str | Path, *, journal: str | Path | None = None) -> Path:
    """Write one run's purchases, updates and releases as an audit workbook (or ``.csv``)."""
    path, out = _path(journal), Path(out)
    with translated(journal=path), Journal.open(path) as jr:
        run = find_run(jr, run_id)
        lines = _purchases(jr, run.run_id) + _changes(jr, run.run_id)
    lines = [_Line(ln.fields, _indexed(ln.result, i), ln.body) for i, ln in enumerate(lines)]
    frame = pd.DataFrame(
        [[ln.fields.get(h, "") for h in AUDIT_HEADERS] for ln in lines],
        columns=list(AUDIT_HEADERS),
        dtype=object,
    )
    table = Table(
        path=out.with_name(f".{out.stem}.audit"),  # no input file: the journal is the input
        format="csv",
        sheet="Audit",
        headers=AUDIT_HEADERS,
        columns=tuple(range(1, len(AUDIT_HEADERS) + 1)),
        header_row=1,
        frame=frame,
        excel_rows=tuple(range(2, len(lines) + 2)),
    )
    info = RunInfo(
        mode=f"audit of {run.kind} {run.run_id}",
        input_name=run.input_name or "",
        input_sha256=run.input_sha256 or "",
        api_url=run.api_url,
        sandbox=False,
        started_at=run.started_at,
        ended_at=run.ended_at or run.started_at,
        tool_version=run.tool_version or __version__,
        stopped_reason=None if run.outcome in (None, "finished") else run.outcome,
    )
    bodies = {"Request Body": {ln.result.index: ln.body for ln in lines if ln.body}}
    write_output(
        table,
        [ln.result for ln in lines],
        [],
        info,
        out,
        extra_columns=("Request Body",),
        extra_values=bodies,
    )
    return out


def _purchases(jr: Journal, run_id: str) -> list[_Line]:
    """One line per item the run attempted: its last attempt in the run decides the status."""
    last: dict[str, tuple[Item, str, str | None, str | None]] = {}
    tries: dict[str, int] = {}
    for item, sent_at, outcome, detail in jr.run_attempts(run_id):
        last[item.key] = (item, sent_at, outcome, detail)
        tries[item.key] = tries.get(item.key, 0) + 1
    # The number each item's attempt bought in this run (its item may hold another one now).
    numbers = {item.key: number_id for item, number_id in jr.run_purchases(run_id)}
    lines = []
    for key, (item, _sent_at, outcome, detail) in last.items():
        bought = outcome in BOUGHT_OUTCOMES
        number_id = numbers.get(key)
        holds = bought and number_id is not None and item.number_id == number_id
        status = Status.PROVISIONED if bought else Status.FAILED
        phone = item.phone if holds else None
        if bought and not holds:
            status = Status.RELEASED  # bought by this run, released since
            change = jr.get_change(change_key("release", item.api_url, number_id or ""))
            phone = change.phone if change is not None else None
        result = RowResult(
            index=0,
            excel_row=0,
            status=status,
            match_type=_request(item.sent or item.payload).get("match_type") or None,
            tracking_number=phone,
            number_id=number_id if bought else None,
            route_id=item.route_id if holds else None,
            assigned_name=item.actual_name if holds else None,
            error=None if bought else (detail or outcome or "no answer recorded"),
            attempts=tries[key],
            provisioned_at=item.provisioned_at if holds else None,
        )
        lines.append(_Line(_fields(item), result, item.sent or item.payload))
    return lines


def _changes(jr: Journal, run_id: str) -> list[_Line]:
    """One line per update or release the run made (or tried)."""
    lines = []
    for change in jr.changes(run_id=run_id):
        item = jr.get(change.item_key) if change.item_key else None
        done = change.state is ChangeState.DONE
        status = Status.FAILED
        if done:
            status = Status.RELEASED if change.kind == "release" else Status.UPDATED
        fields = _fields(item) if item else {"name": change.name or ""}
        fields["group_id"] = str(change.group_id or fields.get("group_id", ""))
        changed = "; ".join(f"{f}: {a or '(none)'} → {b or '(none)'}" for f, a, b in change.fields)
        result = RowResult(
            index=0,
            excel_row=0,
            status=status,
            tracking_number=change.phone,
            number_id=change.number_id,
            assigned_name=change.name,
            error=None if done else (change.detail or str(change.state)),
            warnings=(changed,) if changed else (),
            attempts=change.attempts,
            provisioned_at=change.finished_at,
        )
        lines.append(_Line(fields, result, change.body or ""))
    return lines


def _fields(item: Item) -> dict[str, str]:
    """The input columns of an item, rebuilt from the request it sent."""
    body = item.sent or item.payload
    request = _request(body)
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    fields = {"name": item.name, "group_id": str(item.group_id)}
    fields.update({f: str(request.get(f) or "") for f in _REQUEST_FIELDS})
    fields.update(row_fields(data if isinstance(data, dict) else None))
    return fields


def _request(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    request = data.get("phone_number_request") if isinstance(data, dict) else None
    return request if isinstance(request, dict) else {}


def _indexed(result: RowResult, index: int) -> RowResult:
    from dataclasses import replace

    return replace(result, index=index, excel_row=index + 2)


def _path(journal: str | Path | None) -> Path:
    return Path(journal) if journal else Environment.read().default_journal()
