"""The checks every read starts with, in batchprov's own process, before any parsing.

A kind of file batchprov reads, that exists, is a file, is neither empty nor larger than the
limits allow; and its first bytes, which tell a workbook's format. Imports nothing heavy: the
CLI runs these checks to hand the file to the reader before it imports pandas (`isolate`).
"""

from __future__ import annotations

from pathlib import Path

from batchprov.errors import UnreadableFileError
from batchprov.read.limits import ReadLimits

__all__ = ["EXCEL_SUFFIXES", "SUPPORTED_SUFFIXES", "TEXT_SUFFIXES", "read_head"]

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
SUPPORTED_SUFFIXES = EXCEL_SUFFIXES + TEXT_SUFFIXES
_MB = 1 << 20
_HEAD_BYTES = 512


def read_head(path: Path, limits: ReadLimits) -> bytes:
    """The first bytes of ``path``, after checking it is a file batchprov can read.

    Raises:
        UnreadableFileError: not a supported kind, missing, a folder, not readable, empty or
            larger than ``limits.max_file_mb``.
    """
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        raise UnreadableFileError(
            f"{path.name}: unsupported file type '{path.suffix}'; batchprov reads {kinds}."
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
            size = handle.seek(0, 2)
    except FileNotFoundError:
        raise UnreadableFileError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise UnreadableFileError(f"{path} is a folder, not a file.") from None
    except PermissionError:
        raise UnreadableFileError(
            f"{path} cannot be opened (permission denied); if it is open in Excel, "
            "close it and try again."
        ) from None
    if not head:
        raise UnreadableFileError(f"{path.name} is empty (0 bytes).")
    if size > limits.max_file_mb * _MB:
        raise UnreadableFileError(
            f"{path.name} could not be read: it is {size / _MB:,.0f} MB, more than the "
            f"{limits.max_file_mb:,} MB batchprov reads."
        )
    return head
