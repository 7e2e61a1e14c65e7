"""Writing a file atomically: into a temporary file beside the target, synced, then renamed."""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def atomic_write(out: Path, source: Path, write: Callable[[Path], None]) -> None:
    """Write through ``write`` into a temporary file beside ``out``, sync it, rename it.

    A crash leaves either the old ``out`` or the new one, never half a file. The new file takes
    the permissions of the file it replaces, else those of the input.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f"{out.suffix}.tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(out, source))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_directory(out.parent)
    _sweep(out)


#: A temporary file of an output this much older than now was left by a killed write.
STALE_SECONDS = 3600.0


def _sweep(out: Path) -> None:
    """Remove temporary files of ``out`` that a write killed before its rename left behind
    (an hour old or more: a write still going on beside this one is younger)."""
    shape = re.compile(rf"\.{re.escape(out.stem)}\.[A-Za-z0-9_]{{8}}{re.escape(out.suffix)}\.tmp")
    cutoff = time.time() - STALE_SECONDS
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for entry in (e for e in entries if shape.fullmatch(e.name)):
        try:
            stale = entry.stat(follow_symlinks=False).st_mtime < cutoff
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            continue


def _mode_for(out: Path, source: Path) -> int:
    """Permissions of the file replaced, else of the input; always writable by its owner."""
    for path in (out, source):
        try:
            return stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR
        except OSError:
            continue
    return 0o644


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); not possible, and not needed, on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
