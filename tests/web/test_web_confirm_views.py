"""Several views of one confirm page: any recent one orders while its plan holds, once.

A second tab (or a reload) lists the account again; the views before it still order when
their plan is the job's as it is now. A plan that changed is said on the page, not reloaded
silently. However many confirms arrive at once, the job is ordered once.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
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
from test_web_browser import serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.sandbox import SandboxConfig
from batchprov.sandbox.service import Sandbox
from batchprov.web import create_app

NAMES = ["Alder Dental", "Birch Plumbing", "Cedar Movers", "Dogwood Bakery"]
ROWS = [[name, GROUP, "tollfree", "", "", "", "", "4165551234"] for name in NAMES]
#: One more row with a broken local number: fixing it changes the plan.
BROKEN = ["Elm Roofing", GROUP, "localtonumber", "12345", "", "", "", "4165551234"]
CHANGED = "The account was checked again and the plan changed: please confirm again."


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data: Path) -> Iterator[TestClient]:
    app = create_app(data_dir=data, sandbox=True, api_url=None, auth=None)
    with TestClient(app) as test_client:
        yield test_client


def ledger(data: Path, url: str) -> list[dict[str, object]]:
    """Every number the job's sandbox sold."""
    job_id = url.rsplit("/", 1)[1]
    sandbox = Sandbox(
        SandboxConfig(state_path=data / "sandbox-journals" / f"{job_id}.sandbox.sqlite")
    )
    try:
        return sandbox.ledger()
    finally:
        sandbox.close()


def test_an_earlier_view_of_the_confirm_page_still_orders(
    client: TestClient, data: Path, tmp_path: Path
) -> None:
    """Two views (two account checks): the first one's "Yes, order" orders; the second's finds
    it on its way; each row is bought once."""
    url = job_url(upload(client, make_workbook(tmp_path / "four.xlsx", ROWS)))
    first = confirm_fields(client, url)
    second = confirm_fields(client, url)  # another tab: the account is checked again
    assert first["check"] != second["check"]
    sent = client.post(f"{url}/order", data=first, follow_redirects=False)
    assert sent.headers["location"] == url  # ordered, not sent back to confirm
    again = client.post(f"{url}/order", data=second, follow_redirects=False)
    assert again.headers["location"] == url  # already on its way
    assert wait_finished(client, url)["status"] == "done"
    assert statuses_of(client.get(f"{url}/results.xlsx").content) == ["provisioned (sandbox)"] * 4
    sold = ledger(data, url)
    assert sorted(bought_in(sold)) == sorted(n.casefold() for n in NAMES)
    assert duplicates_in(sold) == []


def test_a_later_view_orders_too(client: TestClient, data: Path, tmp_path: Path) -> None:
    """The second view's "Yes, order" orders as well (its plan is the job's as it is now)."""
    url = job_url(upload(client, make_workbook(tmp_path / "four.xlsx", ROWS)))
    confirm_fields(client, url)
    second = confirm_fields(client, url)
    assert (
        client.post(f"{url}/order", data=second, follow_redirects=False).headers["location"] == url
    )
    assert wait_finished(client, url)["status"] == "done"
    assert len(ledger(data, url)) == 4


def test_a_plan_that_changed_is_said_plainly(
    client: TestClient, data: Path, tmp_path: Path
) -> None:
    """A view whose plan no longer holds (a cell was fixed since) is sent back to a new plan
    that says why; nothing is bought."""
    url = job_url(upload(client, make_workbook(tmp_path / "five.xlsx", [*ROWS, BROKEN])))
    stale = confirm_fields(client, url)
    assert stale["count"] == "4"
    fixed = {"csrf_token": csrf_of(client, url), "cell.6.4": "9056372046"}
    assert client.post(f"{url}/fix", data=fixed, follow_redirects=False).status_code == 303
    refused = client.post(f"{url}/order", data=stale, follow_redirects=False)
    assert refused.status_code == 303 and "notice=changed" in refused.headers["location"]
    page = client.get(refused.headers["location"])
    while page.status_code == 202:  # checking the account …
        found = re.search(r'content="2;url=([^"]+)"', page.text)
        assert found
        page = client.get(found.group(1).replace("&amp;", "&"))
    assert CHANGED in page.text and 'id="confirm-count">5<' in page.text
    assert client.get(f"{url}/progress.json").json()["status"] == "checked"
    assert ledger(data, url) == []


def test_a_forgotten_confirmation_is_said_plainly(client: TestClient, tmp_path: Path) -> None:
    """A check the server no longer knows (e.g. after a restart): a new plan, and why."""
    url = job_url(upload(client, make_workbook(tmp_path / "four.xlsx", ROWS)))
    fields = {**confirm_fields(client, url), "check": "0" * 32}
    refused = client.post(f"{url}/order", data=fields)
    assert "That confirmation had expired" in refused.text and 'id="confirm-button"' in refused.text
    assert client.get(f"{url}/progress.json").json()["status"] == "checked"


def test_ten_simultaneous_confirms_from_two_views_buy_once(data: Path, tmp_path: Path) -> None:
    """Ten "Yes, order" posts at once, from two views: one order, each row bought once."""
    app = create_app(data_dir=data, sandbox=True, api_url=None, auth=None)
    with serve(app) as site, httpx.Client(base_url=site, timeout=60) as web:
        token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/").text)
        assert token
        body = make_workbook(tmp_path / "four.xlsx", ROWS).read_bytes()
        sent = web.post(
            "/upload",
            data={"csrf_token": token.group(1)},
            files={"file": ("four.xlsx", body)},
            follow_redirects=False,
        )
        url = job_url(sent)
        views = [confirm_fields(web, url), confirm_fields(web, url)]  # type: ignore[arg-type]
        with ThreadPoolExecutor(10) as pool:
            answers = list(
                pool.map(
                    lambda i: web.post(f"{url}/order", data=views[i % 2], follow_redirects=False),
                    range(10),
                )
            )
        assert {a.headers["location"] for a in answers} == {url}
        assert wait_finished(web, url)["status"] == "done"  # type: ignore[arg-type]
    sold = ledger(data, url)
    assert len(sold) == 4 and duplicates_in(sold) == []
