"""Never overwrite a workbook that shows bought numbers with one that drops them.

An existing output is read like any input; the rows its own result columns show as
``provisioned`` or ``already provisioned`` with a tracking number are numbers someone paid for
(a sandbox run's rows say ``(sandbox)`` and are not). A command may replace that file only when
everything it shows is carried into the new one.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from batchprov.errors import BatchprovError, OutputError
from batchprov.models import OWNED
from batchprov.read.files import SUPPORTED_SUFFIXES, read_table
from batchprov.read.headers import result_header, result_span

__all__ = ["bought_numbers", "check_overwrite", "lost_numbers", "overwrite_refused"]

_OWNED_TEXTS = frozenset(s.value for s in OWNED)


def bought_numbers(path: Path, *, sheet: str | None = None) -> frozenset[str]:
    """The tracking numbers an existing output shows as bought; empty when it shows none.

    A file batchprov cannot read as a sheet holds no results of ours, so it holds none.
    """
    if not path.is_file() or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return frozenset()
    try:
        table = read_table(path, sheet=sheet)
    except BatchprovError:
        return frozenset()
    span = result_span(table.headers)
    named = {result_header(table.headers[i]): table.headers[i] for i in span}
    if "Status" not in named or "Tracking Number" not in named:
        return frozenset()
    frame = table.frame
    pairs = zip(frame[named["Status"]], frame[named["Tracking Number"]], strict=True)
    return frozenset(number.strip() for status, number in pairs if _bought(status, number))


def _bought(status: str, number: str) -> bool:
    return status.strip() in _OWNED_TEXTS and bool(number.strip())


def lost_numbers(
    out: Path, *, carried: Collection[str], sheet: str | None = None
) -> frozenset[str]:
    """The bought numbers ``out`` shows that are not ``carried`` into the new file."""
    return bought_numbers(out, sheet=sheet) - frozenset(carried)


def check_overwrite(
    out: Path, *, carried: Collection[str], command: str, sheet: str | None = None
) -> None:
    """Refuse (`OutputError`, exit 2) to replace ``out`` when it shows numbers not ``carried``.

    ``carried``: the tracking numbers the new file will show again (the input's own results,
    the journal's numbers for a run).
    """
    lost = lost_numbers(out, carried=carried, sheet=sheet)
    if lost:
        raise overwrite_refused(out, len(lost), command=command)


def overwrite_refused(out: Path, count: int, *, command: str) -> OutputError:
    """The error refusing to replace ``out``, which shows ``count`` numbers not carried over."""
    noun = "number" if count == 1 else "numbers"
    return OutputError(
        f"Not writing to {out}: it shows {count} bought {noun} that this {command} would not "
        f"carry over, and they would be lost from that file. Choose another output file (-o), "
        "or run with that file as the input."
    )
