"""The SQLite journal: every purchase attempt is written down before it is sent.

One item per (API URL, group, casefolded trimmed name), never per row position, so a re-sorted
sheet finds its rows again. The protocol (docs/design.md §5.3):

* an attempt's intent (state INTENT) is committed, fsynced, before its POST goes out;
* its outcome is committed right after the answer: DONE (with the number), UNKNOWN (may have
  bought: reconcile before anything is re-sent), PENDING (provably not bought), FAILED, REVIEW;
* ``number_id`` is UNIQUE: one number can never satisfy two rows;
* each attempt keeps the body it sent: a row's fallbacks (`batchprov.numbering.fallback`) send other
  bodies under the same item, one attempt after another, never two at once;
* a group's existing numbers (the baseline) are recorded before our first POST to it, so a
  number that was there before is never taken for ours.

WAL with ``synchronous=FULL`` makes each commit survive a power cut; `Journal.group_commit` lets
calls that arrive together share one commit (the runner hands no answer back before it). A file lock
(``<journal>.lock``) keeps a second run off the journal for as long as one holds it.
The API token is never stored here.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import filelock

from batchprov.clock import now_iso
from batchprov.errors import JournalBusyError, JournalError
from batchprov.order import changes as change_table
from batchprov.order import runlog
from batchprov.order.changes import Change, ChangeState, change_key, read_change
from batchprov.order.client import Number
from batchprov.order.runlog import RunMeta, RunRecord
from batchprov.urls import normalise_url

SCHEMA = """
CREATE TABLE IF NOT EXISTS run(
  run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, tool_version TEXT,
  ended_at TEXT, outcome TEXT);
CREATE TABLE IF NOT EXISTS baseline_group(
  api_url TEXT NOT NULL, group_id INTEGER NOT NULL, taken_at TEXT NOT NULL,
  PRIMARY KEY(api_url, group_id));
CREATE TABLE IF NOT EXISTS baseline(
  api_url TEXT NOT NULL, group_id INTEGER NOT NULL, number_id TEXT NOT NULL, name TEXT,
  seen_at TEXT NOT NULL, PRIMARY KEY(api_url, group_id, number_id));
CREATE TABLE IF NOT EXISTS item(
  item_key TEXT PRIMARY KEY, api_url TEXT NOT NULL, group_id INTEGER NOT NULL,
  name TEXT NOT NULL, payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('PENDING','INTENT','UNKNOWN','DONE','FAILED','REVIEW')),
  intent_id TEXT, intent_at TEXT, intent_epoch REAL, attempts INTEGER NOT NULL DEFAULT 0,
  number_id TEXT UNIQUE, phone TEXT, actual_name TEXT, route_id TEXT, provisioned_at TEXT,
  resolved_by TEXT, last_error TEXT, review_numbers TEXT, updated_at TEXT NOT NULL,
  sent TEXT);
CREATE INDEX IF NOT EXISTS item_group ON item(api_url, group_id, state);
CREATE TABLE IF NOT EXISTS attempt(
  intent_id TEXT PRIMARY KEY, item_key TEXT NOT NULL REFERENCES item(item_key), run_id TEXT,
  sent_at TEXT NOT NULL, finished_at TEXT, outcome TEXT, http_status INTEGER, detail TEXT,
  payload TEXT, number_id TEXT);
