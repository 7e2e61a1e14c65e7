"""The account's lock: one ordering run per account on a machine, however its URL is spelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchprov.errors import AccountBusyError
from batchprov.order.account_lock import account_lock, lock_name

TOKEN = "lock-secret-token-0123456789"


@pytest.mark.parametrize(
    "other",
    [
        "http://localhost:8080/v3/api",
        "http://LOCALHOST:8080/v3/api/",
        "http://[::1]:8080/v3/api",
        "http://sandbox.internal:8080/v3/api",
    ],
)
def test_another_name_for_the_host_is_the_same_account(other: str) -> None:
    """localhost, 127.0.0.1, ::1 or any name for the host: one lock for one token."""
    assert lock_name("http://127.0.0.1:8080/v3/api", TOKEN) == lock_name(other, TOKEN)


def test_the_default_port_is_the_same_port() -> None:
    """https://host and https://host:443 are one API."""
    assert lock_name("https://api.example/v3/api", TOKEN) == lock_name(
        "https://api.example:443/v3/api", TOKEN
    )


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://127.0.0.1:8080/v3/api", "another-token"),
        ("http://127.0.0.1:8081/v3/api", TOKEN),
        ("http://127.0.0.1:8080/v4/api", TOKEN),
    ],
)
def test_another_token_port_or_path_is_another_lock(url: str, token: str) -> None:
    """Another account, or another API on the host, does not wait for this one."""
    assert lock_name(url, token) != lock_name("http://127.0.0.1:8080/v3/api", TOKEN)


def test_the_lock_file_never_names_the_token() -> None:
    """The file name is a digest: neither the token nor its URL can be read from it."""
    name = lock_name("http://127.0.0.1:8080/v3/api", TOKEN)
    assert TOKEN not in name and "127.0.0.1" not in name and name.endswith(".lock")


def test_a_second_run_under_another_spelling_is_refused(tmp_path: Path) -> None:
    """While one run holds the account, a run at another name for its host stops at once."""
    with account_lock("http://127.0.0.1:8080/v3/api", token=TOKEN, folder=tmp_path):
        busy = pytest.raises(AccountBusyError, match="Another batchprov run is ordering for this")
        with busy, account_lock("http://localhost:8080/v3/api", token=TOKEN, folder=tmp_path):
            pass
        with account_lock("http://localhost:8080/v3/api", token="other", folder=tmp_path):
            pass  # another account
    with account_lock("http://localhost:8080/v3/api", token=TOKEN, folder=tmp_path):
        pass  # released


def test_without_a_token_the_url_names_the_lock() -> None:
    """No token (nothing can be listed or bought): the normalised URL keys the lock."""
    assert lock_name("http://127.0.0.1:8080/v3/api") != lock_name("http://localhost:8080/v3/api")
