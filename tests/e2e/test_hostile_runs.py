"""Whole runs through the command line against a hostile API: no hang, traceback, leak or formula.

Each case runs ``batchprov run`` in a subprocess against `HostileApi` and asserts that it ends
in bounded time with the documented exit code and no traceback, that nothing was bought twice,
and then sweeps everything the run produced (stdout, stderr, the output, the journal's bytes)
for pieces of the token and for cells that a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from hostile_api import BAD_2XX, ESCAPES, TOKEN, HostileApi
from hostile_files import beyond_last_row_xlsx

from batchprov.config import Api, RunConfig
from batchprov.pipeline import check_file, plan_run
from batchprov.redact import PIECE

ROOT = Path(__file__).resolve().parents[2]
GROUP = 5
NAMES = [f"Hostile Test Advertiser {i}" for i in range(5)]
#: Cells of the sheet a spreadsheet would run as formulas, or that say "dangerous".
INJECTIONS = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "=SUM(A1:A2)",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Longest a hostile run may take (its requests' deadlines are 2 s).
BOUND = 60.0


@dataclass
class Run:
    code: int
    out: str
    err: str
    took: float


def write_input(path: Path) -> None:
    """Five valid rows, with formula-like text in a column of the user's own."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["name", "group_id", "match_type", "local_to_number", "termination_number", "Notes"]
        )
        for name, note in zip(NAMES, INJECTIONS, strict=True):
            writer.writerow([name, GROUP, "localtonumber", "9056372046", "4165551234", note])


def run_cli(
    tmp: Path,
    url: str,
    *,
    output: str = "out.csv",
    extra: tuple[str, ...] = (),
    token: str = TOKEN,
) -> Run:
    inp = tmp / "in.csv"
    if not inp.exists():
        write_input(inp)
    cmd = [
        sys.executable, "-m", "batchprov", "run", str(inp), "-o", str(tmp / output),
        "--api-url", url, "--journal", str(tmp / "journal.sqlite"), "--yes", "--quiet",
        "--timeout", "2", *extra,
    ]  # fmt: skip
    env = {**os.environ, "TELMETRICS_TOKEN": token, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BOUND + 30)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def assert_sane(run: Run, code: int) -> None:
    """Bounded, no traceback, the documented exit code."""
    assert run.took < BOUND
    assert "Traceback" not in run.err and "Traceback" not in run.out, run.err
    assert run.code == code, (run.out, run.err)


def produced(tmp: Path, run: Run) -> dict[str, str]:
    """Every text the run produced: its streams, each file it wrote (xlsx unzipped)."""
    texts = {"stdout": run.out, "stderr": run.err}
    for path in tmp.iterdir():
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                for member in zf.namelist():
                    texts[f"{path.name}:{member}"] = zf.read(member).decode("utf-8", "replace")
        elif path.is_file():
            texts[path.name] = path.read_bytes().decode("latin-1")
    return texts


def token_leaks(texts: dict[str, str], secret: str = TOKEN) -> list[str]:
    """Where a piece of ``secret`` of `PIECE` characters appears."""
    pieces = {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}
    return [where for where, text in texts.items() if any(p in text for p in pieces)]


def csv_injections(path: Path) -> list[str]:
    """Cells of a CSV output that start like a formula."""
    text = path.read_text(encoding="utf-8-sig")
    return [c for row in csv.reader(io.StringIO(text)) for c in row if c.startswith(FORMULA_START)]


def xlsx_formulas(path: Path) -> list[str]:
    """Cells of a workbook stored as formulas (any sheet)."""
    found = []
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if member.startswith("xl/worksheets/sheet"):
                xml = zf.read(member).decode()
                if "<f>" in xml or "<f " in xml:
                    found.append(member)
    return found


def rows_of(path: Path) -> dict[str, dict[str, str]]:
    """The CSV output's rows by name."""
    text = path.read_text(encoding="utf-8-sig")
    return {r["name"]: r for r in csv.DictReader(io.StringIO(text))}


