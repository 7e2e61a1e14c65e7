"""Whole-run failures. Row problems are never exceptions: they are `models.Issue` records.

The tree::

    BatchprovError                 anything batchprov raises on purpose
    ├── InputError        (exit 2) the input cannot be used
    │   ├── UnreadableFileError    missing, empty, encrypted or of an unknown format
    │   ├── SheetNotFoundError     --sheet names no sheet of the workbook
    │   ├── NoHeaderError          no row looks like a header row
    │   └── MissingColumnsError    required columns are absent
    ├── ConfigError       (exit 2) the options or environment do not allow a start
    │   ├── NoTokenError           TELMETRICS_TOKEN is not set for a real API run
    │   ├── ConfirmationRefused    the user said no, or could not be asked
    │   └── JournalBusyError       another run holds the journal
    └── RunAborted        (exit 3) the run stopped part-way (token rejected, API down,
                                   interrupted); raised inside the run and turned into a
                                   written output plus ``Report.info.stopped_reason``

Messages are written for the person at the keyboard: what happened and what to do.
They never contain the API token.
"""

from __future__ import annotations

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


class ConfigError(BatchprovError):
    """The options or environment do not allow the run to start."""


class NoTokenError(ConfigError):
    """No API token was given for a run against a real API."""


class ConfirmationRefused(ConfigError):
    """The user declined the order, or could not be asked."""


class JournalBusyError(ConfigError):
    """Another batchprov run holds the journal's lock."""


class RunAborted(BatchprovError):
    """The run stopped part-way; the output is still written."""

    exit_code: ClassVar[int] = 3
