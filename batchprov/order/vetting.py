"""Checking what the API says it bought before a row counts as provisioned.

A 2xx, or a number found by name in a reconcile, is only the row's purchase when it is the
kind of number that was asked for: a valid 10-digit North American number, in the group
asked, under the name asked or the API's suffixed form of it (``ABC`` → ``ABC 2``), with an id
batchprov can keep. Anything else goes to a person (the journal records REVIEW, so the row is
never re-sent blindly): it may have bought a number. A field echoing the API token is never
kept: it is replaced by ``[redacted]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from batchprov.check.phones import check_phone
from batchprov.order.client import Number
from batchprov.order.matching import name_fits
from batchprov.redact import REDACTED, Redactor

#: Longest value of an answer's field quoted in a message.
SHOWN = 40
#: Longest id or field kept from an answer; a longer one is not a plausible value.
LONGEST_FIELD = 200
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TEN_DIGITS = re.compile(r"[0-9]{10}")


@dataclass(frozen=True, slots=True)
class Vetted:
    """A number as it may be kept (secret fields redacted), and what is wrong with it."""

    number: Number
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def vet(number: Number, *, group_id: int, name: str, redactor: Redactor) -> Vetted:
    """Whether ``number`` is the purchase of an order for ``name`` in ``group_id``."""
    number, problems = _without_secrets(number, redactor)
    if number.id != REDACTED and not _ID.fullmatch(number.id):
        problems.append(f"its id {shown(number.id)} is not a number id")
    phone = number.phone_number
    if phone != REDACTED and not (_TEN_DIGITS.fullmatch(phone) and check_phone(phone).ok):
        problems.append(f"its phone_number {shown(phone)} is not a 10-digit North American number")
    if number.group_id not in (None, REDACTED) and number.group_id.strip() != str(group_id):
        problems.append(f"it is in group {shown(number.group_id)}, not group {group_id}")
    if number.name != REDACTED and not name_fits(name, number.name):
        problems.append(f'its name {shown(number.name)} is not "{name.strip()}" or a suffixed form')
    for field, value in (("route_id", number.route_id), ("created_at", number.created_datetime)):
        if value is not None and len(value) > LONGEST_FIELD:
            problems.append(f"its {field} is {len(value):,} characters long")
    if problems:  # nothing more of it is kept than the ids a person needs to look it up
        number = replace(number, route_id=None, created_datetime=None)
    return Vetted(number, tuple(problems))


def review_text(vetted: Vetted, *, answered: str, group_id: int, name: str) -> str:
    """The error of a row whose answer failed the checks: what came back, and what to check."""
    number = vetted.number
    what = "; ".join(vetted.problems)
    return (
        f"{answered}, but {what}. It may have bought a number: check group {group_id} for "
        f'"{name.strip()}" (number id {shown(number.id)}) before ordering this row again; '
        "batchprov will not re-send it"
    )


def shown(value: str) -> str:
    """A field's value quoted for a message, cut to `SHOWN` characters."""
    text = value if len(value) <= SHOWN else value[:SHOWN] + "…"
    return repr(text) if text else "(empty)"


def _without_secrets(number: Number, redactor: Redactor) -> tuple[Number, list[str]]:
    """The number with every field holding a secret replaced, and a problem for each."""
    problems: list[str] = []
    changes: dict[str, Any] = {}
    for field in ("id", "phone_number", "name", "group_id", "route_id", "created_datetime"):
        value = getattr(number, field)
        if isinstance(value, str) and redactor.holds_secret(value):
            changes[field] = REDACTED
            problems.append(f"its {field} contains the API token (not kept)")
    return (replace(number, **changes) if changes else number), problems
