"""A harsh user's runs against a sandbox on loopback: races, Ctrl-C at the question, plans.

Every test counts money on the server (the sandbox's ledger): nothing bought twice, nothing
bought that the plan did not announce.
"""

from __future__ import annotations

import csv
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread
from batchprov.sandbox.server import RunningSandbox

TOKEN = "attack-secret-token-0123456789"
GROUP = 11623282


@pytest.fixture
def slow_api() -> Iterator[RunningSandbox]:
    """A sandbox whose answers take 50 ms, so that two runs overlap."""
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=3, faults=Faults(latency_ms=50))) as s:
        yield s


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("BATCHPROV_CRASH_AT", raising=False)


def sheet(path: Path, count: int, prefix: str) -> Path:
    """A CSV of ``count`` toll-free rows with unique names."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "group_id", "match_type", "termination_number"])
        for i in range(count):
            writer.writerow([f"{prefix} {i:03d}", GROUP, "tollfree", "4165551234"])
    return path


def bought(api: RunningSandbox) -> Counter[str]:
    """Numbers on the server per requested name."""
    return Counter(str(n["requested_name"]) for n in api.state.ledger())


def command(api: RunningSandbox, inp: Path, out: Path, journal: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "batchprov", "run", str(inp), "-o", str(out),
        "--api-url", api.url, "--journal", str(journal), "--quiet", "--rate", "200", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("second_host", ["127.0.0.1", "localhost"])
def test_two_runs_at_once_on_two_journals_buy_each_number_once(
    slow_api: RunningSandbox, tmp_path: Path, second_host: str
) -> None:
    """Two runs started together with different journals, and the API's host spelled either
    way, never both buy a row."""
    inp = sheet(tmp_path / "in.csv", 12, "Racer")
    urls = [slow_api.url, slow_api.url.replace("127.0.0.1", second_host)]
    runs = [
        subprocess.Popen(
            command(slow_api, inp, tmp_path / f"out{i}.csv", tmp_path / f"j{i}.sqlite", "--yes")
            + ["--api-url", urls[i - 1]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    errors = [p.communicate(timeout=90)[1] for p in runs]
    codes = [p.returncode for p in runs]
    counts = bought(slow_api)
    assert sum(counts.values()) == 12, (codes, errors)
    assert max(counts.values()) == 1
    assert sorted(codes) in ([0, 0], [0, 2]), errors
    assert all("Traceback" not in e for e in errors)


def test_ctrl_c_at_the_question_orders_nothing_and_exits_2(
    slow_api: RunningSandbox, tmp_path: Path
) -> None:
    """Ctrl-C while the run asks for confirmation ends it at once: nothing bought, exit 2."""
    inp = sheet(tmp_path / "in.csv", 3, "Hesitant")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        command(slow_api, inp, tmp_path / "out.csv", tmp_path / "j.sqlite"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Order these numbers?" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        assert b"Order these numbers?" in seen, seen.decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)  # exiting takes a second or two; the bug waited forever
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert code == 2
    assert not bought(slow_api)


def test_existing_order_plan_says_the_names_are_in_the_account(
    slow_api: RunningSandbox, tmp_path: Path
) -> None:
    """With --existing order the plan says the names have numbers, and buys what it says."""
    inp = sheet(tmp_path / "in.csv", 4, "Again")
    runner = CliRunner()
    base = ["run", str(inp), "--api-url", slow_api.url, "--yes"]
    first = runner.invoke(cli, [*base, "-o", str(tmp_path / "a.csv"), "--journal",
                                str(tmp_path / "j1.sqlite")])  # fmt: skip
    assert first.exit_code == 0, first.output
    again = runner.invoke(cli, [*base, "-o", str(tmp_path / "b.csv"), "--journal",
                                str(tmp_path / "j2.sqlite"), "--existing", "order"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "About to order 4 number(s)" in again.stderr
    assert "no row to order has a number by its name yet" not in again.stderr
    assert "4 of them already have a number by that name" in again.stderr
    assert sum(bought(slow_api).values()) == 8


def test_a_journal_under_a_file_is_one_clear_line(tmp_path: Path) -> None:
    """--journal below a plain file says which path is a file (exit 2), and buys nothing."""
    inp = sheet(tmp_path / "in.csv", 2, "Blocked")
    (tmp_path / "plain").write_text("x")
    with serve_in_thread(SandboxConfig(token=TOKEN)) as api:
        result = CliRunner().invoke(
            cli,
            ["run", str(inp), "--api-url", api.url, "--yes", "-o", str(tmp_path / "o.csv"),
             "--journal", str(tmp_path / "plain" / "j.sqlite")],
        )  # fmt: skip
        assert not bought(api)
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.stderr
