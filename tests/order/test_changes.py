"""Changes to bought numbers, one request at a time, against an in-process sandbox.

Scripted faults put each answer exactly where it hurts: lost after the change, refused
before it, or a 404 for a number nobody released.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchprov.change.apply import ChangeTask, apply_changes
from batchprov.config import Api
from batchprov.order.changes import ChangeState
from batchprov.order.journal import Journal
from batchprov.sandbox import Faults
from batchprov.sandbox.inprocess import SandboxTransport, transport

GROUP = 11623282


async def no_wait(seconds: float) -> None:
    """Backoff without waiting."""


def bought(sandbox: SandboxTransport, name: str = "A") -> dict[str, Any]:
    body = {
        "name": name,
        "phone_number_request": {"match_type": "tollfree"},
        "call_routes": {"route_type": "Basic", "route": {"termination_number": "4165551234"}},
    }
    return sandbox.app.sandbox.create_number(GROUP, body)


def release(sandbox: SandboxTransport, journal: Journal, number: dict[str, Any]) -> Any:
    api = Api(url=sandbox.url, token="sandbox", transport=sandbox)
    run = journal.start_run("test")
    task = ChangeTask(kind="release", number_id=str(number["id"]), name=number["name"])
    return apply_changes([task], api=api, journal=journal, run_id=run, sleep=no_wait)


def deletes(sandbox: SandboxTransport) -> int:
    return sum(1 for method, _ in sandbox.requests if method == "DELETE")


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    with Journal.open(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.mark.parametrize("fault", ["drop_after", "500_after", "timeout_after", "garbled"])
def test_lost_answer_is_verified_not_resent(journal: Journal, fault: str) -> None:
    """An answer lost after the DELETE is settled by a GET: released, and one DELETE sent."""
    sandbox = transport()
    number = bought(sandbox)
    sandbox.app.sandbox.set_faults(Faults(script=(fault,)))
    (outcome,), stopped = release(sandbox, journal, number)
    assert (outcome.done, stopped, deletes(sandbox)) == (True, None, 1)
    assert outcome.change.resolved_by in ("verified absent", "answer")
    assert sandbox.app.sandbox.ledger()[0]["released"]


@pytest.mark.parametrize("fault", ["503", "429", "connect", "timeout_before"])
def test_refused_before_the_change_is_sent_again(journal: Journal, fault: str) -> None:
    """A DELETE that changed nothing is sent again; the number is released once."""
    sandbox = transport()
    number = bought(sandbox)
    sandbox.app.sandbox.set_faults(Faults(script=(fault,)))
    (outcome,), _ = release(sandbox, journal, number)
    assert outcome.done and deletes(sandbox) == 2
    changes = sandbox.app.sandbox.ledger()[0]["changes"]
    assert [c["action"] for c in changes] == ["release"]


def test_a_404_for_a_number_never_released_fails(journal: Journal) -> None:
    """A first DELETE answered 404 is not taken for a release of ours: the row fails."""
    sandbox = transport()
    (outcome,), _ = release(sandbox, journal, {"id": 424242, "name": "Ghost"})
    assert not outcome.done and "no number 424242" in outcome.text
    assert outcome.change.state is ChangeState.FAILED


def test_done_is_never_sent_again(journal: Journal) -> None:
    """A release the journal shows as done sends nothing the second time."""
    sandbox = transport()
    number = bought(sandbox)
    release(sandbox, journal, number)
    (outcome,), _ = release(sandbox, journal, number)
    assert outcome.done and outcome.earlier and deletes(sandbox) == 1


def test_token_rejected_stops(journal: Journal) -> None:
    """A 401 stops the command; the change stays not applied and may be sent later."""
    sandbox = transport()
    number = bought(sandbox)
    sandbox.app.sandbox.set_faults(Faults(script=("401",)))
    (outcome,), stopped = release(sandbox, journal, number)
    assert not outcome.done and stopped and "token rejected" in stopped
    assert outcome.change.state is ChangeState.PENDING
