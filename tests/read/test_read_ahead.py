"""A reader started with the input's path parses it while the command imports the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchprov.errors import UnreadableFileError
from batchprov.read import isolate
from batchprov.read.files import read_table

_CSV = "name,group_id\nA,1\nB,2\n"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the jobs written to the reader server from now on."""
    paths: list[str] = []
    real = isolate._write_frame

    def spy(stream: object, payload: bytes) -> None:
        paths.append(isolate.pickle.loads(payload).path)
        real(stream, payload)  # type: ignore[arg-type]

    monkeypatch.setattr(isolate, "_write_frame", spy)
    return paths


def _csv(path: Path, text: str = _CSV) -> Path:
    path.write_text(text)
    return path


def test_the_read_of_the_file_sent_ahead_takes_its_answer(tmp_path: Path, sent: list[str]) -> None:
    """The file is sent once, at start_reader; read_table of it sends nothing more."""
    path = _csv(tmp_path / "in.csv")
    isolate.start_reader(path, sheet=None, include_hidden=False)
    table = read_table(path)
    assert [str(path)] == sent
    assert ["A", "B"] == list(table.frame["name"])


def test_another_read_discards_the_answer_sent_ahead(tmp_path: Path, sent: list[str]) -> None:
    """A read of another file (or sheet) gets its own answer, never the one parsed ahead."""
    ahead = _csv(tmp_path / "ahead.csv")
    other = _csv(tmp_path / "other.csv", "name,group_id\nC,3\n")
    isolate.start_reader(ahead, sheet=None, include_hidden=False)
    assert ["C"] == list(read_table(other).frame["name"])
    assert ["A", "B"] == list(read_table(ahead).frame["name"])
    assert [str(ahead), str(other), str(ahead)] == sent


def test_a_file_changed_after_it_was_sent_ahead_is_read_again(
    tmp_path: Path, sent: list[str]
) -> None:
    """When its first bytes changed since, the file is parsed again: the read sees it as it is."""
    path = _csv(tmp_path / "in.csv")
    isolate.start_reader(path, sheet=None, include_hidden=False)
    _csv(path, "name,group_id,notes\nZ,9,x\n")
    assert ["Z"] == list(read_table(path).frame["name"])
    assert [str(path), str(path)] == sent


def test_a_file_that_fails_the_first_checks_is_not_sent_ahead(
    tmp_path: Path, sent: list[str]
) -> None:
    """start_reader keeps quiet about a missing file; its read says what is wrong."""
    missing = tmp_path / "missing.csv"
    isolate.start_reader(missing, sheet=None, include_hidden=False)
    assert [] == sent
    with pytest.raises(UnreadableFileError, match="does not exist"):
        read_table(missing)


def test_an_answer_nobody_reads_does_not_hold_up_the_exit(tmp_path: Path) -> None:
    """A process that ends before reading the file sent ahead ends at once, its reader too."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from batchprov.read import isolate\n"
        "isolate.start_reader(Path(sys.argv[1]), sheet=None, include_hidden=False)\n"
        "server = isolate._SERVER.process\n"
        "start = time.monotonic()\n"
        "isolate._SERVER.close()\n"
        "print(round(time.monotonic() - start, 3), server.wait(timeout=5))\n"
    )
    path = _csv(tmp_path / "in.csv", "name,group_id\n" + "A,1\n" * 200_000)
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    seconds, code_ = done.stdout.split()
    assert float(seconds) < 1.0, done.stderr
    assert int(code_) != 0  # killed, not left parsing


def test_a_reader_that_died_with_the_file_sent_ahead_is_asked_again(
    tmp_path: Path, sent: list[str]
) -> None:
    """When the server is gone before the read, a new one is sent the file: no waiting on it."""
    path = _csv(tmp_path / "in.csv")
    isolate.start_reader(path, sheet=None, include_hidden=False)
    server = isolate._SERVER.process
    assert server is not None
    server.kill()
    server.wait(5)
    assert ["A", "B"] == list(read_table(path).frame["name"])
    assert [str(path), str(path)] == sent


def test_a_file_changed_past_its_first_bytes_is_read_again(tmp_path: Path, sent: list[str]) -> None:
    """A change after the first 512 bytes, same size, is still seen: the job carries the
    file's size, mtime and inode, not only its head."""
    rows = "".join(f"Advertiser {i:03d},1\n" for i in range(60))
    path = _csv(tmp_path / "in.csv", "name,group_id\n" + rows)
    isolate.start_reader(path, sheet=None, include_hidden=False)
    before = path.stat().st_mtime_ns
    _csv(path, "name,group_id\n" + rows.replace("Advertiser 059", "Changed at 59"))
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))  # (a coarse clock may not move)
    assert list(read_table(path).frame["name"])[-1] == "Changed at 59"
    assert [str(path), str(path)] == sent


def test_a_reader_replaced_as_the_read_begins_is_sent_the_file(
    tmp_path: Path, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that dies between the read's look at it and its use is replaced, and the new
    one is sent the file: the read does not wait on an answer nobody will send."""
    path = _csv(tmp_path / "in.csv")
    isolate.start_reader(path, sheet=None, include_hidden=False)
    real = isolate._SERVER.running

    def dies_first() -> subprocess.Popen[bytes]:
        server = isolate._SERVER.process
        if server is not None and server.poll() is None:
            server.kill()
            server.wait(5)
        return real()

    monkeypatch.setattr(isolate._SERVER, "running", dies_first)
    assert ["A", "B"] == list(read_table(path).frame["name"])
    assert [str(path), str(path)] == sent