def journal_states(tmp: Path) -> list[str]:
    with sqlite3.connect(tmp / "journal.sqlite") as db:
        return sorted(str(s) for (s,) in db.execute("SELECT state FROM item"))


def test_trickled_answers_are_reconciled_and_bought_once(tmp_path: Path) -> None:
    """Create answers trickled a byte per half second: unknown at 2 s, adopted, bought once."""
    with HostileApi("trickle") as api:
        run = run_cli(tmp_path, api.url)
    assert_sane(run, 0)
    assert set(api.bought.values()) == {1} and len(api.bought) == len(NAMES)
    assert {r["Status"] for r in rows_of(tmp_path / "out.csv").values()} == {"provisioned"}


def test_huge_answers_are_reconciled_and_bought_once(tmp_path: Path) -> None:
    """100 MB create answers are cut at the cap, reconciled, and bought once each."""
    with HostileApi("huge") as api:
        run = run_cli(tmp_path, api.url)
    assert_sane(run, 0)
    assert set(api.bought.values()) == {1} and len(api.bought) == len(NAMES)


@pytest.mark.parametrize("mode", ["endless", "too_many", "looping"])
def test_unfollowable_listing_fails_the_rows_clearly(tmp_path: Path, mode: str) -> None:
    """Pages that never end or loop: the group's rows fail, nothing is sent, the run ends."""
    with HostileApi(mode) as api:
        run = run_cli(tmp_path, api.url)
    assert_sane(run, 1)
    assert api.posts == 0 and api.gets <= 16
    errors = {r["Error"] for r in rows_of(tmp_path / "out.csv").values()}
    assert all("unusable" in e for e in errors), errors


@pytest.mark.parametrize(("mode", "wait"), [("retry_after", "24 h"), ("retry_date", "years")])
def test_retry_after_beyond_the_cap_stops_like_an_outage(
    tmp_path: Path, mode: str, wait: str
) -> None:
    """A Retry-After of a day or until 2099 stops the run at once: exit 3, output written."""
    with HostileApi(mode) as api:
        run = run_cli(tmp_path, api.url)
    assert_sane(run, 3)
    assert wait in run.out and "run the same command later" in run.out
    assert api.bought.total() == 0 and api.posts <= len(NAMES)
    assert (tmp_path / "out.csv").exists()


#: What each bad 2xx of `hostile_api.BAD_2XX` makes the row's error say.
BAD_ERRORS = {
    "phone_123": "'123' is not a 10-digit North American number",
    "formula": "'=1+1' is not a 10-digit North American number",
    "other_group": "it is in group '6', not group 5",
    "other_name": "its name 'Somebody Else' is not",
    "missing_ids": "without the number's id and phone_number",
}


def test_bad_2xx_goes_to_review_and_is_never_resent(tmp_path: Path) -> None:
    """Each 2xx describing another number fails for review; one naming none is reconciled."""
    with HostileApi("bad_2xx") as api:
        first = run_cli(tmp_path, api.url)
        posts = api.posts
        again = run_cli(tmp_path, api.url)
    assert_sane(first, 1)
    assert_sane(again, 1)
    assert posts == len(NAMES) and api.posts == posts  # the second run sent nothing
    assert set(api.bought.values()) == {1}
    assert journal_states(tmp_path) == ["DONE"] + ["REVIEW"] * (len(NAMES) - 1)
    rows = rows_of(tmp_path / "out.csv")
    for name in NAMES:
        row, mode = rows[name], BAD_2XX[int(name[-1])]
        if mode == "missing_ids":  # it says it bought, not what: the listing showed what
            assert row["Status"] == "already provisioned" and row["Tracking Number"], row
            continue
        assert row["Status"] == "failed"
        assert BAD_ERRORS[mode] in row["Error"] and "It may have bought" in row["Error"], row
        assert not row["Tracking Number"]
    assert csv_injections(tmp_path / "out.csv") == []


