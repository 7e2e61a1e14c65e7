"""How the process ends: the documented code, every byte written, no teardown noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from batchprov import cli as cli_module

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def batchprov(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TELMETRICS_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "batchprov", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_clean_validate_exits_0_with_its_whole_json(tmp_path: Path) -> None:
    """validate --json through a pipe: exit 0 and the whole JSON document, nothing on stderr."""
    done = batchprov(
        "validate", str(EXAMPLES / "advertisers.xlsx"), "-o", str(tmp_path / "o.xlsx"), "--json"
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert len(json.loads(done.stdout)["results"]) == 26
    assert (tmp_path / "o.xlsx").stat().st_size > 0


def test_invalid_rows_exit_1_and_a_refused_start_exits_2(tmp_path: Path) -> None:
    """The documented codes survive the quick exit: 1 for invalid rows, 2 for a missing file."""
    invalid = batchprov(
        "validate", str(EXAMPLES / "needs_fixing.xlsx"), "-o", str(tmp_path / "o.xlsx")
    )
    missing = batchprov("validate", str(tmp_path / "absent.xlsx"))
    assert invalid.returncode == 1 and "problems to fix" in invalid.stdout
    assert missing.returncode == 2 and missing.stderr.startswith("Error: ")


def test_a_reader_closed_early_gets_no_traceback(tmp_path: Path) -> None:
    """stdout closed by its reader (`| head -c 1`): no 'Exception ignored' noise on stderr."""
    source = tmp_path / "many.csv"  # its JSON is well past a pipe's 64 KiB buffer
    rows = [f"Shop {i},11623282,tollfree,,,,416555{i:04d}\n" for i in range(1500)]
    source.write_text(
        "Advertiser,Group ID,Match Type,Local To,City,Province,Forward To\n" + "".join(rows)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = (
        f"{sys.executable} -m batchprov validate {source} -o {tmp_path / 'o.xlsx'} --json"
        " | head -c 1"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.stdout == "{"
    assert "Exception" not in done.stderr and "Traceback" not in done.stderr


def test_atexit_handlers_run_and_output_is_flushed(tmp_path: Path) -> None:
    """`leave` runs the atexit handlers and flushes buffered output before the process ends."""
    mark = tmp_path / "ran"
    script = textwrap.dedent(
        f"""
        import atexit, sys
        from batchprov.cli import leave
        atexit.register(lambda: open({str(mark)!r}, "w").write("yes"))
        sys.stdout.write("buffered")
        leave(5)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout, mark.read_text()) == (5, "buffered", "yes")


def test_a_live_thread_gets_the_ordinary_exit(tmp_path: Path) -> None:
    """With another thread still working, `leave` waits for it as an ordinary exit does."""
    script = textwrap.dedent(
        """
        import threading, time
        from batchprov.cli import leave
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()
        leave(None)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "thread done\n")


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (256 + 2, 2), ("x", 1)])
def test_exit_status_matches_sys_exit(code: object, status: int) -> None:
    """The status `leave` ends with is the one `sys.exit(code)` would give."""
    assert cli_module._exit_status(code) == status
