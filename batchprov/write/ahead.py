"""The output's workbook opened, and its rows parsed, while a run waits on the network.

A run's output is written right after its last answer, and for a small workbook most of that
wait is openpyxl reopening the input and parsing its rows. `open_ahead` does both while the
orders go out; the `write_output` of the same table then takes that workbook instead of
opening its own, provided the input has not changed since (same size and modification time).
Whatever goes wrong here is left for that write to meet, where it is handled as always.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from openpyxl.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.models import Table
from batchprov.write.stream import StreamedSheet, open_streamed, parse_ahead

__all__ = ["open_ahead", "take_ahead"]

_Key = tuple[str, str, int, bool, int, int]
_Opened = tuple[Workbook, StreamedSheet | None]

#: Workbooks opened ahead and not yet taken (a web server may run a few runs at once).
_OPENED: OrderedDict[_Key, _Opened] = OrderedDict()
_KEPT = 4
_LOCK = threading.Lock()


def open_ahead(table: Table, out: Path) -> None:
    """Open the workbook that `write_output` of ``table`` to ``out`` will write, now."""
    keep_vba = out.suffix.lower() == ".xlsm"
    if table.format not in ("xlsx", "xlsm") or out.suffix.lower() not in (".xlsx", ".xlsm"):
        return
    try:
        key = _key(table, keep_vba)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # as when the write opens it
            wb, source = open_streamed(table.path, table.sheet, table.header_row, keep_vba=keep_vba)
            ws = wb[table.sheet]
            if source is not None and isinstance(ws, Worksheet):
                read = len(table) + len(table.hidden_rows)
                source = parse_ahead(ws, source, rows_read=read)
    except Exception:  # the write opens the workbook itself and meets the same trouble
        return
    with _LOCK:
        _OPENED[key] = (wb, source)
        while len(_OPENED) > _KEPT:
            _OPENED.popitem(last=False)


def take_ahead(table: Table, *, keep_vba: bool) -> _Opened | None:
    """The workbook `open_ahead` opened for ``table``, once; None if none or the input changed."""
    with _LOCK:
        if not _OPENED:
            return None
        try:
            key = _key(table, keep_vba)
        except OSError:
            return None
        return _OPENED.pop(key, None)


def _key(table: Table, keep_vba: bool) -> _Key:
    stat = Path(table.path).stat()
    return (
        str(table.path),
        table.sheet,
        table.header_row,
        keep_vba,
        stat.st_size,
        stat.st_mtime_ns,
    )