def test_2xx_saying_nothing_is_never_resent_when_no_listing_shows_it(tmp_path: Path) -> None:
    """A 202 with no body whose number no listing shows yet: looked for again, never re-sent."""
    with HostileApi("accepted") as api:
        first = run_cli(tmp_path, api.url)
        posts = api.posts
        again = run_cli(tmp_path, api.url)
        plan = plan_run(
            check_file(tmp_path / "in.csv"),
            config=RunConfig(journal=tmp_path / "journal.sqlite"),
            api=Api(api.url, TOKEN),
        )
    assert (plan.to_order, plan.held) == (0, len(NAMES))  # the plan counts none as to buy
    assert_sane(first, 1)
    assert_sane(again, 1)
    assert posts == len(NAMES) and api.posts == posts
    assert set(api.bought.values()) == {1}
    assert journal_states(tmp_path) == ["UNKNOWN"] * len(NAMES)  # a later run looks again
    for row in rows_of(tmp_path / "out.csv").values():
        assert row["Status"] == "failed" and not row["Tracking Number"]
        assert "HTTP 202 with an unreadable body, which says it bought" in row["Error"], row
        assert "so it is not sent again. Run the same command later" in row["Error"]


def test_token_echoed_everywhere_never_reaches_any_output(tmp_path: Path) -> None:
    """A server echoing the token in names, errors and headers: no piece of it anywhere."""
    with HostileApi("token_echo") as api:
        first = run_cli(tmp_path, api.url, output="out.xlsx")
        again = run_cli(tmp_path, api.url, output="again.csv")
    assert_sane(first, 1)
    assert_sane(again, 1)
    assert max(api.bought.values()) == 1
    texts = produced(tmp_path, first)
    texts.update({f"again {k}": v for k, v in produced(tmp_path, again).items()})
    assert any("journal.sqlite" in k for k in texts)
    assert token_leaks(texts) == []
    assert "[redacted]" in texts["again.csv"] or "***" in texts["again.csv"]
    assert xlsx_formulas(tmp_path / "out.xlsx") == []


def test_token_echoed_escaped_never_reaches_any_output(tmp_path: Path) -> None:
    """400s echoing a token with slashes as \\/, \\u.., %2F or base64: in no stream or file."""
    token = "k7Hq2vLp/Z9xW4mRt/B6nY3cQe8"
    with HostileApi("token_escaped", token=token) as api:
        run = run_cli(tmp_path, api.url, output="out.xlsx", token=token)
        assert api.posts == len(NAMES)
    assert_sane(run, 1)
    texts = produced(tmp_path, run)
    assert any("journal.sqlite" in k for k in texts)
    forms = [token, *(encode(token) for encode in ESCAPES.values())]
    for form in forms:
        assert token_leaks(texts, form) == [], form
    sheet = texts["out.xlsx:xl/worksheets/sheet1.xml"]
    assert sheet.count("your token is ***") == len(NAMES)


def test_url_credentials_are_used_and_never_printed_or_stored(tmp_path: Path) -> None:
    """user:pw@ in --api-url authenticates, but no stream or file of the run holds it."""
    with HostileApi("ok") as api:
        url = api.url.replace("http://", "http://robot:Pa55w0rd-secret@")
        run = run_cli(tmp_path, url, output="out.xlsx")
        assert len(api.auth_headers) == api.gets + api.posts > api.posts  # the listing too
    assert_sane(run, 0)
    assert "127.0.0.1" in run.out
    assert token_leaks(produced(tmp_path, run), "robot:Pa55w0rd-secret") == []
    assert token_leaks(produced(tmp_path, run), "Pa55w0rd-secret") == []


