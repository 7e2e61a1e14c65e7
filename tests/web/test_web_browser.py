"""The web application in a real headless Chromium (Playwright), served by uvicorn on loopback.

Needs Debian's `chromium` package and the `playwright` Python package; the browser that
`playwright install` would download is never used. Every page visited is photographed at
1280 and 390 px wide into $BATCHPROV_ARTIFACTS (default: tests/web/artifacts, git-ignored),
and at 390 px must not scroll sideways.
"""

from __future__ import annotations

import base64
import os
import re
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

from batchprov.sandbox import Faults, SandboxConfig
from batchprov.web import create_app

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WIDE, NARROW = 1280, 390
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
def app(tmp_path_factory: pytest.TempPathFactory) -> Starlette:
    """The web app in sandbox mode; its sandbox answers slowly enough to watch the progress."""
    data = tmp_path_factory.mktemp("web-data")
    slow = SandboxConfig(faults=Faults(latency_ms=700))
    return create_app(data_dir=data, sandbox=True, api_url=None, auth=None, sandbox_config=slow)


@pytest.fixture(scope="module")
def site(app: Starlette) -> Iterator[str]:
    """The web app, served on loopback."""
    with serve(app) as url:
        yield url


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    """A fresh browser tab on the site; fails the test on any console error (e.g. CSP)."""
    context = browser.new_context(
        base_url=site, accept_downloads=True, viewport={"width": WIDE, "height": 860}
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
    """Full-page screenshots at 1280 and 390 px; at 390 px the page must not scroll sideways."""
    folder = Path(os.environ.get("BATCHPROV_ARTIFACTS") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    assert_fits_a_phone(page, name)
    page.set_viewport_size({"width": WIDE, "height": 860})


def assert_fits_a_phone(page: Any, name: str) -> None:
    """At 390 px: no page-wide horizontal scroll, and no two controls on top of each other."""
    page.set_viewport_size({"width": NARROW, "height": 860})
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: the page is {width[0]} px wide at {width[1]} px"
    overlaps = page.evaluate(OVERLAPS)
    assert not overlaps, f"{name}: controls overlap at {NARROW} px: {overlaps}"


#: Pairs of visible controls whose boxes intersect (a control inside another one excepted).
OVERLAPS = """() => {
  const controls = [...document.querySelectorAll("a.btn, button, input, select, textarea")]
    .filter(e => e.type !== "hidden" && e.getClientRects().length && !e.closest(".sr-only"));
  const boxes = controls.map(e => [e, e.getBoundingClientRect()]);
  const found = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, r] = boxes[i], [b, q] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      const y = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      if (x > 1 && y > 1) found.push([a.outerHTML.slice(0, 80), b.outerHTML.slice(0, 80)]);
    }
  }
  return found.slice(0, 5);
}"""


def drop_file(page: Any, path: Path, *more: Path) -> None:
    """Drag files onto the drop zone, as a user would from their file manager."""
    files = [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in (path, *more)]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def test_two_dropped_files_take_the_first_and_say_so(page: Any, tmp_path: Path) -> None:
    """Dropping two files takes the first, says so, and its upload is reviewed."""
    page.goto("/")
    first = example("advertisers.xlsx", GOOD_ROWS, tmp_path)
    second = tmp_path / "second.csv"
    second.write_text("name\n")
    drop_file(page, first, second)
    chosen = page.inner_text("#file-chosen")
    assert "advertisers.xlsx" in chosen and "one file at a time: the first of 2 was taken" in chosen
    assert " KB)" in chosen  # a small file is not "0.0 MB"
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")


def test_review_in_browser_lists_invalid_rows(page: Any, tmp_path: Path) -> None:
    """Uploading needs_fixing shows its invalid rows and messages, and the checked download."""
    page.goto("/")
    shot(page, "01-upload")
    page.set_input_files("#file", str(example("needs_fixing.xlsx", BAD_ROWS, tmp_path)))
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")
    assert int(page.inner_text(".tile.st-invalid .n")) >= 1
    problems = page.locator("table.problems tbody tr")
    assert problems.count() >= 2
    first = problems.first.locator("td")
    assert first.nth(0).inner_text().strip().isdigit()
    assert len(first.nth(4).inner_text().strip()) > 5  # the message
    assert page.locator("td.cell-error input").count() >= 1
    shot(page, "02-review-needs-fixing")
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
    shot(page, "20-confirm")
    page.click("#confirm-button")
    page.reload()  # the job lives on the server: a reload shows progress or the result
    page.wait_for_selector("#result-title", timeout=30_000)
    assert "Finished" in page.inner_text("#result-title")
    shot(page, "21-result")
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
    shot(page, "22-jobs")
    page.go_back()
    page.click("#release-link")
    page.wait_for_selector("#release-button")
    bought = sum(1 for r in rows[header + 1 :] if any(r))
    assert page.locator("table.data tbody tr").count() == bought  # every number listed
    shot(page, "23-release-confirm")
    page.click("#release-button")
    page.wait_for_selector("#result-title")
    page.click("nav >> text=Jobs")
    assert page.locator("#history").count() == 1
    shot(page, "24-history")


def test_the_confirm_page_says_it_checks_the_account(
    page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the groups are listed the confirm page says so, then shows the plan by itself."""
    from batchprov.web import ordering

    monkeypatch.setattr(ordering, "FIRST_WAIT", 0.0)
    held: list[Any] = []  # the page's first look again, held until it is photographed

    def hold_once(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(re.compile(r"/confirm\?.*check="), hold_once)
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "check.xlsx", GOOD_ROWS)))
    page.click("#upload-button")
    page.click("#order-link")
    page.wait_for_selector("#checking")
    assert "Checking the account" in page.inner_text("h1")
    assert page.locator("#confirm-button").count() == 0
    shot(page, "19-checking-account")
    deadline = time.monotonic() + 10
    while not held:  # the page looks again by itself
        assert time.monotonic() < deadline, "the checking page does not look again"
        page.wait_for_timeout(100)
    held[0].continue_()
    page.wait_for_selector("#confirm-button", timeout=30_000)
    assert "Checked against the account" in page.inner_text(".confirm")
    assert page.inner_text("#confirm-count") == str(len(GOOD_ROWS))


MISTAKES = [
    ["Lakeshore Dental", GROUP, "localtonumber", "9056372046", "", "", "289", "4165551234"],
    ["Calgary Cafe", GROUP, "localtocity", "", "Calgary", "Albrta", "", "4035551234"],
    ["Broken Phone Inc", GROUP, "localtonumber", "12345", "", "", "", "416-555-1234 ext. 9"],
]


def ledger_of(app: Starlette, names: set[str]) -> list[dict[str, Any]]:
    """The numbers requested under these names, from the ledgers of the jobs' sandboxes."""
    from batchprov.sandbox.store import Store

    found = []
    for path in (app.state.web.data_dir / "sandbox-journals").glob("*.sandbox.sqlite"):
        store = Store(path)
        found += [r.to_ledger() for r in store.records.values() if r.requested_name in names]
        store.close()
    return found


def test_fix_in_place_from_upload_to_provisioned(app: Starlette, page: Any, tmp_path: Path) -> None:
    """Type a fix, re-check, apply suggestions, order with options, download: all provisioned."""
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "mistakes.xlsx", MISTAKES)))
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")
    assert page.inner_text("#n-invalid") == "2"
    phone = page.locator("#c-4-4")
    assert "12345" == phone.locator("input").input_value()
    assert "10-digit number" in phone.locator(".msgs").inner_text()  # visible, not hover-only
    assert page.locator("#c-4-4 .msgs").is_visible()
    shot(page, "10-review-with-mistakes")
    page.fill("#in-4-4", "905 637 2046")
    assert "1 cell changed" in page.inner_text("#changes")
    page.click("#recheck")
    page.wait_for_selector("#fixed-note")
    assert "1 cell changed" in page.inner_text("#fixed-note")
    assert page.locator("#c-4-4").count() == 0  # no longer a problem
    page.click("#c-3-6 >> text=Use “AB”")  # one click: applied and checked again
    page.wait_for_selector("#fixed-note")
    page.click("#c-4-8 >> text=Use “4165551234”")
    page.wait_for_selector("#fixed-note:has-text('No problems left')")
    assert (page.inner_text("#n-valid"), page.inner_text("#n-invalid")) == ("3", "0")
    assert "Calgary, AB" in page.inner_text("table.preview")  # Expected Area
    shot(page, "11-review-fixed")
    with page.expect_download() as info:
        page.click("#download-corrected")
    corrected = tmp_path / "corrected.xlsx"
    info.value.save_as(corrected)
    rows = list(openpyxl.load_workbook(corrected).worksheets[0].iter_rows(values_only=True))
    assert (rows[2][5], rows[3][3], rows[3][7]) == ("AB", "905 637 2046", "4165551234")
    page.select_option("#fallback1", "overlay")
    page.select_option("#fallback2", "tollfree")
    page.fill("#price_per_number", "2.50")
    page.fill("#max_numbers", "10")
    page.click("#order-link")
    page.wait_for_selector("#confirm-button")
    assert page.inner_text("#confirm-count") == "3"
    assert "up to 7.50 (3 × 2.50)" in page.inner_text("#fact-cost")
    assert "Yes, order 3 numbers (7.50 a month)" in page.inner_text("#confirm-button")
    shot(page, "12-confirm-with-options")
    page.click("#confirm-button")
    page.wait_for_selector("#live, #result-title")
    if page.locator("#live").count():
        shot(page, "13-progress")
    page.wait_for_selector("#result-title", timeout=30_000)
    assert "Finished" in page.inner_text("#result-title")
    shot(page, "14-result")
    with page.expect_download() as info:
        page.click("#download-result")
    results = tmp_path / "results.xlsx"
    info.value.save_as(results)
    sheet = openpyxl.load_workbook(results).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    status = table[0].index("Status")
    assert [r[status] for r in table[1:] if any(r)] == ["provisioned (sandbox)"] * 3
    bought = ledger_of(app, {row[0] for row in MISTAKES})
    assert sorted(n["requested_name"] for n in bought) == sorted(row[0] for row in MISTAKES)
    assert all(n["name"] == n["requested_name"] for n in bought)  # no duplicate, no suffix
    requests = {n["requested_name"]: n["request"]["phone_number_request"] for n in bought}
    assert requests["Calgary Cafe"]["state"] == "AB"
    assert requests["Broken Phone Inc"]["local_to_number"] == "9056372046"


