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

from batchprov.check.orders import NormalisedRow, to_order
from batchprov.check.rules import all_rules
from batchprov.check.schema import error_issues, warning_issues
from batchprov.check.values import Values, normalise, zipped
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
        found.sort(key=lambda item: item[0])
        invalid = {key[0] for key, issue in found if issue.severity is Severity.ERROR}
        rows = _checked_rows(values, invalid)
        return CheckOutcome(rows=rows, issues=tuple(issue for _, issue in found))


# --- rows -----------------------------------------------------------------------------------------


def _checked_rows(values: Values, invalid: set[int]) -> tuple[CheckedRow, ...]:
    """One CheckedRow per sheet row; rows without errors carry their order."""
    columns = zipped(  # in NormalisedRow's field order
        values.name,
        values.group_id,
        values.match_type,
        values.termination,
        values.local,
        values.city,
        values.state.fillna(""),
        values.filter.fillna(""),
        values.route_type,
        values.record_calls,
        values.recording,
        values.whisper,
    )
    rows = []
    fallbacks = values.fallback.tolist()
    for position, (excel_row, cells) in enumerate(zip(values.excel_rows, columns, strict=True)):
        order = None if position in invalid else to_order(NormalisedRow._make(cells))
        rows.append(
            CheckedRow(
                position, excel_row, order, match_type=cells[2], fallback=fallbacks[position]
            )
        )
    return tuple(rows)