def test_formulas_from_the_sheet_are_neutralised_in_csv(tmp_path: Path) -> None:
    """The sheet's own formula-like cells come back in the CSV behind a leading quote."""
    with HostileApi("ok") as api:
        run = run_cli(tmp_path, api.url)
    assert_sane(run, 0)
    assert csv_injections(tmp_path / "out.csv") == []
    notes = [r["Notes"] for r in rows_of(tmp_path / "out.csv").values()]
    assert notes == ["'" + n for n in INJECTIONS]
    assert set(api.bought.values()) == {1}


def test_ctrl_c_ends_a_retry_after_wait_at_once(tmp_path: Path) -> None:
    """Ctrl-C while the API's Retry-After (10 min) is being waited out: exit 3 within seconds."""
    write_input(tmp_path / "in.csv")
    with HostileApi("retry_600") as api:
        cmd = [
            sys.executable, "-m", "batchprov", "run", str(tmp_path / "in.csv"),
            "-o", str(tmp_path / "out.csv"), "--api-url", api.url,
            "--journal", str(tmp_path / "journal.sqlite"), "--yes", "--quiet", "--timeout", "2",
        ]  # fmt: skip
        env = {**os.environ, "TELMETRICS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while api.posts < 1:
                assert time.monotonic() < deadline, "the run never sent"
                time.sleep(0.05)
            time.sleep(1.0)  # now waiting out the Retry-After
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert took < 5
    assert proc.returncode == 3
    assert b"Traceback" not in err
    assert (tmp_path / "out.csv").exists()
    assert api.bought.total() == 0


def test_results_past_column_xfd_stop_before_any_request(tmp_path: Path) -> None:
    """A sheet using the last columns: one line, exit 2, and nothing sent."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    headers = ["name", "group_id", "match_type", "local_to_number", "termination_number"]
    row = [NAMES[0], GROUP, "localtonumber", "9056372046", "4165551234"]
    for column, (header, value) in enumerate(zip(headers, row, strict=True), start=1):
        ws.cell(row=1, column=column, value=header)
        ws.cell(row=2, column=column, value=value)
    ws.cell(row=1, column=16380, value="Notes")
    ws.cell(row=2, column=16380, value="far right")
    wb.save(tmp_path / "wide.xlsx")
    (tmp_path / "in.csv").write_text("unused\n")
    with HostileApi("ok") as api:
        cmd = [
            sys.executable, "-m", "batchprov", "run", str(tmp_path / "wide.xlsx"),
            "--api-url", api.url, "--journal", str(tmp_path / "journal.sqlite"), "--yes",
        ]  # fmt: skip
        env = {**os.environ, "TELMETRICS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BOUND)
        assert api.posts == 0 and api.gets == 0
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "XFD" in proc.stderr
    assert not (tmp_path / "wide.results.xlsx").exists()


def test_rows_past_excel_s_last_row_stop_before_any_request(tmp_path: Path) -> None:
    """A data row at 1,048,577: run and validate refuse in one line, exit 2; a .csv output works."""
    source = beyond_last_row_xlsx(tmp_path)
    env = {**os.environ, "TELMETRICS_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    journal = ["--journal", str(tmp_path / "journal.sqlite")]
    with HostileApi("ok") as api:
        run = [sys.executable, "-m", "batchprov", "run", str(source), "--api-url", api.url]
        refused = subprocess.run(
            [*run, *journal, "--yes"], env=env, capture_output=True, text=True, timeout=BOUND
        )
        assert api.posts == 0 and api.gets == 0
        check = [sys.executable, "-m", "batchprov", "validate", str(source)]
        checked = subprocess.run(check, env=env, capture_output=True, text=True, timeout=BOUND)
        out = tmp_path / "results.csv"
        cmd = [*run, *journal, "--yes", "-o", str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=BOUND)
        assert api.posts == 2
    for proc in (refused, checked):
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "1,048,576" in proc.stderr and ".csv" in proc.stderr
        assert "unexpectedly" not in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("beyond.*.xlsx"))
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8-sig").count("provisioned") == 2
