"""The confirm page plans with the account listed, and the order keeps to what was confirmed.

A sandbox on loopback plays the real API; the web server lists its groups before the confirm
page counts anything, and the sandbox's ledger tells what was bought (tests/purchases.py).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from purchases import bought_in, duplicates_in
from test_web import (
    GROUP,
    confirm_fields,
    csrf_of,
    job_url,
    make_workbook,
    statuses_of,
    upload,
    wait_finished,
)

with warnings.catch_warnings():
    # Starlette asks for `httpx2`; the project uses httpx, which its TestClient still accepts.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread
from batchprov.sandbox.server import RunningSandbox
from batchprov.web import create_app, ordering

TOKEN = "acct-web-token-0123456789"
NAMES = ["Alder Dental", "Birch Plumbing", "Cedar Movers", "Dogwood Bakery", "Elm Roofing"]


@pytest.fixture
def api() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=3)) as server:
        yield server


@pytest.fixture
def five(tmp_path: Path) -> Path:
    """Five toll-free rows in one group."""
    rest = [GROUP, "tollfree", "", "", "", "", "4165551234"]
    return make_workbook(tmp_path / "five.xlsx", [[name, *rest] for name in NAMES])


@pytest.fixture
def client(tmp_path: Path, api: RunningSandbox, monkeypatch: Any) -> Iterator[TestClient]:
    """The web page ordering from the sandbox as from the real API."""
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN)
    monkeypatch.setenv("BATCHPROV_JOURNAL", str(tmp_path / "journal.sqlite"))
    app = create_app(data_dir=tmp_path / "data", sandbox=False, api_url=api.url, auth=None)
    with TestClient(app) as test_client:
        yield test_client


def preexisting(api: RunningSandbox, *names: str) -> list[dict[str, Any]]:
    """Numbers bought in the portal before batchprov ran."""
    route = {"route_type": "Basic", "route": {"termination_number": "4165550000"}}
    body = {"phone_number_request": {"match_type": "tollfree"}, "call_routes": route}
    return [api.state.create_number(GROUP, {**body, "name": name}) for name in names]


def test_the_confirm_page_counts_only_what_will_be_bought(
    client: TestClient, api: RunningSandbox, five: Path
) -> None:
    """2 of 5 names already in the group: the page says 3 numbers and 3 × price; 3 are bought."""
    preexisting(api, NAMES[0], NAMES[3].upper())  # the same name, to people
    url = job_url(upload(client, five))
    fields = confirm_fields(client, url, price_per_number="2.50")
    assert fields["count"] == "3"
    page = client.get(f"{url}/confirm", params=fields).text
    assert 'id="confirm-count">3<' in page and 'id="fact-count">3<' in page
    assert "7.50" in page and "Yes, order 3 numbers (7.50 a month)" in page
    assert 'id="found-in-account">2 rows already have numbers in the account' in page
    before = len(api.state.ledger())
    sent = client.post(f"{url}/order", data=fields, follow_redirects=False)
    assert sent.headers["location"] == url
    assert wait_finished(client, url)["status"] == "done"
    ledger = api.state.ledger()
    assert sum(bought_in(ledger, before=before).values()) == 3
    assert duplicates_in(ledger) == []
    statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
    assert sorted(statuses) == ["already provisioned"] * 2 + ["provisioned"] * 3
    assert "account-note" not in client.get(url).text  # the account did not change


def test_a_name_added_after_the_confirmation_is_not_bought(
    client: TestClient, api: RunningSandbox, five: Path
) -> None:
    """The run's own account check decides: a name bought meanwhile is taken; the page says so."""
    url = job_url(upload(client, five))
    fields = confirm_fields(client, url)
    assert fields["count"] == "5"
    preexisting(api, NAMES[2])  # bought in the portal between the confirmation and the order
    before = len(api.state.ledger())
    client.post(f"{url}/order", data=fields)
    assert wait_finished(client, url)["status"] == "done"
    assert sum(bought_in(api.state.ledger(), before=before).values()) == 4
    assert duplicates_in(api.state.ledger()) == []
    note = client.get(url).text.split('id="account-note">')[1].split("</div>")[0]
    assert "you confirmed 5" in note and "1 of those rows already had a number" in note
    assert "ordered 4" in note


