"""kill -9 at any moment loses nothing and buys nothing twice: the next run completes the job.

Each scenario runs the real command line in a subprocess against a sandbox served on loopback by
the test process (so the sandbox outlives every killed run), kills it, runs it again until it
finishes, then compares the sandbox's ledger with the output workbook.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import openpyxl
import pytest

from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread

ROWS = 40
GROUP = 11623282


def write_rows(path: Path, count: int = ROWS) -> list[str]:
    """A CSV of toll-free and local rows with unique names."""
    names = [f"Crash Test Advertiser {i:03d}" for i in range(count)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "group_id", "match_type", "local_to_number", "termination_number"])
        for i, name in enumerate(names):
            if i % 2:
                writer.writerow([name, GROUP, "tollfree", "", "4165551234"])
            else:
                writer.writerow([name, GROUP, "localtonumber", "9056372046", "4165551234"])
    return names


def command(inp: Path, out: Path, journal: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "batchprov",
        "run",
        str(inp),
        "-o",
        str(out),
        "--api-url",
        url,
        "--journal",
        str(journal),
        "--yes",
        "--quiet",
        "--concurrency",
        "4",
        "--rate",
        "200",
        "--timeout",
        "2",
    ]


def run_once(
    cmd: list[str], *, crash_at: str | None = None, kill_after: float | None = None
) -> int:
    """Run the CLI once; crash at a named point or SIGKILL it after a delay."""
    env = {**os.environ, "TELMETRICS_TOKEN": "sandbox"}
    env.pop("BATCHPROV_CRASH_AT", None)
    if crash_at:
        env["BATCHPROV_CRASH_AT"] = crash_at
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=120)
    return proc.returncode


def finish(cmd: list[str], tries: int = 6) -> int:
    """Re-run the same command until it exits 0 (the job is complete)."""
    code = -1
    for _ in range(tries):
        code = run_once(cmd)
        if code == 0:
            break
    return code


def scorecard(names: list[str], base: str, out: Path) -> dict[str, int]:
    """Compare the sandbox's ledger with the output workbook."""
    ledger = httpx.get(f"{base}/_sandbox/ledger", headers={"x-organization-token": "sandbox"})
    entries = ledger.json()
    bought = Counter(entry["requested_name"] for entry in entries)
    sheet = openpyxl.load_workbook(out).worksheets[0]
    header = [c.value for c in sheet[1]]
    status_col, number_col = header.index("Status"), header.index("Tracking Number")
    name_col = header.index("name")
    shown = {
        row[name_col]: (row[status_col], row[number_col])
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    phones = {e["requested_name"]: e["phone_number"] for e in entries}
    owned = {"provisioned", "already provisioned"}
    return {
        "rows": len(names),
        "bought": sum(bought.values()),
        "duplicates": sum(n - 1 for n in bought.values() if n > 1),
        "lost": sum(1 for n in bought if shown.get(n, ("", None))[1] != phones[n]),
        "unresolved": sum(1 for n in names if shown[n][0] not in owned),
    }


@pytest.fixture
def sandbox():  # type: ignore[no-untyped-def]
    config = SandboxConfig(seed=7, faults=Faults(latency_ms=15, jitter_ms=10))
    with serve_in_thread(config) as server:
        yield server


CRASH_POINTS = [
    "after_intent_commit:1",
    "after_intent_commit:9",
    "after_send_before_commit:4",
    "after_send_before_commit:25",
    "after_result_commit:13",
    "after_result_commit:40",
]


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_crash_at_named_point_then_rerun(sandbox, tmp_path: Path, crash_at: str) -> None:  # type: ignore[no-untyped-def]
    """A run killed at a named point and re-run ends with every row bought exactly once."""
    names = write_rows(tmp_path / "in.csv")
    out, journal = tmp_path / "out.xlsx", tmp_path / "journal.sqlite"
    cmd = command(tmp_path / "in.csv", out, journal, sandbox.url)
    assert run_once(cmd, crash_at=crash_at) == 137
    assert finish(cmd) == 0
    card = scorecard(names, sandbox.url.rsplit("/v3/api", 1)[0], out)
    print(f"crash {crash_at}: {card}")
    assert card == {"rows": ROWS, "bought": ROWS, "duplicates": 0, "lost": 0, "unresolved": 0}


def test_random_sigkills_then_rerun(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL at five random moments, then a clean finish: no duplicate, nothing lost."""
    names = write_rows(tmp_path / "in.csv", 60)
    out, journal = tmp_path / "out.xlsx", tmp_path / "journal.sqlite"
    cmd = command(tmp_path / "in.csv", out, journal, sandbox.url)
    rng = random.Random(5)
    for _ in range(5):
        run_once(cmd, kill_after=rng.uniform(0.8, 2.0))
    started = time.monotonic()
    assert finish(cmd) == 0
    card = scorecard(names, sandbox.url.rsplit("/v3/api", 1)[0], out)
    print(f"random kills: {card}, final run {time.monotonic() - started:.1f} s")
    assert card == {"rows": 60, "bought": 60, "duplicates": 0, "lost": 0, "unresolved": 0}


def test_a_rows_number_from_a_killed_run_is_planned_as_kept(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The plan after a kill counts a row sent without an answer as kept, not found or bought."""
    from batchprov.config import Api, RunConfig
    from batchprov.pipeline import check_file, plan_run

    write_rows(tmp_path / "in.csv", 6)
    out, journal = tmp_path / "out.xlsx", tmp_path / "journal.sqlite"
    cmd = command(tmp_path / "in.csv", out, journal, sandbox.url)
    assert run_once(cmd, crash_at="after_send_before_commit:3") == 137
    checked = check_file(tmp_path / "in.csv")
    plan = plan_run(checked, config=RunConfig(journal=journal), api=Api(sandbox.url, "sandbox"))
    assert plan.recovered >= 1 and plan.found == 0  # in flight when killed: bought, kept
    assert plan.already + plan.recovered + plan.to_order == 6
    assert "an earlier run sent without hearing back" in plan.describe()
