"""The journal's record of runs: who ran what, against which API, and what came of it.

A run is one call of the run engine (an order) or of a release. Its start records the OS user,
the input's name and SHA-256 and the API URL; its end the outcome and the rows per status.
Numbers bought, updated and released are counted from the attempts and changes that name the
run, so even a run that was killed before its end shows what it did.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RunMeta", "RunRecord", "migrate_runs", "read_runs"]

#: Columns this version adds to the ``run`` table of an older journal.
RUN_COLUMNS = (
    ("kind", "TEXT"),
    ("os_user", "TEXT"),
    ("input_name", "TEXT"),
    ("input_sha256", "TEXT"),
    ("api_url", "TEXT"),
    ("counts", "TEXT"),
    ("bought", "INTEGER"),
    ("updated", "INTEGER"),
    ("released", "INTEGER"),
)
#: Attempt outcomes that mean a number was bought (an answer, or adopted by a reconcile).
BOUGHT_OUTCOMES = ("answer", "reconcile")


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What a run records at its start (all optional: a test or an old caller may omit it)."""

    kind: str = "run"  # "run" (orders, maybe updates) or "release"
    os_user: str | None = None
    input_name: str | None = None
    input_sha256: str | None = None
    api_url: str | None = None
    #: Rows that never reach the engine (invalid, provisioned per the input), by status.
    skipped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as `batchprov history` shows it."""

    run_id: str
    kind: str
    started_at: str
    ended_at: str | None
    outcome: str | None
    tool_version: str | None
    os_user: str | None
    input_name: str | None
    input_sha256: str | None
    api_url: str | None
    counts: dict[str, int]
    bought: int
    updated: int
    released: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (``history --json``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def migrate_runs(conn: sqlite3.Connection) -> None:
    """Add the run columns a journal made by an older version lacks."""
    names = {str(info[1]) for info in conn.execute("PRAGMA table_info(run)")}
    for column, kind in RUN_COLUMNS:
        if column not in names:
            conn.execute(f"ALTER TABLE run ADD COLUMN {column} {kind}")


def record_start(
    conn: sqlite3.Connection, run_id: str, started_at: str, tool_version: str, meta: RunMeta
) -> None:
    conn.execute(
        "INSERT INTO run(run_id, started_at, tool_version, kind, os_user, input_name,"
        " input_sha256, api_url, counts) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            run_id,
            started_at,
            tool_version,
            meta.kind,
            meta.os_user,
            meta.input_name,
            meta.input_sha256,
            meta.api_url,
            json.dumps(dict(meta.skipped)),
        ),
    )


def record_end(
    conn: sqlite3.Connection,
    run_id: str,
    ended_at: str,
    outcome: str,
    counts: Mapping[str, int] | None,
) -> None:
    """The end of a run: outcome, rows per status (added to those skipped), and what it did."""
    row = conn.execute("SELECT counts FROM run WHERE run_id=?", (run_id,)).fetchone()
    total = _counts(row[0] if row else None)
    for status, n in (counts or {}).items():
        total[status] = total.get(status, 0) + n
    bought, updated, released = _did(conn, run_id)
    conn.execute(
        "UPDATE run SET ended_at=?, outcome=?, counts=?, bought=?, updated=?, released=?"
        " WHERE run_id=?",
        (ended_at, outcome, json.dumps(total), bought, updated, released, run_id),
    )


def read_runs(conn: sqlite3.Connection, run_id: str | None = None) -> list[RunRecord]:
    """Every run, oldest first (or the one named; a unique prefix of its id is enough)."""
    sql = (
        "SELECT run_id, kind, started_at, ended_at, outcome, tool_version, os_user, input_name,"
        " input_sha256, api_url, counts FROM run"
    )
    args: tuple[str, ...] = ()
    if run_id is not None:
        sql += " WHERE run_id LIKE ? ESCAPE '\\'"
        args = (run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)
    records = []
    for row in conn.execute(sql + " ORDER BY started_at, rowid", args):
        rid = str(row[0])
        bought, updated, released = _did(conn, rid)
        records.append(
            RunRecord(
                run_id=rid,
                kind=str(row[1] or "run"),
                started_at=str(row[2]),
                ended_at=_opt(row[3]),
                outcome=_opt(row[4]),
                tool_version=_opt(row[5]),
                os_user=_opt(row[6]),
                input_name=_opt(row[7]),
                input_sha256=_opt(row[8]),
                api_url=_opt(row[9]),
                counts=_counts(row[10]),
                bought=bought,
                updated=updated,
                released=released,
            )
        )
    return records


def _did(conn: sqlite3.Connection, run_id: str) -> tuple[int, int, int]:
    """(bought, updated, released) by the run, from its attempts and changes."""
    marks = ",".join("?" * len(BOUGHT_OUTCOMES))
    bought = conn.execute(
        f"SELECT COUNT(*) FROM attempt WHERE run_id=? AND outcome IN ({marks})",
        (run_id, *BOUGHT_OUTCOMES),
    ).fetchone()[0]
    done = dict(
        conn.execute(
            "SELECT kind, COUNT(*) FROM change WHERE run_id=? AND state='DONE' GROUP BY kind",
            (run_id,),
        ).fetchall()
    )
    return int(bought), int(done.get("update", 0)), int(done.get("release", 0))


def _counts(text: object) -> dict[str, int]:
    try:
        data = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