def test_finish_the_order_says_how_many_and_asks(app: Starlette, page: Any, tmp_path: Path) -> None:
    """Stop an order, then finish it: the button counts what is left, a plan confirms it."""
    names = [f"Resume Test {i:02d}" for i in range(60)]
    rows = [[name, GROUP, "tollfree", "", "", "", "", "4165551234"] for name in names]
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "many.xlsx", rows)))
    page.click("#upload-button")
    page.click("#order-link")
    page.click("#confirm-button")
    deadline = time.monotonic() + 30
    while page.inner_text("[data-count=provisioned]") == "0":  # (the page's CSP forbids eval)
        assert time.monotonic() < deadline, "nothing was ordered"
        page.wait_for_timeout(50)
    page.click("#stop-button")  # some numbers are bought by now, the rest not yet
    page.wait_for_selector("#finish-button", timeout=30_000)
    left = 60 - len(ledger_of(app, set(names)))
    assert left > 0
    assert page.inner_text("#finish-button") == f"Finish the order: {left} more numbers…"
    shot(page, "30-stopped")
    page.click("#finish-button")
    page.wait_for_selector("#confirm-button")
    assert page.inner_text("h1") == "Finish the order"
    assert page.inner_text("#confirm-count") == str(left)
    shot(page, "31-confirm-finish")
    page.click("#confirm-button")
    page.wait_for_selector("#result-title:has-text('Finished')", timeout=60_000)
    bought = ledger_of(app, set(names))
    assert sorted(n["name"] for n in bought) == names  # every row once: nothing bought twice


