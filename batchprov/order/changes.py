"""The journal's record of changes to numbers already bought: updates (PUT) and releases (DELETE).

Like a purchase, a change is written down before its request goes out (state INTENT) and its
outcome right after: DONE, UNKNOWN (sent, answer lost: verify with a GET before anything is
re-sent), PENDING (provably not applied, may be sent again) or FAILED. A release is keyed by
(API URL, number id): once DONE, that number is never released again. An update is keyed by
the number and the body it sends, so the same change is applied once, and a later, different
change is a change of its own.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from batchprov.urls import normalise_url

__all__ = ["Change", "ChangeState", "change_key", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS change(
  change_key TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('update','release')),
  api_url TEXT NOT NULL, number_id TEXT NOT NULL, group_id INTEGER, name TEXT, phone TEXT,
  item_key TEXT, body TEXT, fields TEXT,
  state TEXT NOT NULL CHECK (state IN ('PENDING','INTENT','UNKNOWN','DONE','FAILED')),
  run_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, intent_at TEXT,
  finished_at TEXT, http_status INTEGER, detail TEXT, resolved_by TEXT);
CREATE INDEX IF NOT EXISTS change_number ON change(api_url, number_id, kind);
CREATE INDEX IF NOT EXISTS change_run ON change(run_id);
"""

COLUMNS = (
    "change_key, kind, api_url, number_id, group_id, name, phone, item_key, body, fields, state,"
    " run_id, attempts, created_at, finished_at, http_status, detail, resolved_by"
)


class ChangeState(StrEnum):
    """Where a change stands."""

    PENDING = "PENDING"  # not applied: may be sent
    INTENT = "INTENT"  # intent committed; the request may be in flight
    UNKNOWN = "UNKNOWN"  # sent, answer lost: verify before re-sending
    DONE = "DONE"  # applied (answered, or verified)
    FAILED = "FAILED"  # refused for good


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one number, and what became of it.

    ``fields`` holds the changes of an update as (field, from, to) triples.
    """

    key: str
    kind: str
    api_url: str
    number_id: str
    group_id: int | None
    name: str | None
    phone: str | None
    item_key: str | None
    body: str | None
    fields: tuple[tuple[str, str, str], ...]
    state: ChangeState
    run_id: str | None
    attempts: int
    created_at: str
    finished_at: str | None
    http_status: int | None
    detail: str | None
    resolved_by: str | None

    @property
    def unresolved(self) -> bool:
        """True when a request was sent and its outcome is not known."""
        return self.state in (ChangeState.INTENT, ChangeState.UNKNOWN)


def change_key(kind: str, api_url: str, number_id: str, body: str | None = None) -> str:
    """A release per number; an update per number and body."""
    key = f"{kind}|{normalise_url(api_url)}|{number_id}"
    if kind == "update":
        key += "|" + hashlib.sha256((body or "").encode()).hexdigest()[:16]
    return key


def read_change(row: sqlite3.Row | tuple[Any, ...]) -> Change:
    (
        key,
        kind,
        url,
        number_id,
        group_id,
        name,
        phone,
        item,
        body,
        fields,
        state,
        run_id,
        attempts,
        created,
        finished,
        status,
        detail,
        resolved,
    ) = tuple(row)
    triples = tuple(tuple(str(x) for x in t) for t in json.loads(fields or "[]"))
    return Change(
        key=str(key),
        kind=str(kind),
        api_url=str(url),
        number_id=str(number_id),
        group_id=None if group_id is None else int(group_id),
        name=_opt(name),
        phone=_opt(phone),
        item_key=_opt(item),
        body=_opt(body),
        fields=triples,  # type: ignore[arg-type]
        state=ChangeState(str(state)),
        run_id=_opt(run_id),
        attempts=int(attempts),
        created_at=str(created),
        finished_at=_opt(finished),
        http_status=None if status is None else int(status),
        detail=_opt(detail),
        resolved_by=_opt(resolved),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
