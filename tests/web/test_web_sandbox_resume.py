"""A sandbox job is one API across its runs: resumed or finished, it buys once and releases all.

Each run of a sandbox job serves its sandbox on a new port; the journal keys the job's numbers
by the job, not the port (`jobs.sandbox_key`). The sandbox's ledger, the journal and the
results workbook are counted against each other.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from purchases import duplicates_in
from test_web import (
    confirm_fields,
    csrf_of,
    job_url,
    many_rows,
    order,
    statuses_of,
    upload,
    wait_finished,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.order.journal import Journal, State
from batchprov.sandbox import Faults, SandboxConfig
from batchprov.sandbox.service import Sandbox
from batchprov.web import create_app
from batchprov.web.jobs import RUNNING, JobStore

ROWS = 60
BOUGHT = {"provisioned (sandbox)", "already provisioned (sandbox)"}
#: Slow enough for a Stop to land mid-order.
SLOW = SandboxConfig(faults=Faults(latency_ms=250))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data: Path) -> Iterator[TestClient]:
    app = create_app(data_dir=data, sandbox=True, api_url=None, auth=None, sandbox_config=SLOW)
    with TestClient(app) as test_client:
        yield test_client


def ledger(data: Path, job_id: str) -> list[dict[str, object]]:
    """Every number the job's sandbox ever sold."""
    state = data / "sandbox-journals" / f"{job_id}.sandbox.sqlite"
    sandbox = Sandbox(SandboxConfig(state_path=state))
    try:
        return sandbox.ledger()
    finally:
        sandbox.close()


def journal_done(data: Path, job_id: str) -> dict[str, set[str]]:
    """The numbers the job's journal holds as bought, by the API it keys them under."""
    with Journal.open(data / "sandbox-journals" / f"{job_id}.sqlite") as journal:
        items = [i for i in journal.items() if i.state is State.DONE and i.phone]
    urls: dict[str, set[str]] = {}
    for item in items:
        urls.setdefault(item.api_url, set()).add(str(item.phone))
    return urls


def some_bought(client: TestClient, url: str) -> None:
    """Wait until the running order has bought a few numbers."""
    deadline = time.monotonic() + 30
    while client.get(f"{url}/progress.json").json()["provisioned"] < 5:
        assert time.monotonic() < deadline, "the order did not start"
        time.sleep(0.02)


def stop_midway(client: TestClient, url: str) -> None:
    order(client, url)
    some_bought(client, url)
    client.post(f"{url}/stop", data={"csrf_token": csrf_of(client, url)})
    assert wait_finished(client, url, timeout=60)["status"] == "done"


def release_all(client: TestClient, url: str) -> str:
    page = client.get(f"{url}/release").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page
    done = client.post(f"{url}/release", data={"csrf_token": token.group(1), "confirm": "yes"})
    return done.text


def test_stop_finish_and_release_count_every_number_once(
    client: TestClient, data: Path, tmp_path: Path
) -> None:
    """Stop, finish: one API in the journal, each row bought once and shown as this job's."""
    url = job_url(upload(client, many_rows(tmp_path / "many.xlsx", ROWS)))
    job_id = url.rsplit("/", 1)[1]
    stop_midway(client, url)
    first = statuses_of(client.get(f"{url}/results.xlsx").content)
    left = first.count("not attempted")
    assert 0 < left < ROWS, "the stop should land mid-order"
    assert confirm_fields(client, url)["count"] == str(left)
    order(client, url)  # "Finish the order"
    assert wait_finished(client, url, timeout=60)["status"] == "done"
    page = client.get(url).text
    assert "found in the account" not in page and "--existing" not in page
    assert "account-note" not in page  # nobody changed the account: this job bought them
    statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
    assert len(statuses) == ROWS and set(statuses) <= BOUGHT
    sold = ledger(data, job_id)
    keyed = journal_done(data, job_id)
    assert len(keyed) == 1, keyed  # one API, whatever port each run's sandbox had
    assert len(sold) == ROWS and duplicates_in(sold) == []
    assert {str(n["phone_number"]) for n in sold} == next(iter(keyed.values()))
    released = release_all(client, url)
    assert "several APIs" not in released
    assert set(statuses_of(client.get(f"{url}/results.xlsx").content)) == {"released"}
    assert all(n["released"] for n in ledger(data, job_id))


def test_a_restart_mid_order_resumes_under_the_same_api(data: Path, tmp_path: Path) -> None:
    """A job cut short by a restart is resumed as this job's: no account note, one API, once."""
    app = create_app(data_dir=data, sandbox=True, api_url=None, auth=None, sandbox_config=SLOW)
    with TestClient(app) as client:
        url = job_url(upload(client, many_rows(tmp_path / "many.xlsx", ROWS)))
        order(client, url)
        job_id = url.rsplit("/", 1)[1]
        some_bought(client, url)
    # The server stopped mid-order; the job is still running and resumes at the next start.
    assert JobStore(data / "jobs.sqlite").get(job_id).status == RUNNING  # type: ignore[union-attr]
    assert 0 < len(ledger(data, job_id)) < ROWS
    again = create_app(data_dir=data, sandbox=True, api_url=None, auth=None, sandbox_config=SLOW)
    with TestClient(again) as client:
        assert wait_finished(client, url, timeout=60)["status"] == "done"
        page = client.get(url).text
        statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
        assert "account-note" not in page and "found in the account" not in page
        assert len(statuses) == ROWS and set(statuses) <= BOUGHT
        sold = ledger(data, job_id)
        assert len(sold) == ROWS and duplicates_in(sold) == []
        assert len(journal_done(data, job_id)) == 1
        assert "several APIs" not in release_all(client, url)
        assert all(n["released"] for n in ledger(data, job_id))
