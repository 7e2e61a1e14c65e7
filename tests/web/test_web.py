"""The web application through Starlette's TestClient: pages, defences and whole jobs."""

from __future__ import annotations

import base64
import io
import re
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import openpyxl
import pytest

with warnings.catch_warnings():
    # Starlette asks for `httpx2`; the project uses httpx, which its TestClient still accepts.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.config import Environment
from batchprov.models import RowResult, Status
from batchprov.order.journal import Journal
from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread
from batchprov.web import create_app
from batchprov.web.jobs import RUNNING, JobStore, LiveProgress

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GROUP = 11623282
HEADERS = [
    "name",
    "group_id",
    "match_type",
    "local_to_number",
    "city",
    "state",
    "number_match_filter",
    "termination_number",
]
GOOD_ROWS = [
    ["Burlington Dental", GROUP, "localtonumber", "9056372046", "", "", "289", "4165551234"],
    ["Peachtree Plumbing", GROUP, "localtocity", "", "Atlanta", "GA", "404", "4043993433"],
    ["Nationwide Movers", GROUP, "tollfree", "", "", "", "833", "4165551234"],
]
BAD_ROWS = [
    ["Good Row Bakery", GROUP, "tollfree", "", "", "", "", "4165551234"],
    ["Broken Phone Inc", GROUP, "localtonumber", "12345", "", "", "", "4165551234"],
    ["Nowhere Diner", GROUP, "localtocity", "", "Springfield", "ZZ", "", "4165551234"],
    ["", GROUP, "tollfree", "", "", "", "", "4165551234"],
]
TOKEN_MARKER = "tok-SECRET-7f3a9c-never-shown"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_workbook(path: Path, rows: list[list[Any]], headers: list[str] = HEADERS) -> Path:
    """Write a one-sheet workbook of these rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    """examples/advertisers.xlsx, or a small valid workbook until it exists."""
    example = EXAMPLES / "advertisers.xlsx"
    return example if example.exists() else make_workbook(tmp_path / "advertisers.xlsx", GOOD_ROWS)


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    """examples/needs_fixing.xlsx, or a workbook with planted problems until it exists."""
    example = EXAMPLES / "needs_fixing.xlsx"
    return example if example.exists() else make_workbook(tmp_path / "needs_fixing.xlsx", BAD_ROWS)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A sandbox server without login."""
    app = create_app(data_dir=tmp_path / "data", sandbox=True, api_url=None, auth=None)
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(client: TestClient, page: str = "/") -> str:
    """The CSRF token in a page's forms."""
    html = client.get(page).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def upload(
    client: TestClient,
    path: Path,
    *,
    name: str | None = None,
    group_id: str = "",
    token: str | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """POST a file to /upload the way the form does."""
    data = {"group_id": group_id, "csrf_token": token if token is not None else csrf_of(client)}
    body = content if content is not None else path.read_bytes()
    files = {"file": (name or path.name, body, "application/octet-stream")}
    return client.post("/upload", data=data, files=files, follow_redirects=False)


def job_url(response: httpx.Response) -> str:
    """The job page an upload redirected to."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/jobs/[0-9a-f]{32}", location)
    return location


def confirm_fields(client: TestClient, url: str, **options: str) -> dict[str, str]:
    """The fields the confirmation page's form sends (the order options and the count)."""
    page = client.get(f"{url}/confirm", params=options)
    deadline = time.monotonic() + 30
    while page.status_code == 202 and time.monotonic() < deadline:  # checking the account …
        time.sleep(0.2)
        again = re.search(r'http-equiv="refresh" content="2;url=([^"]+)"', page.text)
        assert again, "the checking page does not look again"
        page = client.get(again.group(1).replace("&amp;", "&"))
    assert page.status_code == 200, page.text
    form = page.text.split('id="order-form"')[1].split("</form>")[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def order(client: TestClient, url: str, **options: str) -> None:
    """Confirm the order from the confirmation page."""
    fields = confirm_fields(client, url, **options)
    sent = client.post(f"{url}/order", data=fields, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == url


def wait_finished(client: TestClient, url: str, timeout: float = 30) -> dict[str, Any]:
    """Poll the progress JSON until the job is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data: dict[str, Any] = client.get(f"{url}/progress.json").json()
        if data["finished"]:
            return data
        time.sleep(0.1)
    raise AssertionError("job did not finish in time")


def statuses_of(content: bytes) -> list[str]:
    """The Status column of an output workbook's first sheet."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if "Status" in r)
    column = rows[header_at].index("Status")
    return [str(r[column]) for r in rows[header_at + 1 :] if any(r)]


def test_health_check_is_open_but_pages_need_the_login(tmp_path: Path) -> None:
    """With --auth every page asks for the login except /healthz."""
    app = create_app(data_dir=tmp_path, sandbox=True, api_url=None, auth="amy:s3cret:x")
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        for path in ("/", "/jobs", "/template.xlsx", "/static/style.css"):
            response = client.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Basic")
        wrong = base64.b64encode(b"amy:wrong").decode()
        assert client.get("/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
        assert client.get("/", auth=("amy", "s3cret:x")).status_code == 200
        assert client.post("/upload", auth=("amy", "wrong")).status_code == 401


def test_two_files_in_one_upload_are_told_apart(client: TestClient, good_file: Path) -> None:
    """A form sending two files gets "Upload one file at a time.", not a generic error."""
    data = {"group_id": "", "csrf_token": csrf_of(client)}
    body = good_file.read_bytes()
    files = [("file", ("a.xlsx", body, "application/octet-stream"))] * 2
    response = client.post("/upload", data=data, files=files, follow_redirects=False)
    assert response.status_code == 400
    assert "Upload one file at a time." in response.text


def test_upload_of_a_good_file_shows_its_review(client: TestClient, good_file: Path) -> None:
    """An upload redirects to a review with counts, the plan and an enabled order button."""
    url = job_url(upload(client, good_file))
    page = client.get(url)
    assert page.status_code == 200
    assert "ready to order" in page.text
    assert "SANDBOX" in page.text
    assert f'action="{url}/confirm"' in page.text
    assert "No problems found" in page.text


def test_review_lists_every_planted_problem(client: TestClient, bad_file: Path) -> None:
    """Invalid rows are listed with their row number and message; ordering the rest is offered."""
    page = client.get(job_url(upload(client, bad_file)))
    invalid = re.search(
        r'<span class="n"[^>]*>(\d+)</span> with problems \(not ordered\)', page.text
    )
    assert invalid and int(invalid.group(1)) >= 2
    problems = page.text.split('class="data stack problems"')[1].split("</table>")[0]
    rows = re.findall(r'<td class="num" data-label="Row">(?:<a [^>]+>)?(\d+)', problems)
    assert len(set(rows)) == int(invalid.group(1))  # every invalid row is listed
    messages = re.findall(r'<td data-label="What to fix">([^<]{10,})</td></tr>', problems)
    assert len(messages) == len(rows)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.pdf", b"%PDF-1.4 fake", "is not a spreadsheet batchprov reads"),
        ("forged.xlsx", b"name,group_id\nA,1\n", "not a real Excel workbook"),
        ("forged.xls", b"PK\x03\x04 not really a zip", "not a real Excel workbook"),
        ("binary.csv", b"name,group\x00\x01\x02", "is not a text file"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_forged_uploads_get_a_clear_400(
    client: TestClient, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    """A file whose bytes do not match its name is refused with a message that says why."""
    response = upload(client, tmp_path / name, name=name, content=content)
    assert response.status_code == 400
    assert expected in response.text
    assert not list((tmp_path / "data" / "uploads").iterdir())


def test_a_zip_that_is_not_a_workbook_is_refused(client: TestClient, tmp_path: Path) -> None:
    """An .xlsx must be a zip holding xl/workbook.xml."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    response = upload(client, tmp_path / "x.xlsx", name="x.xlsx", content=buffer.getvalue())
    assert response.status_code == 400
    assert "zip archive but not an Excel workbook" in response.text


def test_csv_uploads_are_read(client: TestClient, tmp_path: Path) -> None:
    """Delimited text (Windows-1252 here) is accepted and reviewed."""
    text = "name;group_id;match_type;termination_number\nCafé Olé;11623282;tollfree;4165551234\n"
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode("cp1252"))
    page = client.get(job_url(upload(client, path)))
    assert "Café Olé" in page.text
    assert "ready to order" in page.text


def test_a_csv_is_named_for_its_file_not_the_job(client: TestClient, tmp_path: Path) -> None:
    """A CSV's sheet is the uploaded file's name (safe for Excel), on the page and in the output."""
    text = "name,group_id,match_type,termination_number\nCafe,11623282,tollfree,4165551234\n"
    path = tmp_path / "list.csv"
    path.write_text(text)
    name = "Spring [Promo]: new advertisers of the month.csv"
    url = job_url(upload(client, path, name=name))
    page = client.get(url).text
    assert "1 row read from sheet “Spring _Promo__ new advertisers”." in page
    client.post(f"{url}/order", data=confirm_fields(client, url), follow_redirects=False)
    assert wait_finished(client, url)["status"] == "done"
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{url}/results.xlsx").content))
    assert book.sheetnames[0] == "Spring _Promo__ new advertisers"


def test_missing_columns_are_explained_without_internal_names(
    client: TestClient, tmp_path: Path
) -> None:
    """A sheet without the required columns gets the library's message, with the user's name."""
    path = make_workbook(tmp_path / "wrong.xlsx", [["x", "y"]], headers=["Colour", "Size"])
    response = upload(client, path, name="My List.xlsx")
    assert response.status_code == 400
    assert "alert-error" in response.text
    assert not re.search(r"[0-9a-f]{32}", response.text.split("<main")[1])


def test_oversized_upload_gets_a_friendly_413(tmp_path: Path, good_file: Path) -> None:
    """Files above the limit are refused with a page that says how large they may be."""
    app = create_app(data_dir=tmp_path, sandbox=True, api_url=None, auth=None, max_upload=4096)
    with TestClient(app) as client:
        big = good_file.read_bytes() + b"\0" * 4096
        response = upload(client, good_file, content=big)
        assert response.status_code == 413
        assert "Files up to 4 KB can be uploaded" in response.text
        huge = b"x" * (200 * 1024)
        response = upload(client, good_file, name="big.csv", content=huge)
        assert response.status_code == 413
        assert "This file is too large" in response.text


def test_every_post_needs_the_csrf_token(client: TestClient, good_file: Path) -> None:
    """Missing or mismatched CSRF tokens are refused with 403 on every form."""
    assert upload(client, good_file, token="").status_code == 403
    assert upload(client, good_file, token="x" * 43).status_code == 403
    url = job_url(upload(client, good_file))
    for action in ("order", "stop", "fix"):
        response = client.post(f"{url}/{action}", data={"confirm": "yes"})
        assert response.status_code == 403
        response = client.post(f"{url}/{action}", data={"csrf_token": "forged", "confirm": "yes"})
        assert response.status_code == 403
    assert "checked, not ordered" in client.get("/jobs").text


def test_cells_and_file_names_are_shown_as_text(client: TestClient, tmp_path: Path) -> None:
    """A <script> cell or file name is escaped; the stored file gets a random name."""
    rows = [["<script>alert(1)</script>", GROUP, "tollfree", "", "", "", "", "4165551234"]]
    path = make_workbook(tmp_path / "x.xlsx", rows)
    url = job_url(upload(client, path, name="../../<img src=x onerror=alert(2)>.xlsx"))
    html = client.get(url).text + client.get("/jobs").text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;.xlsx" in html
    stored = list((tmp_path / "data" / "uploads").iterdir())
    assert [re.fullmatch(r"[0-9a-f]{32}\.xlsx", p.name) is not None for p in stored] == [True]


def test_pages_carry_security_headers(client: TestClient) -> None:
    """Every answer forbids framing and sniffing and limits scripts to this site."""
    for path in ("/", "/jobs", "/static/app.js", "/nope"):
        response = client.get(path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    cookie = client.get("/").headers.get("set-cookie", "")
    assert cookie == "" or ("HttpOnly" in cookie and "SameSite=Strict" in cookie)


def test_downloads_are_attachments(client: TestClient, bad_file: Path) -> None:
    """Template and checked workbook download as attachments, never shown inline."""
    template = client.get("/template.xlsx")
    assert template.status_code == 200
    assert template.headers["content-disposition"].startswith("attachment")
    url = job_url(upload(client, bad_file, name="needs fixing.xlsx"))
    checked = client.get(f"{url}/checked.xlsx")
    assert checked.status_code == 200
    assert checked.headers["content-type"] == XLSX
    assert checked.headers["content-disposition"].startswith("attachment")
    assert "needs%20fixing.checked.xlsx" in checked.headers["content-disposition"]
    assert "invalid" in statuses_of(checked.content)
    assert client.get(f"{url}/results.xlsx").status_code == 404
    assert client.get("/jobs/0123/results.xlsx").status_code == 404


def test_sandbox_job_from_upload_to_download(client: TestClient, good_file: Path) -> None:
    """Upload, review, confirm, watch progress, download: every valid row is provisioned."""
    url = job_url(upload(client, good_file))
    fields = confirm_fields(client, url)
    first = client.post(f"{url}/order", data=fields, follow_redirects=False)
    order_again = client.post(f"{url}/order", data=fields, follow_redirects=False)
    assert (first.status_code, order_again.status_code) == (303, 303)  # a double click …
    progress = wait_finished(client, url)
    assert progress["status"] == "done"
    assert progress["provisioned"] == progress["total"] > 0
    page = client.get(url)
    assert "Finished" in page.text and "SANDBOX" in page.text
    download = client.get(f"{url}/results.xlsx")
    assert download.headers["content-disposition"].startswith("attachment")
    statuses = statuses_of(download.content)
    assert statuses and set(statuses) == {"provisioned (sandbox)"}  # never bought
    jobs_page = client.get("/jobs").text
    assert f'href="{url}"' in jobs_page and "provisioned" in jobs_page


def test_ordering_is_off_without_token(tmp_path: Path, good_file: Path) -> None:
    """A real-API server without a token reviews files but will not order them."""
    app = create_app(
        data_dir=tmp_path, sandbox=False, api_url="https://api.example.test/v3/api", auth=None
    )
    with TestClient(app) as client:
        url = job_url(upload(client, good_file))
        page = client.get(url).text
        assert "has no API token" in page and "disabled" in page
        assert "https://api.example.test/v3/api" in page
        response = client.post(f"{url}/order", data={"csrf_token": csrf_of(client)})
        assert response.status_code == 409


@pytest.fixture
def live_api() -> Iterator[str]:
    """A sandbox served on loopback that plays the real API, with the marker as its token."""
    config = SandboxConfig(token=TOKEN_MARKER, faults=Faults(latency_ms=40))
    with serve_in_thread(config) as running:
        yield running.url


def test_token_never_reaches_the_browser(
    tmp_path: Path, good_file: Path, bad_file: Path, live_api: str, monkeypatch: Any
) -> None:
    """With TELMETRICS_TOKEN set, no page, header, JSON or download contains it."""
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN_MARKER)
    app = create_app(data_dir=tmp_path, sandbox=False, api_url=live_api, auth=None)
    seen: list[bytes] = []
    with TestClient(app) as client:
        client.event_hooks["response"] = [lambda r: seen.append(_raw(r))]
        url = job_url(upload(client, good_file))
        client.get(url)
        order(client, url)
        assert wait_finished(client, url)["status"] == "done"
        client.get(url)
        client.get("/jobs")
        download = client.get(f"{url}/results.xlsx")
        assert set(statuses_of(download.content)) == {"provisioned"}
        client.get(job_url(upload(client, bad_file)) + "/checked.xlsx")
    assert len(seen) > 10
    for raw in seen:
        assert TOKEN_MARKER.encode() not in raw
        assert TOKEN_MARKER.encode() not in _unzipped(raw)


def _raw(response: httpx.Response) -> bytes:
    response.read()
    head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return head.encode() + b"\n\n" + response.content


def _unzipped(raw: bytes) -> bytes:
    """The XML inside an .xlsx download (its text is compressed)."""
    start = raw.find(b"PK\x03\x04")
    if start < 0:
        return b""
    with zipfile.ZipFile(io.BytesIO(raw[start:])) as archive:
        return b"".join(archive.read(n) for n in archive.namelist())


def many_rows(path: Path, count: int) -> Path:
    """A workbook of `count` toll-free rows."""
    rest = [GROUP, "tollfree", "", "", "", "", "4165551234"]
    return make_workbook(path, [[f"Advertiser {i:03d}", *rest] for i in range(count)])


def test_stop_button_stops_like_ctrl_c(tmp_path: Path, live_api: str, monkeypatch: Any) -> None:
    """Stop lets requests in flight finish, writes the results and marks the rest not attempted."""
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN_MARKER)
    app = create_app(data_dir=tmp_path, sandbox=False, api_url=live_api, auth=None)
    with TestClient(app) as client:
        url = job_url(upload(client, many_rows(tmp_path / "many.xlsx", 80)))
        order(client, url)
        stop = client.post(f"{url}/stop", data={"csrf_token": csrf_of(client, url)})
        assert stop.status_code == 200  # redirected back to the job page
        result = wait_finished(client, url)
        assert result["status"] == "done"
        page = client.get(url).text
        assert "Stopped before the end" in page
        statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
        left = statuses.count("not attempted")
        assert left > 0
        assert f"Finish the order: {left} more number" in page  # the button says how many
        one_click = client.post(
            f"{url}/order", data={"csrf_token": csrf_of(client), "confirm": "yes"}
        )
        assert one_click.status_code == 200 and 'id="confirm-count">' in one_click.text
        assert client.get(f"{url}/progress.json").json()["status"] == "done"  # not re-run
        fields = confirm_fields(client, url)
        assert fields["count"] == str(left)  # the confirmation shows the plan of what is left
        finish = client.post(f"{url}/order", data=fields)
        assert finish.status_code == 200
        assert wait_finished(client, url)["status"] == "done"
        finished = statuses_of(client.get(f"{url}/results.xlsx").content)
        assert len(finished) == 80
        assert set(finished) <= {"provisioned", "already provisioned"}
        assert _group_total(live_api) == 80  # nothing bought twice


def _group_total(api_url: str) -> int:
    """How many numbers the sandbox has handed out in the group."""
    response = httpx.get(
        f"{api_url}/groups/{GROUP}/numbers",
        params={"pagesize": 1, "pagenumber": 1},
        headers={"x-organization-token": TOKEN_MARKER},
    )
    return int(response.json()["paging"]["total"])


def test_restart_resumes_a_running_job_without_buying_twice(
    tmp_path: Path, good_file: Path, live_api: str, monkeypatch: Any
) -> None:
    """A job left `running` by a crash is re-run at start-up; the journal prevents re-buying."""
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN_MARKER)
    data = tmp_path / "data"
    app = create_app(data_dir=data, sandbox=False, api_url=live_api, auth=None)
    with TestClient(app) as client:
        url = job_url(upload(client, good_file))
        order(client, url)
        assert wait_finished(client, url)["status"] == "done"
    bought = _group_total(live_api)
    job_id = url.rsplit("/", 1)[1]
    JobStore(data / "jobs.sqlite").update(job_id, status=RUNNING, output_path=None)
    again = create_app(data_dir=data, sandbox=False, api_url=live_api, auth=None)
    with TestClient(again) as client:
        assert wait_finished(client, url)["status"] == "done"
        statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
    assert statuses and all(s in ("provisioned", "already provisioned") for s in statuses)
    assert _group_total(live_api) == bought


def test_unknown_jobs_are_404(client: TestClient) -> None:
    """Job ids that do not exist, or are not ids at all, give a plain 404 page."""
    for path in ("/jobs/" + "0" * 32, "/jobs/../../etc/passwd", "/jobs/abc/progress.json"):
        response = client.get(path)
        assert response.status_code == 404


def test_live_progress_lists_rows_and_errors_as_they_finish() -> None:
    """Rows the runner reports with its progress show up at once; failures also as errors."""
    live = LiveProgress(total=2)
    ok = RowResult(index=0, excel_row=2, status=Status.PROVISIONED, tracking_number="8335550100")
    bad = RowResult(index=1, excel_row=3, status=Status.FAILED, error="HTTP 400: no number")
    counts = {"total": 2, "provisioned": 1, "failed": 0, "retries": 0, "throttled": 0}
    live.update(SimpleNamespace(**counts, done=1, last=ok))
    live.update(SimpleNamespace(**{**counts, "failed": 1}, done=2, last=bad))
    live.update(SimpleNamespace(**{**counts, "failed": 1}, done=2, last=bad))
    snap = live.snapshot()
    assert (snap["done"], snap["provisioned"], snap["failed"]) == (2, 1, 1)
    assert [r["excel_row"] for r in snap["recent"]] == [3, 2]
    assert [r["error"] for r in snap["errors"]] == ["HTTP 400: no number"]


def test_xls_workbooks_are_accepted(client: TestClient, tmp_path: Path) -> None:
    """A genuine Excel 97-2003 file passes the OLE2 sniffing and is reviewed."""
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Advertisers")
    for r, row in enumerate([HEADERS, GOOD_ROWS[2]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    path = tmp_path / "old.xls"
    book.save(str(path))
    page = client.get(job_url(upload(client, path)))
    assert "Nationwide Movers" in page.text and "ready to order" in page.text


def test_serve_command_builds_the_app_on_loopback(tmp_path: Path, monkeypatch: Any) -> None:
    """`batchprov serve` defaults to 127.0.0.1:8000 and passes its options to create_app."""
    import uvicorn
    from click.testing import CliRunner

    from batchprov.web.cli import serve_command

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    result = CliRunner().invoke(
        serve_command, ["--sandbox", "--data-dir", str(tmp_path), "--auth", "a:b"]
    )
    assert result.exit_code == 0, result.output
    assert (calls[0]["host"], calls[0]["port"]) == ("127.0.0.1", 8000)
    assert calls[0]["app"].state.web.sandbox is True
    assert "SANDBOX" in result.output
    bad = CliRunner().invoke(serve_command, ["--auth", "nopassword"])
    assert bad.exit_code == 2


def test_a_failed_job_can_be_tried_again(
    tmp_path: Path, good_file: Path, live_api: str, monkeypatch: Any
) -> None:
    """A job that could not start shows why; Try again runs it once the cause is gone."""
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN_MARKER)
    app = create_app(data_dir=tmp_path, sandbox=False, api_url=live_api, auth=None)
    with TestClient(app) as client:
        url = job_url(upload(client, good_file))
        shared = Environment.read().default_journal()  # the command line's journal too
        with Journal.open(shared):  # a command-line run holds it
            order(client, url)
            assert wait_finished(client, url)["status"] == "failed"
        page = client.get(url).text
        assert "could not be completed" in page and "retry-button" in page
        retry = client.post(f"{url}/order", data=confirm_fields(client, url))
        assert retry.status_code == 200
        assert wait_finished(client, url)["status"] == "done"
        assert set(statuses_of(client.get(f"{url}/results.xlsx").content)) == {"provisioned"}


def test_a_job_checked_in_another_mode_is_not_ordered(tmp_path: Path, good_file: Path) -> None:
    """A file checked by a sandbox server cannot be ordered after a restart in live mode."""
    with TestClient(create_app(data_dir=tmp_path, sandbox=True, api_url=None, auth=None)) as c:
        url = job_url(upload(c, good_file))
    live = create_app(data_dir=tmp_path, sandbox=False, api_url="https://x.test/v3", auth=None)
    with TestClient(live) as client:
        assert "checked while the server ordered from somewhere else" in client.get(url).text
        response = client.post(
            f"{url}/order", data={"csrf_token": csrf_of(client), "confirm": "yes"}
        )
        assert response.status_code == 409
