"""What an in-process sandbox sold, counted the way ordering tests compare it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fake_clock import FakeClock

from batchprov.sandbox import SandboxConfig, SandboxTransport, transport

#: A token distinctive enough to search journals and results for.
TOKEN = "s3cret-token-value"


def sandbox_transport(clock: FakeClock, **config: Any) -> SandboxTransport:
    """A fresh in-process sandbox accepting `TOKEN`, on the fake clock."""
    return transport(SandboxConfig(token=TOKEN, **config), clock=clock, sleep=clock.sleep)


def bought(api: SandboxTransport, *, before: int = 0) -> Counter[str]:
    """Purchases per requested (casefolded) name, leaving out the first ``before`` numbers."""
    ledger = api.sandbox.ledger()[before:]
    return Counter(entry["requested_name"].strip().casefold() for entry in ledger)


def duplicates(api: SandboxTransport) -> list[str]:
    """Requested names bought more than once."""
    return [name for name, count in bought(api).items() if count > 1]


def number(api: SandboxTransport, requested_name: str) -> dict[str, Any]:
    """The one number bought for a requested name, as the API shows it."""
    (entry,) = [e for e in api.sandbox.ledger() if e["requested_name"] == requested_name]
    return api.sandbox.get_number(entry["id"])


def ledger_ids(api: SandboxTransport) -> list[str]:
    """Ids of every number the sandbox created, in creation order."""
    return [str(entry["id"]) for entry in api.sandbox.ledger()]