def test_every_page_fits_a_phone(browser: Any, site: str, tmp_path: Path) -> None:
    """At 390 px no page scrolls sideways (wide tables scroll in their own box), error pages
    included (which is why this tab does not fail on their 4xx answers)."""
    context = browser.new_context(base_url=site, viewport={"width": NARROW, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "phone.xlsx", MISTAKES + BAD_ROWS)))
    page.click("#upload-button")
    page.wait_for_selector("h1:has-text('Review')")
    review = page.url
    for path in ("/", review, review + "/confirm", "/jobs", "/jobs/" + "0" * 32):
        page.goto(path)
        assert_fits_a_phone(page, path)
    page.goto(review + "/confirm?price_per_number=oops")
    shot(page, "03-order-form-error")
    page.goto("/jobs/" + "0" * 32)
    shot(page, "04-not-found")
    context.close()


TWO_TABS = [[f"Two Tabs {i}", GROUP, "tollfree", "", "", "", "", "4165551234"] for i in range(3)]


def test_a_second_tab_of_the_confirm_page_does_not_break_the_first(
    app: Starlette, page: Any, tmp_path: Path
) -> None:
    """Confirm open in two tabs: "Yes, order" in the first orders; the second finds the order
    on its way; each row is bought once."""
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "tabs.xlsx", TWO_TABS)))
    page.click("#upload-button")
    job = page.url
    page.click("#order-link")
    page.wait_for_selector("#confirm-button")
    other = page.context.new_page()
    other.goto(job)
    other.click("#order-link")
    other.wait_for_selector("#confirm-button")  # the account is checked again for this tab
    page.click("#confirm-button")
    page.wait_for_selector("#live, #result-title")
    assert page.url == job and page.locator("#confirm-notice").count() == 0
    other.click("#confirm-button")
    other.wait_for_selector("#live, #result-title")
    assert other.url == job
    page.wait_for_selector("#result-title:has-text('Finished')", timeout=30_000)
    shot(page, "40-two-tabs-result")
    bought = ledger_of(app, {row[0] for row in TWO_TABS})
    assert sorted(n["name"] for n in bought) == [row[0] for row in TWO_TABS]  # each once
    other.close()