def test_a_row_not_confirmed_is_never_bought(
    client: TestClient, api: RunningSandbox, five: Path
) -> None:
    """A number released after the confirmation would add a row: the run buys nothing, says why."""
    (taken,) = preexisting(api, NAMES[1])
    url = job_url(upload(client, five))
    fields = confirm_fields(client, url)
    assert fields["count"] == "4"
    api.state.delete_number(int(taken["id"]))  # its row is now to buy, but was not confirmed
    before = len(api.state.ledger())
    client.post(f"{url}/order", data=fields)
    assert wait_finished(client, url)["status"] == "failed"
    assert len(api.state.ledger()) == before  # nothing bought
    page = client.get(url).text
    assert "The account changed after you confirmed" in page and "row 3" in page
    again = confirm_fields(client, url)  # "Try again" shows the new plan, checked again
    assert again["count"] == "5"


def test_an_account_that_cannot_be_listed_offers_no_order_button(
    tmp_path: Path, api: RunningSandbox, five: Path, monkeypatch: Any
) -> None:
    """A token the API refuses: a clear message, no Order button, and an order post buys nothing."""
    monkeypatch.setenv("TELMETRICS_TOKEN", "not-the-token-of-this-account")
    monkeypatch.setenv("BATCHPROV_JOURNAL", str(tmp_path / "journal.sqlite"))
    app = create_app(data_dir=tmp_path / "data", sandbox=False, api_url=api.url, auth=None)
    with TestClient(app) as client:
        url = job_url(upload(client, five))
        page = client.get(f"{url}/confirm")
        while page.status_code == 202:
            time.sleep(0.2)
            page = client.get(re.findall(r'url=([^"]+)"', page.text)[0].replace("&amp;", "&"))
        assert page.status_code == 503
        assert "did not accept this server" in page.text and "Nothing was ordered" in page.text
        assert 'id="order-form"' not in page.text and "not-the-token" not in page.text
        forced = {"csrf_token": csrf_of(client), "confirm": "yes", "count": "5"}
        response = client.post(f"{url}/order", data=forced, follow_redirects=False)
        assert response.headers["location"].startswith(f"{url}/confirm")
        assert client.get(f"{url}/progress.json").json()["status"] == "checked"
    assert api.state.ledger() == []


def test_a_slow_account_shows_that_it_is_being_checked(
    tmp_path: Path, five: Path, monkeypatch: Any
) -> None:
    """While the groups are listed the page says "Checking the account…", then shows the plan."""
    monkeypatch.setattr(ordering, "FIRST_WAIT", 0.0)
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN)
    monkeypatch.setenv("BATCHPROV_JOURNAL", str(tmp_path / "journal.sqlite"))
    slow = SandboxConfig(token=TOKEN, faults=Faults(latency_ms=600))
    with serve_in_thread(slow) as server:
        app = create_app(data_dir=tmp_path / "data", sandbox=False, api_url=server.url, auth=None)
        with TestClient(app) as client:
            url = job_url(upload(client, five))
            first = client.get(f"{url}/confirm")
            assert first.status_code == 202 and "Checking the account…" in first.text
            assert 'id="order-form"' not in first.text
            assert confirm_fields(client, url)["count"] == "5"


def test_a_released_workbook_says_its_rows_were_released(
    client: TestClient, api: RunningSandbox, five: Path, tmp_path: Path
) -> None:
    """A released workbook uploaded again: the review counts its rows as released, not held."""
    from batchprov.config import Api, RunConfig
    from batchprov.lifecycle.release import release_numbers
    from batchprov.pipeline import run_file

    journal = tmp_path / "journal.sqlite"
    where = Api(url=api.url, token=TOKEN)
    out, gone = tmp_path / "five.results.xlsx", tmp_path / "five.released.xlsx"
    run_file(five, out, config=RunConfig(journal=journal), api=where, confirm=lambda p: True)
    release_numbers(out, gone, journal=journal, api=where, confirm=lambda p: True)
    page = client.get(job_url(upload(client, gone))).text
    assert re.search(r'id="n-released"><span class="n">5</span> released before', page)
    assert re.search(r'st-already-provisioned"><span class="n">0</span> already have', page)
    assert len(api.state.ledger()) == len(NAMES)
