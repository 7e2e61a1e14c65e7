"""`export`: the numbers of some groups, as a batchprov input whose rows are all provisioned.

Every page of every group is read (GET only, nothing changes). Each number becomes a row in
batchprov's own input layout — name, group, the call route as the API shows it — with the
result columns filled (`already provisioned`, its number, ids and creation time), so the
workbook is a valid input: running it orders nothing, and ``run --update`` on an edited copy
changes only what was edited.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from batchprov._version import __version__
from batchprov.change.route import ROUTE_FIELDS, row_fields
from batchprov.clock import now_iso
from batchprov.config import Api
from batchprov.errors import ConfigError, RunAborted, translated
from batchprov.models import RowResult, Status, Table
from batchprov.order.account import ListingInterrupted, until_stopped
from batchprov.order.client import ApiClient, ListingFailed, ListingRefused, Number, TokenRejected
from batchprov.report import Report, RunInfo
from batchprov.write.output import check_output, check_room, write_output

__all__ = ["EXPORT_HEADERS", "default_export_output", "export_groups"]

#: The input columns of an export, in the order of the template.
EXPORT_HEADERS = ("name", "group_id", "match_type", *ROUTE_FIELDS)
_SHEET = "Numbers"


def default_export_output(group_ids: Sequence[int], *, sandbox: bool = False) -> Path:
    """``numbers-11623282.xlsx`` (``.sandbox`` before the suffix for a sandbox)."""
    groups = "-".join(str(g) for g in group_ids[:5]) + ("-more" if len(group_ids) > 5 else "")
    return Path(f"numbers-{groups}{'.sandbox' if sandbox else ''}.xlsx")


def export_groups(
    group_ids: Sequence[int],
    output: str | Path | None = None,
    *,
    api: Api,
    timeout: float = 30.0,
    stop: threading.Event | None = None,
) -> Report:
    """List every number of the groups and write them as an input workbook (or ``.csv``).

    Raises `ConfigError` for a group the API refuses to list (e.g. unknown: 404) and
    `RunAborted` when the token is rejected, the API does not answer, or ``stop`` (Ctrl-C) is
    set before the listing is done: it ends at once, its waits included.
    """
    groups = tuple(dict.fromkeys(group_ids))
    if not groups or any(g < 1 for g in groups):
        raise ConfigError("Name one or more groups to export (positive whole numbers).")
    out = Path(output) if output else default_export_output(groups, sandbox=api.sandbox)
    with translated():
        started = now_iso()
        table = _table(out, [])  # checked before the API is asked: a bad -o fails at once
        check_output(table, out)
        try:
            numbers = asyncio.run(until_stopped(_list(groups, api, timeout), stop))
        except ListingInterrupted:
            raise RunAborted("Interrupted: nothing was exported.") from None
        table = _table(out, numbers)
        check_room(table, out)  # too many numbers for one sheet: a clear refusal
        results = [_result(i, n) for i, n in enumerate(numbers)]
        info = RunInfo(
            mode="export",
            input_name="groups " + ", ".join(str(g) for g in groups),
            input_sha256="",
            api_url=None if api.sandbox else api.key_url,
            sandbox=api.sandbox,
            started_at=started,
            ended_at=now_iso(),
            tool_version=__version__,
        )
        write_output(table, results, [], info, out)
    return Report(info=info, results=tuple(results), issues=(), output_path=out)


async def _list(groups: Sequence[int], api: Api, timeout: float) -> list[Number]:
    """Every number of every group, each group's by id."""
    found: list[Number] = []
    async with ApiClient(api.url, api.token, timeout=timeout, transport=api.transport) as client:
        for group in groups:
            try:
                numbers = await client.list_numbers(group)
            except TokenRejected as exc:
                raise RunAborted(
                    f"The API rejected the token ({exc}); nothing was exported."
                ) from None
            except ListingRefused as exc:
                raise ConfigError(f"Group {group} cannot be listed ({exc}).") from None
            except ListingFailed as exc:
                raise RunAborted(f"The API did not answer ({exc}); nothing was exported.") from None
            found += sorted(numbers, key=_id_order)
    return found


def _id_order(number: Number) -> tuple[int, str]:
    return (int(number.id), "") if number.id.isdigit() else (0, number.id)


def _table(out: Path, numbers: Sequence[Number]) -> Table:
    """The numbers as an input table: one row each, every cell text, header on row 1."""
    rows = []
    for number in numbers:
        fields = row_fields(number.data)
        rows.append([number.name, number.group_id or "", "", *(fields[f] for f in ROUTE_FIELDS)])
    frame = pd.DataFrame(rows, columns=list(EXPORT_HEADERS), dtype=object)
    return Table(
        path=out.with_name(f".{out.stem}.export"),  # no input file: the listing is the input
        format="csv",
        sheet=_SHEET,
        headers=EXPORT_HEADERS,
        columns=tuple(range(1, len(EXPORT_HEADERS) + 1)),
        header_row=1,
        frame=frame,
        excel_rows=tuple(range(2, len(numbers) + 2)),
    )


def _result(index: int, number: Number) -> RowResult:
    return RowResult(
        index=index,
        excel_row=index + 2,
        status=Status.ALREADY_PROVISIONED,
        tracking_number=number.phone_number,
        number_id=number.id,
        route_id=number.route_id,
        assigned_name=number.name,
        provisioned_at=number.created_datetime,
    )
