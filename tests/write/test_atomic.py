"""Atomic writes: a write killed before its rename leaves a temporary file the next one sweeps."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from batchprov.write.atomic import STALE_SECONDS, atomic_write


def _write(text: str) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_text(text)

    return write


def test_a_killed_writes_old_temporary_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    """An hour-old .out.XXXXXXXX.xlsx.tmp beside the output goes; a fresh one and others stay."""
    out, source = tmp_path / "out.xlsx", tmp_path / "in.xlsx"
    source.write_text("in")
    old = tmp_path / ".out.ab12cd_9.xlsx.tmp"
    fresh = tmp_path / ".out.zz99yy88.xlsx.tmp"
    other = tmp_path / ".other.ab12cd34.xlsx.tmp"
    for path in (old, fresh, other):
        path.write_text("half")
    past = time.time() - STALE_SECONDS - 60
    for path in (old, other):
        os.utime(path, (past, past))
    atomic_write(out, source, _write("new"))
    assert out.read_text() == "new"
    assert not old.exists() and fresh.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.ab12cd34.xlsx.tmp", ".out.zz99yy88.xlsx.tmp", "in.xlsx", "out.xlsx"]
    )