"""


class State(StrEnum):
    """Where an item stands."""

    PENDING = "PENDING"  # not bought (never sent, or provably absent): may get a new intent
    INTENT = "INTENT"  # intent committed; the POST may be in flight
    UNKNOWN = "UNKNOWN"  # sent, outcome unknown: reconcile before anything else
    DONE = "DONE"  # owns a number
    FAILED = "FAILED"  # refused for good (or attempts exhausted)
    REVIEW = "REVIEW"  # several candidate numbers: a person must look


UNRESOLVED = frozenset({State.INTENT, State.UNKNOWN})


@dataclass(frozen=True, slots=True)
class Item:
    """One journal item: a (API URL, group, name) and what became of it."""

    key: str
    api_url: str
    group_id: int
    name: str
    payload: str
    state: State
    intent_id: str | None
    intent_epoch: float | None
    attempts: int
    number_id: str | None
    phone: str | None
    actual_name: str | None
    route_id: str | None
    provisioned_at: str | None
    resolved_by: str | None
    last_error: str | None
    review_numbers: str | None
    #: The body the latest attempt sent: ``payload``, or one of the row's fallbacks.
    sent: str | None = None

    @property
    def unresolved(self) -> bool:
        """True when an attempt's outcome is not known yet."""
        return self.state in UNRESOLVED


_ITEM_COLUMNS = (
    "item_key, api_url, group_id, name, payload, state, intent_id, intent_epoch, attempts, "
    "number_id, phone, actual_name, route_id, provisioned_at, resolved_by, last_error, "
    "review_numbers, sent"
)


#: Keys per ``IN (...)`` query: well under SQLite's limit on bound parameters.
_KEYS_PER_QUERY = 500


def item_key(api_url: str, group_id: int, name: str) -> str:
    """The item's key: API URL, group and casefolded trimmed name (never the row position)."""
    return f"{normalise_url(api_url)}|{group_id}|{name.strip().casefold()}"


