"""The rules' problem columns as Issues: error rules run as a pandera schema, warnings read off.

Error rules are validated with ``lazy=True``, which collects every failure of every row; warning
rules are read off directly, because a pandera failure cannot leave a row valid.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from batchprov.check.rules import Rule
from batchprov.check.values import Values, failing
from batchprov.models import Issue, Severity
from batchprov.read.headers import CANONICAL_FIELDS

Found = list[tuple[tuple[int, int], Issue]]  # ((frame position, rule order), issue)


def error_issues(values: Values, rules: list[Rule]) -> Found:
    """Run the error rules as a pandera schema; every failure of every row becomes an Issue."""
    errors = {_check_name(rule): order for order, rule in enumerate(rules) if _is_error(rule)}
    # The raw cells are all str ('' when blank): pandera has no null to look for or drop.
    columns = {
        f: pa.Column(checks=_checks(rules, f), required=True, nullable=True)
        for f in CANONICAL_FIELDS
    }
    schema = pa.DataFrameSchema(columns)
    try:
        with _without_hypothesis():
            schema.validate(values.raw, lazy=True)
    except SchemaErrors as failed:
        return _from_failures(values, rules, errors, failed.failure_cases)
    return []


@contextlib.contextmanager
def _without_hypothesis() -> Iterator[None]:
    """Hide `hypothesis` while pandera registers its backends on the first validation.

    pandera then imports its data-synthesis strategies, and those import hypothesis when it is
    installed (a test dependency): a second or more on every command's start-up, for a feature
    batchprov never uses. Validation itself does not need it. Once imported, it stays visible.
    """
    if "hypothesis" in sys.modules:
        yield
        return
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # makes `import` fail
    try:
        yield
    finally:
        if sys.modules.get("hypothesis", 0) is None:
            del sys.modules["hypothesis"]


def _is_error(rule: Rule) -> bool:
    return rule.severity is Severity.ERROR


def _check_name(rule: Rule) -> str:
    return f"{rule.field}.{rule.name}"


def _checks(rules: list[Rule], field: str) -> list[pa.Check]:
    return [
        pa.Check(
            _passing(rule.problems), element_wise=False, ignore_na=False, name=_check_name(rule)
        )
        for rule in rules
        if rule.field == field and _is_error(rule)
    ]


def _passing(problems: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """A vectorised pandera check: the rows whose problem column is empty pass."""
    passes = pd.Series(~failing(problems), index=problems.index)
    return lambda _column: passes


def _from_failures(
    values: Values, rules: list[Rule], errors: dict[str, int], failures: pd.DataFrame
) -> Found:
    found: Found = []
    for check, failed in failures.groupby("check", sort=False):
        order = errors[str(check)]
        found += _issues(
            values, order, rules[order], failure_positions(values, rules[order], failed)
        )
    return found


def failure_positions(values: Values, rule: Rule, failed: pd.DataFrame) -> list[int]:
    """The rows of one check's failures. Some checks report no index: match on the value."""
    indexed = pd.to_numeric(failed["index"], errors="coerce")
    positions = set(indexed.dropna().astype(int).tolist())
    unindexed = failed.loc[indexed.isna().to_numpy(), "failure_case"]
    if len(unindexed):
        broken = failing(rule.problems)
        for case in unindexed.tolist():
            same = broken & (values.raw[rule.field] == case).to_numpy()
            positions.update(int(i) for i in np.flatnonzero(same if same.any() else broken))
    return sorted(positions)


def warning_issues(values: Values, rules: list[Rule]) -> Found:
    found: Found = []
    for order, rule in enumerate(rules):
        if not _is_error(rule):
            positions = np.flatnonzero(failing(rule.problems)).tolist()
            found += _issues(values, order, rule, positions)
    return found


def _issues(values: Values, order: int, rule: Rule, positions: list[int]) -> Found:
    """The Issues of one rule at the given frame positions, keyed for sorting."""
    messages = rule.problems.to_numpy(dtype=object)
    cells = values.raw[rule.field].to_numpy(dtype=object)
    column, rows = values.labels[rule.field], values.excel_rows
    offers = rule.suggestions.to_numpy(dtype=object) if rule.suggestions is not None else None
    return [
        (
            (p, order),
            Issue(
                rows[p],
                column,
                cells[p],
                messages[p],
                rule.severity,
                (offers[p] or None) if offers is not None else None,
            ),
        )
        for p in positions
    ]
