"""Whole-command failures, and the one place foreign exceptions become them.

Row problems are never exceptions: they are `models.Issue` records. The tree::

    BatchprovError                 anything batchprov raises on purpose
    ├── InputError        (exit 2) the input cannot be used
    │   ├── UnreadableFileError    missing, empty, encrypted or of an unknown format
    │   ├── SheetNotFoundError     --sheet names no sheet of the workbook
    │   ├── NoHeaderError          no row looks like a header row
    │   ├── MissingColumnsError    required columns are absent
    │   └── DuplicateColumnsError  two columns name the same field
    ├── ConfigError       (exit 2) the options or environment do not allow a start
    │   ├── OptionError            an option's value cannot be used (--timeout nan, …)
    │   ├── NoTokenError           TELMETRICS_TOKEN is not set for a real API run
    │   ├── ConfirmationRefused    the user said no, or could not be asked
    │   ├── JournalBusyError       another run holds the journal
    │   ├── AccountBusyError       another run on this machine orders from the same API
    │   ├── JournalError           the journal cannot be opened, read or written
    │   ├── OutputError            the output cannot be written (checked before buying)
    │   └── CapExceeded            the plan buys more than --max-numbers / --max-cost
    └── RunAborted        (exit 3) the command stopped after it had started buying, e.g.
                                   the output could not be written once numbers were bought

A run cut short by the API (token rejected, outage, Ctrl-C) is not an exception: its output
is written and ``Report.info.stopped_reason`` says why (exit 3 too).

`translated` maps the foreign exceptions a command can meet (OSError, sqlite3.Error) to this
tree, like httpx maps httpcore's: the CLI prints one line and the exit code, never a
traceback. Messages are written for the person at the keyboard: what happened and what to do.
They never contain the API token.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar


class BatchprovError(Exception):
    """Base of every error batchprov raises on purpose."""

    exit_code: ClassVar[int] = 2


class InputError(BatchprovError):
    """The input file cannot be used."""


class UnreadableFileError(InputError):
    """The file is missing, empty, encrypted or of a format batchprov cannot read."""


class SheetNotFoundError(InputError):
    """The requested sheet does not exist in the workbook."""


class NoHeaderError(InputError):
    """No row of the sheet looks like a header row."""


class MissingColumnsError(InputError):
    """Required columns are absent from the header row."""


class DuplicateColumnsError(InputError):
    """Two columns of the header row name the same field."""


class ConfigError(BatchprovError):
    """The options or environment do not allow the run to start."""


class OptionError(ConfigError):
    """An option's value cannot be used."""


class NoTokenError(ConfigError):
    """No API token was given for a run against a real API."""


class ConfirmationRefused(ConfigError):
    """The user declined the order, or could not be asked."""


class JournalBusyError(ConfigError):
    """Another batchprov run holds the journal's lock."""


class AccountBusyError(ConfigError):
    """Another batchprov run on this machine is ordering from the same API URL."""


class JournalError(ConfigError):
    """The journal cannot be opened, read or written."""


class OutputError(ConfigError):
    """The output file cannot be written."""


class CapExceeded(ConfigError):
    """The plan would buy more numbers, or cost more, than the run's cap allows."""


class RunAborted(BatchprovError):
    """The command stopped after it had started buying; what was bought is in the journal."""

    exit_code: ClassVar[int] = 3


@contextmanager
def translated(*, journal: Path | None = None) -> Iterator[None]:
    """Turn the foreign exceptions of a command into `BatchprovError` (one place for all).

    sqlite3 errors can only come from the journal; an OSError naming the journal is the
    journal's, any other names a file the command reads or writes.
    """
    try:
        yield
    except OSError as exc:
        if journal is not None and exc.filename and Path(exc.filename) in _family(journal):
            raise JournalError(_journal_text(journal, exc)) from None
        raise OutputError(os_error_text(exc)) from None
    except Exception as exc:
        if not _is_sqlite_error(exc):
            raise
        raise JournalError(_journal_text(journal, exc)) from None


def _is_sqlite_error(exc: Exception) -> bool:
    """True for a `sqlite3.Error`; sqlite3 is not imported for it (a command that opens no
    journal, such as `validate`, has not loaded it, and so cannot have raised one)."""
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3 is not None and isinstance(exc, sqlite3.Error)


def os_error_text(exc: OSError) -> str:
    """``cannot write out.xlsx: Permission denied`` — the file and the reason, no traceback."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename
    return f"{name}: {reason}" if name else reason


def _journal_text(journal: Path | None, exc: BaseException) -> str:
    where = f" {journal}" if journal else ""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (
        f"The journal{where} cannot be used ({reason}). Point --journal at another file, "
        "or move this one aside; nothing was ordered."
    )


def _family(journal: Path) -> set[Path]:
    """The journal and the files SQLite and its lock keep beside it."""
    return {journal, *(journal.with_name(journal.name + s) for s in ("-wal", "-shm", ".lock"))}
