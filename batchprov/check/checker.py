"""Checking a sheet: every problem of every row, as ``Issue`` records (docs/design.md §2.2).

Each column is normalised once, per distinct cell text. Every rule is then one vectorised
"problem column": the message for each row that breaks the rule, '' for the others. Error rules
run as a pandera schema validated with ``lazy=True``, which collects every failure of every row;
warning rules are read off directly, because a pandera failure cannot leave a row valid.

Layout: `values` normalises the cells, `rules` states every rule, `schema` turns the rules'
problems into Issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd

from batchprov.check.orders import NormalisedRow, to_orders
from batchprov.check.rules import all_rules
from batchprov.check.schema import error_issues, warning_issues
from batchprov.check.values import Values, normalise
from batchprov.collector import collector_paused
from batchprov.models import CheckedRow, Issue, Severity, Table
from batchprov.read.headers import CANONICAL_FIELDS

__all__ = ["FIELDS", "CheckOutcome", "check_table"]

#: The fields checked here, in the order their issues are listed within a row.
FIELDS: tuple[str, ...] = CANONICAL_FIELDS


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """Every row's verdict (in sheet order) and every problem found."""

    rows: tuple[CheckedRow, ...]
    issues: tuple[Issue, ...]


def check_table(
    table: Table, fields: Mapping[str, str], *, default_group_id: int | None = None
) -> CheckOutcome:
    """Check every row of ``table``; ``fields`` maps canonical field → the user's header."""
    with collector_paused():
        values = normalise(table, fields, default_group_id)
        rules = all_rules(values, default_group_id)
        found = error_issues(values, rules) + warning_issues(values, rules)
        found = _with_uncalculated(table, fields, found)
        found.sort(key=lambda item: item[0])
        invalid = {key[0] for key, issue in found if issue.severity is Severity.ERROR}
        rows = _checked_rows(values, invalid)
        return CheckOutcome(rows=rows, issues=tuple(issue for _, issue in found))


#: Why a formula cell reads as blank: the program that wrote the file did not calculate it.
UNCALCULATED = (
    "the cell holds a formula that was never calculated; open the file in Excel and save it, "
    "or type the value"
)


def _with_uncalculated(
    table: Table, fields: Mapping[str, str], found: list[tuple[tuple[int, int], Issue]]
) -> list[tuple[tuple[int, int], Issue]]:
    """Uncalculated formula cells of checked columns: an error each, instead of "is required"."""
    if not table.uncalculated:
        return found
    checked = set(fields.values())
    header_of = dict(zip(table.columns, table.headers, strict=True))
    position_of = {row: at for at, row in enumerate(table.excel_rows)}
    cells = {
        (row, header_of[column])
        for row, column in table.uncalculated
        if header_of.get(column) in checked and row in position_of
    }
    kept = [item for item in found if (item[1].row, item[1].column) not in cells]
    kept += [
        ((position_of[row], -1), Issue(row, header, "", UNCALCULATED)) for row, header in cells
    ]
    return kept


# --- rows -----------------------------------------------------------------------------------------


def _checked_rows(values: Values, invalid: set[int]) -> tuple[CheckedRow, ...]:
    """One CheckedRow per sheet row; rows without errors carry their order."""
    fields = pd.DataFrame(
        {
            "name": values.name,
            "group_id": values.group_id,
            "match_type": values.match_type,
            "termination_number": values.termination,
            "local_to_number": values.local,
            "city": values.city,
            "state": values.state.fillna(""),
            "number_match_filter": values.filter.fillna(""),
            "route_type": values.route_type,
            "record_calls": values.record_calls,
            "recording_message": values.recording,
            "whisper_message": values.whisper,
        },
        columns=NormalisedRow._fields,
    )
    valid = np.ones(len(fields), dtype=bool)
    valid[list(invalid)] = False
    orders = np.full(len(fields), None, dtype=object)
    orders[valid] = to_orders(fields[valid])
    # Positional arguments are the cheapest; ``previous`` is filled in later, by the pipeline.
    return tuple(
        map(
            CheckedRow,
            range(len(fields)),
            values.excel_rows,
            orders.tolist(),
            values.match_type.tolist(),
            repeat(None),
            values.fallback.tolist(),
        )
    )
