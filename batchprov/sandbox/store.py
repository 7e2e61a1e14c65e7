"""The sandbox's numbers: in memory, and optionally in SQLite so a restart remembers them.

Memory is the working copy (fast listings and name checks); SQLite, when given, receives every
change as it happens and is read back once at start.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS numbers (id INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exchanges (exchange TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
"""


@dataclass(slots=True)
class NumberRecord:
    """One tracking number the sandbox created (released ones are kept for the ledger)."""

    id: int
    group_id: int
    name: str
    requested_name: str
    phone_number: str
    route_id: int
    route_type: str
    termination_number: str
    route_features: dict[str, Any] | None
    sms_routes: dict[str, Any]
    features: dict[str, Any] | None
    created_datetime: str
    modified_datetime: str
    request: Any
    released: bool = False
    visible_at: float = field(default=0.0, compare=False)  # monotonic; listings hide it before
    #: Every update and release after the create: {"action", "at", "request"}.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The number as the API shows it, in the field order of the documentation."""
        route: dict[str, Any] = {"id": self.route_id, "termination_number": self.termination_number}
        if self.route_features is not None:
            route["features"] = self.route_features
        shown: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "group_id": self.group_id,
            "status": "Inactive" if self.released else "Active",
            "phone_number": self.phone_number,
            "created_datetime": self.created_datetime,
            "modified_datetime": self.modified_datetime,
            "sms_routes": self.sms_routes,
            "call_routes": {"route_type": self.route_type, "route": route},
        }
        if self.features is not None:
            shown["features"] = self.features
        return shown

    def to_ledger(self) -> dict[str, Any]:
        """The number with the request that created it."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "name": self.name,
            "requested_name": self.requested_name,
            "phone_number": self.phone_number,
            "created_datetime": self.created_datetime,
            "request": self.request,
            "released": self.released,
            "changes": list(self.changes),
        }


class Store:
    """Numbers by id, by group and by name; writes through to SQLite when a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.records: dict[int, NumberRecord] = {}
        self._by_group: dict[int, list[int]] = defaultdict(list)
        self._names: dict[int, set[str]] = defaultdict(set)
        # (group, name) → a suffix below which every suffixed name is taken, so a thousand
        # "ABC Company" rows do not rescan 2, 3, 4, ... each time.
        self._suffix_floor: dict[tuple[int, str], int] = {}
        self._db = _open(path) if path else None
        self.cursors: dict[str, int] = {}
        if self._db:
            self._load(self._db)

    def free_name(self, group_id: int, requested: str) -> str:
        """The requested name, or with the smallest numeric suffix ≥ 2 not in use in the group."""
        names = self._names[group_id]
        if requested not in names:
            return requested
        suffix = self._suffix_floor.get((group_id, requested), 2)
        while f"{requested} {suffix}" in names:
            suffix += 1
        self._suffix_floor[(group_id, requested)] = suffix
        return f"{requested} {suffix}"

    def add(self, record: NumberRecord, exchange_cursor: tuple[str, int]) -> None:
        """Keep a new number (and how far its exchange's stock was used)."""
        self._index(record)
        if self._db:
            with self._db:
                self._db.execute("INSERT INTO numbers VALUES (?, ?)", _row(record))
                self._db.execute("INSERT OR REPLACE INTO exchanges VALUES (?, ?)", exchange_cursor)

    def rename(self, record: NumberRecord, name: str) -> None:
        """Change a number's name, keeping the name index right."""
        self._free(record)
        record.name = name
        self._names[record.group_id].add(name)

    def save(self, record: NumberRecord) -> None:
        """Write a changed number through."""
        if self._db:
            with self._db:
                self._db.execute("INSERT OR REPLACE INTO numbers VALUES (?, ?)", _row(record))

    def release(self, record: NumberRecord) -> None:
        """Mark a number released: out of listings, its name free again."""
        record.released = True
        self._free(record)
        self._by_group[record.group_id].remove(record.id)
        self.save(record)

    def active(self, group_id: int | None) -> list[NumberRecord]:
        """Numbers not released, by id ascending, of one group or all."""
        if group_id is not None:
            return [self.records[i] for i in self._by_group.get(group_id, ())]
        return [r for r in self.records.values() if not r.released]

    def next_ids(self, base_id: int, base_route_id: int) -> tuple[int, int]:
        """The next number id and route id: one more than the highest so far."""
        if not self.records:
            return base_id, base_route_id
        last = self.records[max(self.records)]
        return last.id + 1, last.route_id + 1

    def close(self) -> None:
        """Close the database, if any."""
        if self._db:
            self._db.close()
            self._db = None

    def _free(self, record: NumberRecord) -> None:
        """Forget a name in use; a freed suffix lowers its base name's floor."""
        self._names[record.group_id].discard(record.name)
        base, _, suffix = record.name.rpartition(" ")
        key = (record.group_id, base)
        if suffix.isdigit() and key in self._suffix_floor:
            self._suffix_floor[key] = min(self._suffix_floor[key], int(suffix))

    def _index(self, record: NumberRecord) -> None:
        self.records[record.id] = record
        if not record.released:
            self._by_group[record.group_id].append(record.id)
            self._names[record.group_id].add(record.name)

    def _load(self, db: sqlite3.Connection) -> None:
        for (text,) in db.execute("SELECT record FROM numbers ORDER BY id"):
            self._index(NumberRecord(**json.loads(text)))
        self.cursors = dict(db.execute("SELECT exchange, cursor FROM exchanges"))


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Served from a uvicorn thread and inspected from tests: calls are serialised by a lock.
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # durable enough for a simulator, and fast
    db.executescript(_SCHEMA)
    return db


def _row(record: NumberRecord) -> tuple[int, str]:
    data = asdict(record)
    data.pop("visible_at")
    return record.id, json.dumps(data, ensure_ascii=False)
