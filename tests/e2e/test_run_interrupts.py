"""Ctrl-C once, Ctrl-C twice, and re-running an output workbook, through the real command line.

The sandbox is served by the test process so it outlives the interrupted runs; its ledger is
compared with the output after every scenario.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from test_run_crash import write_rows

from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread

TOKEN = {"x-organization-token": "sandbox"}


@pytest.fixture
def sandbox() -> Iterator[Any]:
    config = SandboxConfig(seed=11, faults=Faults(latency_ms=150, jitter_ms=20))
    with serve_in_thread(config) as server:
        yield server


def base(server: Any) -> str:
    return str(server.url).rsplit("/v3/api", 1)[0]


def ledger(server: Any) -> Counter[str]:
    entries = httpx.get(f"{base(server)}/_sandbox/ledger", headers=TOKEN).json()
    return Counter(entry["requested_name"] for entry in entries)


def start(inp: Path, out: Path, journal: Path, url: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "batchprov", "run", str(inp), "-o", str(out),
        "--api-url", url, "--journal", str(journal), "--yes", "--quiet",
        "--concurrency", "2", "--rate", "8",
    ]  # fmt: skip
    env = {**os.environ, "TELMETRICS_TOKEN": "sandbox"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_purchases(server: Any, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sum(ledger(server).values()) < count:
        assert time.monotonic() < deadline, "the run never started ordering"
        time.sleep(0.05)


def statuses(out: Path) -> dict[str, tuple[str, str | None]]:
    sheet = openpyxl.load_workbook(out).worksheets[0]
    header = [c.value for c in sheet[1]]
    name, status, number = (header.index(h) for h in ("name", "Status", "Tracking Number"))
    return {
        row[name]: (row[status], row[number])
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }


def rerun(inp: Path, out: Path, journal: Path, url: str) -> int:
    proc = start(inp, out, journal, url)
    return proc.wait(timeout=120)


def test_ctrl_c_once_finishes_in_flight_writes_output_and_exits_3(
    sandbox: Any, tmp_path: Path
) -> None:
    """First Ctrl-C: no new orders, the output shows every bought number, the rest not attempted."""
    names = write_rows(tmp_path / "in.csv", 40)
    out, journal = tmp_path / "out.xlsx", tmp_path / "j.sqlite"
    proc = start(tmp_path / "in.csv", out, journal, sandbox.url)
    wait_for_purchases(sandbox, 3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 3
    bought = ledger(sandbox)
    shown = statuses(out)
    assert 3 <= sum(bought.values()) < 40
    assert all(shown[n][0] == "provisioned" and shown[n][1] for n in bought)
    assert {"not attempted"} == {shown[n][0] for n in names if n not in bought}
    assert rerun(tmp_path / "in.csv", out, journal, sandbox.url) == 0
    assert Counter({n: 1 for n in names}) == ledger(sandbox)


def test_ctrl_c_twice_quits_at_once_and_the_next_run_is_safe(sandbox: Any, tmp_path: Path) -> None:
    """Second Ctrl-C exits at once; the next run completes with nothing bought twice."""
    names = write_rows(tmp_path / "in.csv", 40)
    out, journal = tmp_path / "out.xlsx", tmp_path / "j.sqlite"
    proc = start(tmp_path / "in.csv", out, journal, sandbox.url)
    wait_for_purchases(sandbox, 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 3
    assert rerun(tmp_path / "in.csv", out, journal, sandbox.url) == 0
    assert Counter({n: 1 for n in names}) == ledger(sandbox)
    assert all(s == "provisioned" or s == "already provisioned" for s, _ in statuses(out).values())


def test_rerunning_the_output_workbook_orders_nothing(sandbox: Any, tmp_path: Path) -> None:
    """An output workbook used as input, with a fresh journal, sends no order at all."""
    names = write_rows(tmp_path / "in.csv", 10)
    out = tmp_path / "out.xlsx"
    assert rerun(tmp_path / "in.csv", out, tmp_path / "j1.sqlite", sandbox.url) == 0
    before = httpx.get(f"{base(sandbox)}/_sandbox/stats", headers=TOKEN).json()
    again = tmp_path / "again.xlsx"
    assert rerun(out, again, tmp_path / "j2.sqlite", sandbox.url) == 0
    after = httpx.get(f"{base(sandbox)}/_sandbox/stats", headers=TOKEN).json()
    posts = {k: v for k, v in after.items() if k.startswith("POST")}
    assert posts == {k: v for k, v in before.items() if k.startswith("POST")}
    shown = statuses(again)
    assert {"already provisioned"} == {shown[n][0] for n in names}
    header = [c.value for c in openpyxl.load_workbook(again).worksheets[0][1]]
    assert header.count("Status") == 1


def listings_to_come(server: Any) -> int:
    """How many of the scripted listing outcomes are still to be met."""
    faults = httpx.get(f"{base(server)}/_sandbox/faults", headers=TOKEN).json()
    return len(faults["list_script"])


def interrupt_while_listing(server: Any, *args: str) -> tuple[int, float, str]:
    """Start ``batchprov *args``, Ctrl-C once it met every scripted listing outcome:
    (exit code, seconds it took to stop, its output)."""
    cmd = [sys.executable, "-m", "batchprov", *args, "--api-url", server.url]
    env = {**os.environ, "TELMETRICS_TOKEN": "sandbox"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while listings_to_come(server):
            assert proc.poll() is None and time.monotonic() < deadline, "it never listed"
            time.sleep(0.05)
        time.sleep(0.3)  # into the pause or the unanswered request
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        told, _ = proc.communicate(timeout=30)
        return proc.returncode, time.monotonic() - sent, told.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("script", [("timeout",), ("503", "timeout")], ids=["hung", "retried"])
def test_ctrl_c_while_the_plan_lists_the_account_ends_at_once(
    tmp_path: Path, script: tuple[str, ...]
) -> None:
    """Ctrl-C while the plan's listing waits for an answer: exit 3 in seconds, nothing bought."""
    names = write_rows(tmp_path / "in.csv", 5)
    with serve_in_thread(SandboxConfig(seed=3, faults=Faults(list_script=script))) as server:
        code, took, told = interrupt_while_listing(
            server, "run", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.xlsx"),
            "--journal", str(tmp_path / "j.sqlite"), "--yes", "--timeout", "60",
        )  # fmt: skip
        assert 0 == sum(ledger(server).values())
    assert 3 == code, told
    # About 1 s on an idle machine; the unanswered request alone would hold it 60 s.
    assert took < 10.0, f"the run took {took:.1f} s to stop"
    assert "Traceback" not in told
    stopped = [line for line in told.splitlines() if line.startswith("Stopped early: ")]
    assert 1 == len(stopped), told
    assert "interrupted: stopped while the account was being checked; nothing" in stopped[0]
    assert {"not attempted"} == {statuses(tmp_path / "out.xlsx")[n][0] for n in names}


@pytest.mark.parametrize("script", [("timeout",), ("503", "timeout")], ids=["hung", "retried"])
def test_ctrl_c_while_exporting_ends_at_once(tmp_path: Path, script: tuple[str, ...]) -> None:
    """Ctrl-C while export waits for a listing: one line, exit 3 in seconds, no workbook."""
    out = tmp_path / "numbers.xlsx"
    with serve_in_thread(SandboxConfig(seed=3, faults=Faults(list_script=script))) as server:
        code, took, told = interrupt_while_listing(server, "export", "11623282", "-o", str(out))
    assert 3 == code, told
    assert took < 10.0, f"export took {took:.1f} s to stop"  # the request alone: 30 s
    assert "Error: Interrupted: nothing was exported.\n" == told
    assert not out.exists()
