"""One ordering run per account on a machine: runs with different journals cannot race.

The account listing decides what is bought, so two runs listing the same account before either
orders would both buy every row. A lock file named for the normalised API URL, in one folder
shared by every journal (the user's data directory), makes the second run stop before it lists.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
from platformdirs import user_data_path

from batchprov.errors import AccountBusyError


def lock_folder() -> Path:
    """The user's data directory, else (not creatable) the system's temporary folder."""
    folder = user_data_path("batchprov") / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / "batchprov-locks"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def account_lock(api_url: str, *, folder: Path | None = None) -> Iterator[None]:
    """Hold the account's lock for the block; `AccountBusyError` if another run holds it."""
    digest = hashlib.sha256(api_url.encode()).hexdigest()[:24]
    lock = filelock.FileLock(str((folder or lock_folder()) / f"{digest}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise AccountBusyError(
            f"Another batchprov run is ordering from {api_url} on this machine; wait for it "
            "to finish, then run again (it will not buy what that run bought)."
        ) from None
    try:
        yield
    finally:
        lock.release()
