"""How a command is configured: the API it talks to (`Api`) and how it runs (`RunConfig`).

Both are frozen and built once by the shell (the CLI, the web page or a library caller), then
passed down. This is the only module that reads the environment (`Environment`): the API
token, the API URL and the journal's path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from batchprov.errors import NoTokenError, OptionError
from batchprov.models import Fallback
from batchprov.numbering.fallback import parse_run_fallback
from batchprov.order.options import RunOptions
from batchprov.urls import normalise_url

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_API_URL",
    "Api",
    "Environment",
    "Existing",
    "RunConfig",
]

DEFAULT_API_URL = "https://api.telmetrics.com/v3/api"


@dataclass(frozen=True, slots=True)
class Environment:
    """What batchprov reads from the environment, read in one place."""

    token: str | None = field(default=None, repr=False)
    api_url: str | None = None
    journal: Path | None = None
    #: The OS user running batchprov, as the journal's run history records it.
    os_user: str | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str] = os.environ) -> Environment:
        """TELMETRICS_TOKEN, TELMETRICS_API_URL and BATCHPROV_JOURNAL (blank counts as unset),
        and the OS user (as `getpass.getuser` finds it)."""
        journal = environ.get("BATCHPROV_JOURNAL", "").strip()
        return cls(
            token=environ.get("TELMETRICS_TOKEN", "").strip() or None,
            api_url=environ.get("TELMETRICS_API_URL", "").strip() or None,
            journal=Path(journal).expanduser() if journal else None,
            os_user=_os_user(environ),
        )

    def default_journal(self) -> Path:
        """BATCHPROV_JOURNAL, else ``journal.sqlite`` in the user's data directory.

        The CLI and the web page share it, so neither buys what the other bought.
        """
        if self.journal is not None:
            return self.journal
        from platformdirs import user_data_path  # (only a command that opens the journal)

        return user_data_path("batchprov") / "journal.sqlite"


def _os_user(environ: Mapping[str, str]) -> str | None:
    """The login name: LOGNAME, USER, LNAME or USERNAME, else the password database's."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        value = environ.get(name, "").strip()
        if value:
            return value
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):  # Windows, or a uid without an entry
        return None


@dataclass(frozen=True, slots=True)
class Api:
    """The API a command talks to: base URL, token and (in tests) an httpx transport.

    ``sandbox`` marks the built-in simulator: nothing real is bought, and its numbers live
    only as long as it does. The token is never part of the repr.

    ``key``: the name the journal keys this API's numbers by, when it is not ``url``. A web
    sandbox job's sandbox is served on a new port at each run but keeps its numbers, so it is
    the same API under one key (`batchprov.web.jobs.job_api`). Real APIs have none: they are
    keyed by their normalised URL.
    """

    url: str
    token: str = field(repr=False)
    sandbox: bool = False
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)
    key: str | None = None

    @classmethod
    def from_environment(cls, *, url: str | None = None, env: Environment | None = None) -> Api:
        """The real API: ``url``, else TELMETRICS_API_URL, else the public API; the token
        from TELMETRICS_TOKEN (`NoTokenError` when unset)."""
        env = env or Environment.read()
        if not env.token:
            raise NoTokenError(
                "No API token: set TELMETRICS_TOKEN (or use --sandbox to try batchprov "
                "without one)."
            )
        return cls(url=url or env.api_url or DEFAULT_API_URL, token=env.token)

    @property
    def key_url(self) -> str:
        """The URL as the journal keys it and as people see it (no credentials): ``key`` when
        given, else ``url``."""
        return normalise_url(self.key or self.url)


class Existing(StrEnum):
    """What a run does with a row whose name already names a number in its group."""

    ADOPT = "adopt"  # report it already provisioned with that number (the default)
    ORDER = "order"  # buy anyway: the API suffixes the name ("ABC 2")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How `validate_file` and `run_file` read, check, plan and order (keyword-only).

    Attributes:
        sheet: the sheet to read (default: the first visible one).
        include_hidden: read rows hidden in Excel (by hand or by a filter) too.
        group_id: the group for rows whose group_id cell is blank.
        input_name: the name to report (e.g. an upload's original name).
        dry_run: plan and write, send nothing.
        strict: order nothing when any row is invalid.
        fallback: fallbacks for rows whose own fallback cell is blank (also as text:
            ``"drop_filter,overlay,tollfree"``).
        price_per_number: monthly price of one number, for the plan's cost.
        journal: the journal file (default `Environment.default_journal`, or one that lives as
            long as the sandbox for a sandbox API).
        options: how the run engine orders (concurrency, rate, timeout, …).
        online: list the account in a dry run too (a run always does), so its plan is exact.
        existing: what to do with a row whose name is already in the account.
        max_numbers: refuse a plan that buys more, and never buy more in the run.
        max_cost: the same for the monthly cost (needs ``price_per_number``).
        update: change numbers already bought whose route differs from the row (PUT);
            without it a difference is only a warning.
    """

    sheet: str | None = None
    include_hidden: bool = False
    group_id: int | None = None
    input_name: str | None = None
    dry_run: bool = False
    strict: bool = False
    fallback: tuple[Fallback, ...] = ()
    price_per_number: float | None = None
    journal: Path | None = None
    options: RunOptions = field(default_factory=RunOptions)
    online: bool = False
    existing: Existing = Existing.ADOPT
    max_numbers: int | None = None
    max_cost: float | None = None
    update: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.fallback, str | list):  # "overlay,tollfree" or a list of words
            object.__setattr__(self, "fallback", parse_run_fallback(self.fallback))
        if self.group_id is not None and self.group_id < 1:
            raise OptionError(f"--group-id must be a positive whole number, not {self.group_id}")
        price = self.price_per_number
        if price is not None and not (math.isfinite(price) and price >= 0):
            raise OptionError(f"--price-per-number must be a number of 0 or more, not {price}")
        if self.max_numbers is not None and self.max_numbers < 0:
            raise OptionError(f"--max-numbers must be 0 or more, not {self.max_numbers}")
        cap = self.max_cost
        if cap is not None and not (math.isfinite(cap) and cap >= 0):
            raise OptionError(f"--max-cost must be an amount of 0 or more, not {cap}")
        if cap is not None and price is None:
            raise OptionError("--max-cost needs --price-per-number, to know what a number costs")

    @property
    def lists_account(self) -> bool:
        """A run lists the groups before its plan; a dry run only with ``online``."""
        return self.online or not self.dry_run
