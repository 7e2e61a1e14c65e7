"""Releasing a sandbox job's numbers from its results page, and the history on the jobs page."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from test_web import client, good_file, job_url, order, statuses_of, upload, wait_finished

__all__ = ["client", "good_file"]  # fixtures, imported for pytest


def assigned_names(download: httpx.Response) -> list[str]:
    """The Assigned Name column of a results workbook."""
    sheet = openpyxl.load_workbook(io.BytesIO(download.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if "Assigned Name" in r)
    column = rows[at].index("Assigned Name")
    return [str(r[column]) for r in rows[at + 1 :] if r[column]]


def test_release_from_the_results_page(client: Any, good_file: Path) -> None:
    """The page shows count and names, asks, and releases each number once; history lists it."""
    url = job_url(upload(client, good_file))
    order(client, url)
    assert wait_finished(client, url)["status"] == "done"
    page = client.get(url).text
    assert f'href="{url}/release"' in page
    confirm = client.get(f"{url}/release")
    bought = len(statuses_of(client.get(f"{url}/results.xlsx").content))
    assert f"release <strong>{bought}</strong> number" in confirm.text
    assert "may not be bought back" in confirm.text
    names = assigned_names(client.get(f"{url}/results.xlsx"))
    assert names and all(html.escape(name) in confirm.text for name in names)
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text)
    assert token
    unconfirmed = client.post(
        f"{url}/release", data={"csrf_token": token.group(1)}, follow_redirects=False
    )
    assert unconfirmed.headers["location"] == f"{url}/release"  # nothing sent without "yes"
    forged = client.post(f"{url}/release", data={"confirm": "yes"}, follow_redirects=False)
    assert forged.status_code == 403
    done = client.post(
        f"{url}/release",
        data={"csrf_token": token.group(1), "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert set(statuses_of(client.get(f"{url}/results.xlsx").content)) == {"released"}
    assert f'href="{url}/release"' not in client.get(url).text  # nothing left to release
    history = client.get("/jobs").text
    assert 'id="history"' in history and ">release<" in history and ">run<" in history
