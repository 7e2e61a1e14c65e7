"""The web application in a real headless Chromium (Playwright), served by uvicorn on loopback.

Needs Debian's `chromium` package and the `playwright` Python package; the browser that
`playwright install` would download is never used. Screenshots go to $BATCHPROV_WEB_SHOTS
when it is set.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import uvicorn
from starlette.applications import Starlette

from batchprov.web import create_app

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GROUP = 11623282
HEADERS = [
    "name", "group_id", "match_type", "local_to_number", "city", "state",
    "number_match_filter", "termination_number",
]  # fmt: skip
GOOD_ROWS = [
    ["Burlington Dental", GROUP, "localtonumber", "9056372046", "", "", "289", "4165551234"],
    ["Peachtree Plumbing", GROUP, "localtocity", "", "Atlanta", "GA", "404", "4043993433"],
    ["Nationwide Movers", GROUP, "tollfree", "", "", "", "833", "4165551234"],
]
BAD_ROWS = [
    ["Good Row Bakery", GROUP, "tollfree", "", "", "", "", "4165551234"],
    ["Broken Phone Inc", GROUP, "localtonumber", "12345", "", "", "", "4165551234"],
    ["Nowhere Diner", GROUP, "localtocity", "", "Springfield", "ZZ", "", "4165551234"],
]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    """Debian's Chromium (or one named by BATCHPROV_CHROMIUM), if installed."""
    candidates = [
        os.environ.get("BATCHPROV_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def make_workbook(path: Path, rows: list[list[Any]]) -> Path:
    """A one-sheet workbook of these rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def example(name: str, rows: list[list[Any]], tmp: Path) -> Path:
    """An example workbook, or a small stand-in until examples/ has it."""
    path = EXAMPLES / name
    return path if path.exists() else make_workbook(tmp / name, rows)


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "web server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, or a skip saying why there is none."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium binary (apt-get install chromium) for the browser tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app in sandbox mode, served on loopback."""
    data = tmp_path_factory.mktemp("web-data")
    with serve(create_app(data_dir=data, sandbox=True, api_url=None, auth=None)) as url:
        yield url


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    """A fresh browser tab on the site; fails the test on any console error (e.g. CSP)."""
    context = browser.new_context(
        base_url=site, accept_downloads=True, viewport={"width": 1366, "height": 860}
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
    assert not errors, f"browser console errors: {errors}"


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot when BATCHPROV_WEB_SHOTS names a folder."""
    folder = os.environ.get("BATCHPROV_WEB_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def drop_file(page: Any, path: Path) -> None:
    """Drag a file onto the drop zone, as a user would from their file manager."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            return transfer;
        }""",
        [path.name, data],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def test_review_in_browser_lists_invalid_rows(page: Any, tmp_path: Path) -> None:
    """Uploading needs_fixing shows its invalid rows and messages, and the checked download."""
    page.goto("/")
    shot(page, "1-upload")
    page.set_input_files("#file", str(example("needs_fixing.xlsx", BAD_ROWS, tmp_path)))
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")
    assert int(page.inner_text(".tile.st-invalid .n")) >= 1
    problems = page.locator("table.problems tbody tr")
    assert problems.count() >= 2
    first = problems.first.locator("td")
    assert first.nth(0).inner_text().strip().isdigit()
    assert len(first.nth(4).inner_text().strip()) > 5  # the message
    assert page.locator("td.bad").count() >= 1
    shot(page, "2-review-needs-fixing")
    with page.expect_download() as info:
        page.click("text=Download the checked workbook")
    saved = tmp_path / "checked.xlsx"
    info.value.save_as(saved)
    assert openpyxl.load_workbook(saved).sheetnames


def test_order_in_browser_from_drop_to_download(page: Any, tmp_path: Path) -> None:
    """Drop the example, confirm the sandbox order, watch it finish, download the results."""
    page.goto("/")
    drop_file(page, example("advertisers.xlsx", GOOD_ROWS, tmp_path))
    assert "advertisers.xlsx" in page.inner_text("#file-chosen")
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")
    assert "SANDBOX" in page.inner_text(".mode")
    page.click("#order-link")
    page.wait_for_selector("#confirm-button")
    assert "SANDBOX" in page.inner_text(".confirm")
    shot(page, "3-confirm")
    page.click("#confirm-button")
    page.reload()  # the job lives on the server: a reload shows progress or the result
    page.wait_for_selector("#result-title", timeout=30_000)
    assert "Finished" in page.inner_text("#result-title")
    shot(page, "5-result")
    with page.expect_download() as info:
        page.click("#download-result")
    saved = tmp_path / "results.xlsx"
    info.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if "Status" in r)
    column = rows[header].index("Status")
    statuses = {r[column] for r in rows[header + 1 :] if any(r)}
    assert statuses == {"provisioned (sandbox)"}  # a sandbox number was never bought
    page.click("nav >> text=Jobs")
    assert page.locator("table.jobs tbody tr").count() >= 1
    shot(page, "6-jobs")