class Journal:
    """The journal of one run (holding its lock) or of a query. Use ``Journal.open``."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: filelock.BaseFileLock) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self._grouped = False
        #: Inside a group: the error of a call that failed after writing (undoes the group).
        self._spoilt: BaseException | None = None
        #: Applied to every text an outcome stores (`redact` installs the run's secrets).
        self._scrub: Callable[[str], str] = str

    def redact(self, scrub: Callable[[str], str]) -> None:
        """Scrub every error text and answer field stored from now on with ``scrub``."""
        self._scrub = scrub

    @classmethod
    def open(cls, path: str | Path) -> Journal:
        """Open (or create) the journal and take its lock; `JournalBusyError` if held."""
        path = Path(path).expanduser()
        blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise JournalError(f"Cannot use the journal {path}: {blocked} is a file, not a folder.")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(f"{path}.lock", timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise JournalBusyError(
                f"Another batchprov run is using the journal {path}; wait for it to finish."
            ) from None
        try:
            conn = _connect(path)
        except BaseException:
            lock.release()
            raise
        return cls(path, conn, lock)

    def close(self) -> None:
        """Close the database and release the lock."""
        self._conn.close()
        self._lock.release()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    # runs ------------------------------------------------------------------------------

    def start_run(self, tool_version: str, meta: RunMeta | None = None) -> str:
        """Record the start of a run (who, what input, which API); return its id."""
        run_id = uuid.uuid4().hex
        with self._tx() as db:
            runlog.record_start(db, run_id, now_iso(), tool_version, meta or RunMeta())
        return run_id

    def end_run(
        self, run_id: str, outcome: str, *, counts: Mapping[str, int] | None = None
    ) -> None:
        """Record how a run ended and its rows per status (added to those it skipped)."""
        with self._tx() as db:
            runlog.record_end(db, run_id, now_iso(), outcome, counts)

    def runs(self, run_id: str | None = None) -> list[RunRecord]:
        """Every run, oldest first, or those whose id starts with ``run_id``."""
        return runlog.read_runs(self._conn, run_id)

    def run_attempts(self, run_id: str) -> list[tuple[Item, str, str | None, str | None]]:
        """(item, sent at, outcome, detail) of each attempt a run made, oldest first."""
        rows = self._conn.execute(
            "SELECT item_key, sent_at, outcome, detail FROM attempt WHERE run_id=? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        items = self.get_many(str(r[0]) for r in rows)
        return [(items[str(k)], str(at), _opt(o), _opt(d)) for k, at, o, d in rows if k in items]

    def run_purchases(self, run_id: str) -> list[tuple[Item, str | None]]:
        """(item, number id) of each attempt of the run that bought a number, oldest first.

        The number is the one that attempt bought, which its item may have lost since (to a
        release) and replaced (a later run bought again). ``None`` when the journal cannot
        tell: an attempt recorded before attempts kept their number, whose item has bought
        again since, or has no number now.
        """
        marks = ",".join("?" * len(runlog.BOUGHT_OUTCOMES))
        # Each item's latest purchase, grouped once (a correlated subquery scanned every
        # attempt per attempt: minutes for a run of 100k rows).
        rows = self._conn.execute(
            "SELECT a.item_key, a.number_id, a.rowid = m.latest FROM attempt a JOIN"
            " (SELECT item_key, MAX(rowid) AS latest FROM attempt"
            f" WHERE outcome IN ({marks}) GROUP BY item_key) m ON m.item_key = a.item_key"
            f" WHERE a.run_id=? AND a.outcome IN ({marks}) ORDER BY a.rowid",
            (*runlog.BOUGHT_OUTCOMES, run_id, *runlog.BOUGHT_OUTCOMES),
        ).fetchall()
        items = self.get_many(str(r[0]) for r in rows)
        found = []
        for key, number_id, latest in rows:
            item = items.get(str(key))
            if item is None:
                continue
            if number_id is None and latest:  # an older journal: the item's own, if any
                number_id = item.number_id or self._released_by(item.key)
            found.append((item, _opt(number_id)))
        return found

    def _released_by(self, key: str) -> str | None:
        """The number the item's latest release gave back, if any."""
        row = self._conn.execute(
            "SELECT number_id FROM change WHERE kind='release' AND state='DONE' AND item_key=?"
            " ORDER BY rowid DESC LIMIT 1",
            (key,),
        ).fetchone()
        return None if row is None else str(row[0])

    # item queries ----------------------------------------------------------------------

    def get(self, key: str) -> Item | None:
        """The item with this key, if any."""
        row = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM item WHERE item_key=?", (key,)
        ).fetchone()
        return _item(row) if row else None

    def lookup(self, api_url: str, group_id: int, name: str) -> Item | None:
        """The item for a row's (API URL, group, name), if the journal has one."""
        return self.get(item_key(api_url, group_id, name))

    def items(self, api_url: str | None = None, group_id: int | None = None) -> list[Item]:
        """Every item, optionally of one API URL and group."""
        sql, args = f"SELECT {_ITEM_COLUMNS} FROM item", list[object]()
        where = []
        if api_url is not None:
            where.append("api_url=?")
            args.append(normalise_url(api_url))
        if group_id is not None:
            where.append("group_id=?")
            args.append(group_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_item(r) for r in self._conn.execute(sql + " ORDER BY rowid", args)]

    def unresolved(self, api_url: str, group_id: int) -> list[Item]:
        """Items of a group whose last attempt's outcome is unknown (INTENT or UNKNOWN)."""
        return [i for i in self.items(api_url, group_id) if i.unresolved]

    def owned_ids(self, api_url: str, group_id: int) -> set[str]:
        """Number ids owned by DONE items of the group."""
        rows = self._conn.execute(
            "SELECT number_id FROM item WHERE api_url=? AND group_id=? AND number_id IS NOT NULL",
            (normalise_url(api_url), group_id),
        )
        return {r[0] for r in rows}

    # item changes ----------------------------------------------------------------------

    def ensure_item(self, api_url: str, group_id: int, name: str, payload: str) -> Item:
        """The row's item, created PENDING if the journal has none yet."""
        key = item_key(api_url, group_id, name)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO item(item_key, api_url, group_id, name, payload, state,"
                " updated_at) VALUES (?,?,?,?,?,'PENDING',?)",
                (key, normalise_url(api_url), group_id, name.strip(), payload, now_iso()),
            )
        return self._must(key)

    def ensure_items(self, api_url: str, rows: Iterable[tuple[int, str, str]]) -> dict[str, Item]:
        """`ensure_item` for many rows at once, in one transaction: {item key: item}.

        ``rows`` holds (group_id, name, payload). One commit instead of one per row keeps the
        planning of a 100k-row sheet to seconds.
        """
        url, stamp = normalise_url(api_url), now_iso()
        wanted = {item_key(url, gid, name): (gid, name, payload) for gid, name, payload in rows}
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO item(item_key, api_url, group_id, name, payload, state,"
                " updated_at) VALUES (?,?,?,?,?,'PENDING',?)",
                [
                    (key, url, gid, name.strip(), body, stamp)
                    for key, (gid, name, body) in wanted.items()
                ],
            )
        return self.get_many(wanted)

    def get_many(self, keys: Iterable[str]) -> dict[str, Item]:
        """The items with these keys (those the journal has), by key."""
        return _select_items(self._conn, keys)

    def reopen(self, key: str, payload: str) -> Item:
        """Make a FAILED or PENDING item orderable again with the row's current payload."""
        return self._update(
            key, {State.PENDING, State.FAILED}, state=State.PENDING, payload=payload
        )

    def begin_attempt(
        self, key: str, run_id: str, payload: str, *, sent: str | None = None
    ) -> Item:
        """Commit an intent (new intent id, attempts + 1) before the POST of ``sent``.

        ``payload`` is the row's request as written; ``sent`` the body this attempt sends
        when it differs (a fallback). Both the item and the attempt keep what was sent.
        """
        intent_id, body, stamp = uuid.uuid4().hex, sent or payload, now_iso()
        with self._tx(undo_alone=False) as db:
            updated = db.execute(
                "UPDATE item SET state='INTENT', intent_id=?, intent_at=?, intent_epoch=?,"
                " attempts=attempts+1, payload=?, sent=?, updated_at=?"
                f" WHERE item_key=? AND state='PENDING' RETURNING {_ITEM_COLUMNS}",
                (intent_id, stamp, time.time(), payload, body, stamp, key),
            ).fetchall()
            if len(updated) != 1:
                raise RuntimeError(f"item {key!r} is not PENDING; no second intent is allowed")
            db.execute(
                "INSERT INTO attempt(intent_id, item_key, run_id, sent_at, payload)"
                " VALUES (?,?,?,?,?)",
                (intent_id, key, run_id, stamp, body),
            )
        return _item(updated[0])

    def attempts(self, key: str) -> list[tuple[str, str | None]]:
        """(body sent, outcome) of each attempt of an item, oldest first."""
        rows = self._conn.execute(
            "SELECT payload, outcome FROM attempt WHERE item_key=? ORDER BY rowid", (key,)
        )
        return [(str(body), _opt(outcome)) for body, outcome in rows]

    def record_done(
        self,
        key: str,
        number: Number,
        *,
        provisioned_at: str,
        resolved_by: str,
        status: int | None = None,
    ) -> Item:
        """The item owns ``number`` (a 2xx answer, or adopted by a reconcile).

        A number another item owns sends this one to REVIEW instead. ``number_id`` is UNIQUE,
        so the owner is looked up only when the UPDATE says the number is taken: the usual
        answer, a number nobody holds, costs no query of its own.
        """
        changes = {
            "state": State.DONE,
            "number_id": number.id,
            "phone": number.phone_number,
            "actual_name": number.name,
            "route_id": number.route_id,
            "provisioned_at": provisioned_at,
            "resolved_by": resolved_by,
            "last_error": None,
        }
        try:  # (the failed UPDATE is undone with its savepoint or transaction)
            return self._finish(key, changes, outcome=resolved_by, status=status, detail=None)
        except sqlite3.IntegrityError:
            owner = self._owner(number.id)
            if owner is None or owner == key:
                raise
        detail = f"number {number.id} is already recorded for another row ({owner})"
        return self.record_review(key, detail, [number.id])

    def record_unknown(self, key: str, detail: str, *, status: int | None = None) -> Item:
        """The attempt may have bought: reconcile before anything is re-sent."""
        changes = {"state": State.UNKNOWN, "last_error": detail}
        return self._finish(key, changes, outcome="unknown", status=status, detail=detail)

    def record_pending(
        self, key: str, outcome: str, detail: str, *, status: int | None = None
    ) -> Item:
        """The attempt provably bought nothing (never sent, 429, reconciled absent)."""
        changes = {"state": State.PENDING, "last_error": detail}
        return self._finish(key, changes, outcome=outcome, status=status, detail=detail)

    def record_failed(self, key: str, detail: str, *, status: int | None = None) -> Item:
        """The row failed for good (a permanent 4xx, or attempts exhausted)."""
        changes = {"state": State.FAILED, "last_error": detail}
        return self._finish(key, changes, outcome="failed", status=status, detail=detail)

    def record_review(self, key: str, detail: str, number_ids: Iterable[str]) -> Item:
        """Several numbers may be this row's: never re-send, a person must review."""
        ids = ", ".join(number_ids)
        changes = {"state": State.REVIEW, "last_error": detail, "review_numbers": ids}
        return self._finish(key, changes, outcome="review", status=None, detail=detail)

    # changes to bought numbers (updates, releases) -------------------------------------

    def owner_of(self, api_url: str, number_id: str) -> Item | None:
        """The item that bought this number through this journal, if any."""
        row = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM item WHERE api_url=? AND number_id=?",
            (normalise_url(api_url), number_id),
        ).fetchone()
        return _item(row) if row else None

    def item_urls(self, number_id: str) -> set[str]:
        """The API URLs under which this journal bought (or released) this number id."""
        rows = self._conn.execute(
            "SELECT api_url FROM item WHERE number_id=?"
            " UNION SELECT api_url FROM change WHERE number_id=?",
            (number_id, number_id),
        )
        return {str(r[0]) for r in rows}

    def ensure_change(
        self,
        kind: str,
        api_url: str,
        number_id: str,
        *,
        body: str | None = None,
        fields: Iterable[tuple[str, str, str]] = (),
        group_id: int | None = None,
        name: str | None = None,
        phone: str | None = None,
        item_key: str | None = None,
    ) -> Change:
        """The change's record, created PENDING on first sight."""
        key = change_key(kind, api_url, number_id, body)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO change(change_key, kind, api_url, number_id, group_id,"
                " name, phone, item_key, body, fields, state, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,'PENDING',?)",
                (
                    key,
                    kind,
                    normalise_url(api_url),
                    number_id,
                    group_id,
                    name,
                    phone,
                    item_key,
                    body,
                    json.dumps([list(f) for f in fields]),
                    now_iso(),
                ),
            )
        return self._must_change(key)

    def get_change(self, key: str) -> Change | None:
        row = self._conn.execute(
            f"SELECT {change_table.COLUMNS} FROM change WHERE change_key=?", (key,)
        ).fetchone()
        return read_change(row) if row else None

    def changes(self, *, run_id: str | None = None, kind: str | None = None) -> list[Change]:
        """Changes, oldest first: of one run, of one kind, or all."""
        sql, args = f"SELECT {change_table.COLUMNS} FROM change", list[object]()
        where = []
        if run_id is not None:
            where.append("run_id=?")
            args.append(run_id)
        if kind is not None:
            where.append("kind=?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [read_change(r) for r in self._conn.execute(sql + " ORDER BY rowid", args)]

    def begin_change(self, key: str, run_id: str) -> Change:
        """Commit the intent of a change (attempts + 1) before its request goes out."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE change SET state='INTENT', run_id=?, attempts=attempts+1, intent_at=?"
                " WHERE change_key=? AND state IN ('PENDING','FAILED')",
                (run_id, now_iso(), key),
            )
            if cur.rowcount != 1:
                raise RuntimeError(f"change {key!r} is not PENDING; no second intent is allowed")
        return self._must_change(key)

    def finish_change(
        self,
        key: str,
        state: ChangeState,
        *,
        detail: str | None = None,
        status: int | None = None,
        resolved_by: str | None = None,
    ) -> Change:
        """Record a change's outcome; a release DONE also frees the item that bought it."""
        change = self._must_change(key)
        with self._tx() as db:
            db.execute(
                "UPDATE change SET state=?, finished_at=?, http_status=?, detail=?,"
                " resolved_by=? WHERE change_key=?",
                (str(state), now_iso(), status, detail, resolved_by, key),
            )
            if state is ChangeState.DONE and change.kind == "release":
                # The row no longer owns a number: a re-run reports it, and orders it again
                # only with --retry-failed.
                db.execute(
                    "UPDATE item SET state='FAILED', number_id=NULL, last_error=?, updated_at=?"
                    " WHERE api_url=? AND number_id=?",
                    (
                        f"number {change.phone or change.number_id} was released on {now_iso()}",
                        now_iso(),
                        change.api_url,
                        change.number_id,
                    ),
                )
        return self._must_change(key)

    def _must_change(self, key: str) -> Change:
        change = self.get_change(key)
        if change is None:
            raise KeyError(key)
        return change

    # baseline --------------------------------------------------------------------------

    def has_baseline(self, api_url: str, group_id: int) -> bool:
        """True once the group's pre-existing numbers were recorded."""
        row = self._conn.execute(
            "SELECT 1 FROM baseline_group WHERE api_url=? AND group_id=?",
            (normalise_url(api_url), group_id),
        ).fetchone()
        return row is not None

    def add_baseline(self, api_url: str, group_id: int, numbers: Iterable[Number]) -> None:
        """Record numbers as not ours (present before our POSTs), marking the group as done."""
        url, seen = normalise_url(api_url), now_iso()
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO baseline_group VALUES (?,?,?)", (url, group_id, seen))
            db.executemany(
                "INSERT OR IGNORE INTO baseline VALUES (?,?,?,?,?)",
                [(url, group_id, self._scrub(n.id), self._scrub(n.name), seen) for n in numbers],
            )

    def baseline_ids(self, api_url: str, group_id: int) -> set[str]:
        """Number ids that were in the group before our POSTs."""
        rows = self._conn.execute(
            "SELECT number_id FROM baseline WHERE api_url=? AND group_id=?",
            (normalise_url(api_url), group_id),
        )
        return {r[0] for r in rows}

    # internals -------------------------------------------------------------------------

    @contextmanager
    def group_commit(self) -> Iterator[None]:
        """Run several calls in one transaction, committed (and fsynced) once, at the end.

        Each call's own transaction becomes a savepoint: a call that fails undoes only its own
        writes. Nothing a call returns inside the block is durable before the block ends, so
        its caller must not act on it (send a request) until then.
        """
        if self._grouped:  # already inside a group: the outer one commits
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._grouped = True
        self._spoilt = None
        try:
            yield
            if self._spoilt is not None:  # a call failed with writes it cannot undo alone
                raise self._spoilt
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._grouped = False
            self._spoilt = None

    @contextmanager
    def _tx(self, *, undo_alone: bool = True) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed (and fsynced) on exit.

        Inside `group_commit` it is a savepoint of the group's transaction instead, so that a
        call that fails undoes its own writes alone. With ``undo_alone=False`` it is neither:
        for the calls of every send (an intent, an outcome), whose first statement either
        writes or fails having written nothing, and whose later statements break no
        constraint. Their savepoint would cost two statements, each a round trip for the
        interpreter lock against the busy event loop. Should such a call still fail after
        writing, the whole group is undone and every caller in it gets the error.
        """
        if self._grouped and not undo_alone:
            before = self._conn.total_changes
            try:
                yield self._conn
            except BaseException as exc:
                # (A change not yet counted, its statement still stepping, must spoil too:
                # only the refusals known to come before any write leave the group whole.)
                wrote = self._conn.total_changes != before or not isinstance(exc, _WRITE_NOTHING)
                if wrote and self._spoilt is None:
                    self._spoilt = exc
                raise
            return
        if self._grouped:
            self._conn.execute("SAVEPOINT tx")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # (some errors roll the whole group back)
                    self._conn.execute("ROLLBACK TO tx")
                    self._conn.execute("RELEASE tx")
                raise
            self._conn.execute("RELEASE tx")
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _must(self, key: str) -> Item:
        item = self.get(key)
        if item is None:
            raise KeyError(key)
        return item

    def _owner(self, number_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT item_key FROM item WHERE number_id=?", (number_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def _update(self, key: str, allowed: set[State], **changes: object) -> Item:
        item = self._must(key)
        if item.state not in allowed:
            raise RuntimeError(f"item {key!r} is {item.state}, not one of {sorted(allowed)}")
        with self._tx() as db:
            return _item(_set(db, key, self._scrubbed(changes)))

    def _scrubbed(self, changes: Mapping[str, object]) -> dict[str, object]:
        return {
            k: self._scrub(v) if k in _SCRUBBED and isinstance(v, str) else v
            for k, v in changes.items()
        }

    def _finish(
        self,
        key: str,
        changes: Mapping[str, object],
        *,
        outcome: str,
        status: int | None,
        detail: str | None,
    ) -> Item:
        """Apply an outcome to the item and close its attempt, in one transaction.

        The attempt is the item's latest (its ``intent_id``) while still open, or while its
        outcome is ``unknown``: a reconcile's verdict (adopted, absent, review) replaces that
        outcome, so the attempt that bought is the one that says so, in whichever run the
        reconcile came. A definite outcome is never overwritten (a row used up after
        ``absent`` keeps ``absent``).

        The item is read back from its own UPDATE (``RETURNING``): an outcome changes neither
        its intent nor its key, so no SELECT before or after is needed.
        """
        detail = None if detail is None else self._scrub(detail)
        stamp = now_iso()
        with self._tx(undo_alone=False) as db:  # (a taken number fails the UPDATE alone)
            item = _item(_set(db, key, self._scrubbed(changes), stamp))
            if item.intent_id is not None:
                db.execute(
                    # A verdict after "unknown" keeps the answer that made it unknown. The
                    # attempt keeps the number it bought: the item loses it to a release, and
                    # may buy another one later, in another run.
                    "UPDATE attempt SET finished_at=?, outcome=?,"
                    " http_status=COALESCE(?, http_status), detail=COALESCE(?, detail),"
                    " number_id=COALESCE(?, number_id)"
                    " WHERE intent_id=? AND (finished_at IS NULL OR outcome='unknown')",
                    (stamp, outcome, status, detail, item.number_id, item.intent_id),
                )
        return item


#: How a call without a savepoint is refused before it writes: an item that is not PENDING,
#: a number another item owns (SQLite undoes that statement itself), no such item.
_WRITE_NOTHING = (RuntimeError, sqlite3.IntegrityError, KeyError)

#: Item columns holding texts from the API or built from its answers.
_SCRUBBED = frozenset(
    {
        "last_error",
        "actual_name",
        "phone",
        "number_id",
        "route_id",
        "provisioned_at",
        "review_numbers",
    }
)


def _set(
    db: sqlite3.Connection, key: str, changes: Mapping[str, object], stamp: str | None = None
) -> tuple[object, ...]:
    """Update the item's columns; its row as it is now. KeyError when there is no such item."""
    values = {**changes, "updated_at": stamp or now_iso()}
    columns = ", ".join(f"{name}=?" for name in values)
    params = [str(v) if isinstance(v, State) else v for v in values.values()]
    sql = f"UPDATE item SET {columns} WHERE item_key=? RETURNING {_ITEM_COLUMNS}"
    rows = db.execute(sql, (*params, key)).fetchall()
    if not rows:
        raise KeyError(key)
    return tuple(rows[0])


def peek_items(path: Path, keys: Iterable[str]) -> dict[str, Item]:
    """The journal's items for ``keys``, read without the lock or any write (for a plan).

    A journal that does not exist yet holds nothing. Raises sqlite3 errors for a journal
    that cannot be read (the command's error translation names it).
    """
    path = Path(path).expanduser()
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        names = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
        return _select_items(conn, keys) if "item" in names else {}
    finally:
        conn.close()


def peek_releases(path: Path, api_url: str, number_ids: Iterable[str]) -> dict[str, Change]:
    """The done releases of ``number_ids`` at ``api_url``, by number id, read like
    `peek_items` (without the lock or any write)."""
    path = Path(path).expanduser()
    if not path.exists():
        return {}
    keys = [change_key("release", api_url, n) for n in number_ids]
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        names = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
        if "change" not in names:
            return {}
        found: dict[str, Change] = {}
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {change_table.COLUMNS} FROM change WHERE change_key IN ({marks})"
            for row in conn.execute(sql, chunk):
                change = read_change(row)
                if change.state is ChangeState.DONE:
                    found[change.number_id] = change
        return found
    finally:
        conn.close()


def peek_reconcile_basis(
    path: Path, api_url: str, groups: Iterable[int]
) -> dict[int, tuple[frozenset[str], dict[str, str]]]:
    """What a reconcile of each group weighs besides its listing, read without the lock (for a
    plan): the ids that cannot be an open item's (baseline and owned), and the group's open
    items (key → name). See `order.reconcile._verdicts`."""
    path = Path(path).expanduser()
    wanted = sorted(set(groups))
    if not path.exists() or not wanted:
        return {}
    url = normalise_url(api_url)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
        if "item" not in tables:
            return {}
        basis = {}
        for gid in wanted:
            excluded = {
                str(r[0])
                for r in conn.execute(
                    "SELECT number_id FROM item WHERE api_url=? AND group_id=?"
                    " AND number_id IS NOT NULL",
                    (url, gid),
                )
            }
            if "baseline" in tables:
                excluded |= {
                    str(r[0])
                    for r in conn.execute(
                        "SELECT number_id FROM baseline WHERE api_url=? AND group_id=?", (url, gid)
                    )
                }
            states = ",".join(f"'{s.value}'" for s in UNRESOLVED)
            unresolved = {
                str(key): str(name)
                for key, name in conn.execute(
                    f"SELECT item_key, name FROM item WHERE api_url=? AND group_id=?"
                    f" AND state IN ({states}) ORDER BY rowid",
                    (url, gid),
                )
            }
            basis[gid] = (frozenset(excluded), unresolved)
        return basis
    finally:
        conn.close()


def _select_items(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, Item]:
    wanted, found = list(keys), {}
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {_ITEM_COLUMNS} FROM item WHERE item_key IN ({marks})"
        for row in conn.execute(sql, chunk):
            item = _item(row)
            found[item.key] = item
    return found


def _connect(path: Path) -> sqlite3.Connection:
    """Connect with WAL + synchronous=FULL; usable from the runner's journal thread."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    conn.executescript(change_table.SCHEMA)
    _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns this version writes to a journal an older version made."""
    for table, column in (("item", "sent"), ("attempt", "payload"), ("attempt", "number_id")):
        names = {str(info[1]) for info in conn.execute(f"PRAGMA table_info({table})")}
        if column not in names:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
    runlog.migrate_runs(conn)


def _item(row: tuple[object, ...]) -> Item:
    # SQLite hands back str, int, float or None per column already (TEXT, INTEGER, REAL
    # affinities): only the state needs converting. This runs twice per row sent.
    key, url, gid, name, payload, state, *rest = cast(tuple[Any, ...], row)
    return Item(key, url, gid, name, payload, State(state), *rest)


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