def test_a_plan_that_changed_is_said_on_the_confirm_page(
    app: Starlette, page: Any, tmp_path: Path
) -> None:
    """A tab whose plan no longer holds (a cell fixed in another tab) says so, shows the new
    plan, and buys nothing until confirmed again."""
    rows = [
        ["Changed Plan A", GROUP, "tollfree", "", "", "", "", "4165551234"],
        ["Changed Plan B", GROUP, "localtonumber", "12345", "", "", "", "4165551234"],
    ]
    page.goto("/")
    page.set_input_files("#file", str(make_workbook(tmp_path / "changed.xlsx", rows)))
    page.click("#upload-button")
    job = page.url
    page.click("#order-link")
    page.wait_for_selector("#confirm-button")
    assert page.inner_text("#confirm-count") == "1"
    other = page.context.new_page()
    other.goto(job)
    other.fill("#in-3-4", "9056372046")
    other.click("#recheck")
    other.wait_for_selector("#fixed-note")
    other.close()
    page.click("#confirm-button")
    page.wait_for_selector("#confirm-notice", timeout=30_000)
    assert page.inner_text("#confirm-notice") == (
        "The account was checked again and the plan changed: please confirm again."
    )
    assert page.inner_text("#confirm-count") == "2"
    assert ledger_of(app, {row[0] for row in rows}) == []
    shot(page, "41-confirm-plan-changed")
