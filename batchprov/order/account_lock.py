"""One ordering run per account on a machine: runs with different journals cannot race.

The account listing decides what is bought, so two runs listing the same account before either
orders would both buy every row. A lock file in one folder shared by every journal (the user's
data directory) makes the second run stop before it lists.

The account is the token's, whatever the host is called: `localhost` and `127.0.0.1`, or a
name and its address, reach the same account. So the lock is named for a digest of the token
with the URL's port and path (which tell two APIs on one host apart), not for the host; only
without a token is it the normalised URL's. The file name is a digest, never the token.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import filelock
from platformdirs import user_data_path

from batchprov.errors import AccountBusyError
from batchprov.urls import DEFAULT_PORTS


def lock_folder() -> Path:
    """The user's data directory, else (not creatable) the system's temporary folder."""
    folder = user_data_path("batchprov") / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / "batchprov-locks"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def lock_name(api_url: str, token: str | None = None) -> str:
    """The lock file's name: one per account and API, however the API's host is spelled."""
    if not token:
        return f"{hashlib.sha256(api_url.encode()).hexdigest()[:24]}.lock"
    parts = urlsplit(api_url)
    try:
        port = str(parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0))
    except ValueError:  # not a number: the request will fail; keep the text apart
        port = parts.netloc.rpartition(":")[2]
    what = f"batchprov account lock\0{token}\0{port}\0{parts.path.rstrip('/')}"
    return f"a-{hashlib.sha256(what.encode()).hexdigest()[:32]}.lock"


@contextmanager
def account_lock(
    api_url: str, *, token: str | None = None, folder: Path | None = None
) -> Iterator[None]:
    """Hold the account's lock for the block; `AccountBusyError` if another run holds it."""
    name = lock_name(api_url, token)
    lock = filelock.FileLock(str((folder or lock_folder()) / name), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise AccountBusyError(
            f"Another batchprov run is ordering for this account on this machine ({api_url}, "
            "or another name for the same host); wait for it to finish, then run again (it "
            "will not buy what that run bought)."
        ) from None
    try:
        yield
    finally:
        lock.release()
