"""Checking a sheet of advertisers: every problem of every row, as ``Issue`` records (SPEC §3).

Each column is normalised once, per distinct cell text. Every rule is then one vectorised
"problem column": the message for each row that breaks the rule, '' for the others. Error rules
run as a pandera schema validated with ``lazy=True``, which collects every failure of every row;
warning rules are read off directly, because a pandera failure cannot leave a row valid.

Duplicate names: when two rows of one group carry the same name (ignoring case and spacing),
*all* of them are invalid and each names the others' rows. Ordering the first and refusing the
rest would be a guess about which row the user meant.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from batchprov import nanp
from batchprov.fallback import fallback_notes, parse_fallback
from batchprov.mapping import NormalisedRow, to_order
from batchprov.models import CheckedRow, Issue, MatchType, Severity, Table
from batchprov.normalize import (
    MAX_MESSAGE,
    MAX_NAME,
    blanks,
    city_warning,
    clean_texts,
    filter_place_warning,
    filter_problem,
    parse_filter,
    parse_group_id,
    parse_match_type,
    parse_route_type,
    parse_state,
    parse_yes_no,
    per_distinct,
    quote,
)
from batchprov.phones import check_phones

__all__ = ["FIELDS", "CheckOutcome", "check_table"]

#: The fields checked here, in the order their issues are listed within a row.
FIELDS: tuple[str, ...] = (
    "name",
    "group_id",
    "match_type",
    "local_to_number",
    "city",
    "state",
    "number_match_filter",
    "termination_number",
    "route_type",
    "record_calls",
    "recording_message",
    "whisper_message",
    "fallback",
)

LTN, LTC, TF = MatchType.LOCAL_TO_NUMBER, MatchType.LOCAL_TO_CITY, MatchType.TOLLFREE
#: Location fields each match type ignores (filled anyway → a warning).
_IGNORED: dict[MatchType, tuple[str, ...]] = {
    LTN: ("city", "state"),
    LTC: ("local_to_number",),
    TF: ("local_to_number", "city", "state"),
}
_MAX_ROWS_NAMED = 5
#: The fields whose blankness a rule looks at (the others have their own parsers).
_BLANK_TESTED = ("group_id", "match_type", "local_to_number", "city", "state", "termination_number")


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """Every row's verdict (in sheet order) and every problem found."""

    rows: tuple[CheckedRow, ...]
    issues: tuple[Issue, ...]


@dataclass(frozen=True, slots=True)
class _Rule:
    """One rule as a problem column: the message per row, '' where the row passes."""

    field: str
    name: str
    problems: pd.Series
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True)
class _Values:
    """The sheet's cells (``raw``, canonical column names) and their normalised values."""

    raw: pd.DataFrame
    blank: pd.DataFrame
    labels: dict[str, str]
    excel_rows: tuple[int, ...]
    name: pd.Series
    group_id: pd.Series
    group_problem: pd.Series
    type_problem: pd.Series
    match_type: pd.Series
    local: pd.Series
    local_problem: pd.Series
    termination: pd.Series
    termination_problem: pd.Series
    city: pd.Series
    state: pd.Series
    state_problem: pd.Series
    filter: pd.Series
    filter_problem: pd.Series
    route_type: pd.Series
    route_problem: pd.Series
    record_calls: pd.Series
    record_problem: pd.Series
    recording: pd.Series
    whisper: pd.Series
    fallback: pd.Series
    fallback_problem: pd.Series


def check_table(
    table: Table, fields: Mapping[str, str], *, default_group_id: int | None = None
) -> CheckOutcome:
    """Check every row of ``table``; ``fields`` maps canonical field → the user's header."""
    with _gc_paused():
        values = _normalise(table, fields, default_group_id)
        rules = _rules(values, default_group_id)
        found = _error_issues(values, rules) + _warning_issues(values, rules)
        found.sort(key=lambda item: item[0])
        invalid = {key[0] for key, issue in found if issue.severity is Severity.ERROR}
        rows = _checked_rows(values, invalid)
        return CheckOutcome(rows=rows, issues=tuple(issue for _, issue in found))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the ~5 records built per row hold no cycles, and
    rescanning them as they pile up costs a quarter of the time of a 100k-row check."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- normalising --------------------------------------------------------------------------


def _normalise(table: Table, fields: Mapping[str, str], default: int | None) -> _Values:
    raw = _raw_frame(table, fields)
    blank = pd.DataFrame({field: blanks(raw[field]) for field in _BLANK_TESTED})
    group_id, group_problem = per_distinct(raw["group_id"], parse_group_id)
    if default is not None:
        group_id = _choose(blank["group_id"], default, group_id)
    given, type_problem = per_distinct(raw["match_type"], parse_match_type)
    local, local_problem = check_phones(raw["local_to_number"])
    termination, termination_problem = check_phones(raw["termination_number"])
    state, state_problem = per_distinct(raw["state"], parse_state)
    filter_, filter_format = per_distinct(raw["number_match_filter"], parse_filter)
    route_type, route_problem = per_distinct(raw["route_type"], parse_route_type)
    record_calls, record_problem = per_distinct(raw["record_calls"], parse_yes_no)
    fallback, fallback_problem = per_distinct(raw["fallback"], parse_fallback)
    return _Values(
        raw=raw,
        blank=blank,
        labels={field: fields.get(field, field) for field in FIELDS},
        excel_rows=table.excel_rows,
        name=clean_texts(raw["name"]),
        group_id=group_id,
        group_problem=group_problem,
        type_problem=type_problem,
        match_type=_choose(blank["match_type"], _inferred(blank, filter_), given),
        local=local,
        local_problem=local_problem,
        termination=termination,
        termination_problem=termination_problem,
        city=clean_texts(raw["city"]),
        state=state,
        state_problem=state_problem,
        filter=filter_,
        filter_problem=filter_format,
        route_type=route_type,
        route_problem=route_problem,
        record_calls=record_calls,
        record_problem=record_problem,
        recording=clean_texts(raw["recording_message"]),
        whisper=clean_texts(raw["whisper_message"]),
        fallback=fallback,
        fallback_problem=fallback_problem,
    )


def _raw_frame(table: Table, fields: Mapping[str, str]) -> pd.DataFrame:
    """The checked fields under their canonical names, every cell a str ('' when absent)."""
    size = len(table.frame)
    columns: dict[str, pd.Series] = {}
    for field in FIELDS:
        header = fields.get(field)
        if header is None or header not in table.frame.columns:
            columns[field] = pd.Series([""] * size, dtype=object)
            continue
        column = table.frame[header]
        if isinstance(column, pd.DataFrame):  # two columns share the header: the first wins
            column = column.iloc[:, 0]
        columns[field] = pd.Series(_texts(column), dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(size))


def _texts(column: pd.Series) -> np.ndarray:
    """The cells as str. The reader gives str; blanks as NaN/None and numbers are tolerated."""
    cells = column.to_numpy(dtype=object, na_value="")
    if len(cells) and pd.api.types.infer_dtype(cells, skipna=False) != "string":
        texts = [cell if isinstance(cell, str) else str(cell) for cell in cells]
        cells = np.array(texts, dtype=object)
    return cells


def _choose(mask: pd.Series, chosen: int | pd.Series, other: pd.Series) -> pd.Series:
    """``chosen`` (a value or a column) where ``mask`` holds, else ``other``; None stays None."""
    picked = other.to_numpy(dtype=object).copy()
    where = mask.to_numpy(dtype=bool)
    picked[where] = (
        chosen.to_numpy(dtype=object)[where] if isinstance(chosen, pd.Series) else chosen
    )
    return pd.Series(picked, index=other.index, dtype=object)


def _inferred(blank: pd.DataFrame, filter_: pd.Series) -> pd.Series:
    """The match type a row's filled cells imply when it names none (None: cannot tell)."""
    inferred = pd.Series([None] * len(blank), index=blank.index, dtype=object)
    tollfree_filter = filter_.map(lambda f: bool(f) and f[:3] in nanp.TOLLFREE_NPAS)
    inferred[tollfree_filter.astype(bool)] = TF
    inferred[~(blank["city"] & blank["state"])] = LTC
    inferred[~blank["local_to_number"]] = LTN
    return inferred


# --- rules --------------------------------------------------------------------------------


def _where(mask: pd.Series, message: str | pd.Series) -> pd.Series:
    """``message`` on the rows where ``mask`` holds, '' elsewhere."""
    chosen = message.to_numpy(dtype=object) if isinstance(message, pd.Series) else message
    picked = np.where(mask.to_numpy(dtype=bool), chosen, "")
    return pd.Series(picked, index=mask.index, dtype=object)


def _each(mask: pd.Series, template: str, values: pd.Series) -> pd.Series:
    """``template`` filled with each masked row's value, '' elsewhere (built only where needed)."""
    messages = np.full(len(mask), "", dtype=object)
    where = mask.to_numpy(dtype=bool)
    messages[where] = [template.format(value) for value in values.to_numpy(dtype=object)[where]]
    return pd.Series(messages, index=mask.index, dtype=object)


def _is(values: _Values, match_type: MatchType) -> pd.Series:
    return values.match_type == match_type


def _rules(values: _Values, default: int | None) -> list[_Rule]:
    return [
        *_name_rules(values),
        *_group_rules(values, default),
        *_match_type_rules(values),
        *_local_rules(values),
        *_city_rules(values),
        *_filter_rules(values),
        *_termination_rules(values),
        *_option_rules(values),
        *_ignored_rules(values),
        *_fallback_rules(values),
    ]


def _name_rules(values: _Values) -> list[_Rule]:
    label, length = values.labels["name"], values.name.str.len()
    too_long = f"{label} is {{}} characters long; the limit is {MAX_NAME}"
    return [
        _Rule("name", "required", _where(values.name == "", f"{label} is required")),
        _Rule("name", "max_length", _each(length > MAX_NAME, too_long, length)),
        _Rule("name", "unique", _duplicates(values)),
    ]


def _duplicates(values: _Values) -> pd.Series:
    """For each row whose name is used again in its group: a message naming the other rows."""
    keys = pd.DataFrame({"group": values.group_id, "name": values.name.str.casefold()})
    keys = keys[keys["group"].notna() & (values.name != "")]
    keys = keys[keys.duplicated(keep=False)]
    messages = pd.Series("", index=values.name.index, dtype=object)
    for key, positions in keys.groupby(["group", "name"], sort=False).indices.items():
        group = cast(tuple[int, str], key)[0]
        indices = keys.index[positions].tolist()
        rows = [values.excel_rows[index] for index in indices]
        for index, row in zip(indices, rows, strict=True):
            name = quote(str(values.name.at[index]))
            others = _row_list([other for other in rows if other != row])
            messages.at[index] = f"Duplicate name {name} in group {group} (also on {others})"
    return messages


def _row_list(rows: Sequence[int]) -> str:
    """``row 7``, ``rows 7 and 9``, ``rows 7, 9, 12, 15, 18 and 3 more``."""
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = [str(row) for row in rows[:_MAX_ROWS_NAMED]]
    rest = len(rows) - len(shown)
    if rest:
        return f"rows {', '.join(shown)} and {rest} more"
    return f"rows {', '.join(shown[:-1])} and {shown[-1]}"


def _group_rules(values: _Values, default: int | None) -> list[_Rule]:
    label = values.labels["group_id"]
    missing = values.blank["group_id"] & (default is None)
    return [
        _Rule("group_id", "required", _where(missing, f"{label} is required")),
        _Rule("group_id", "valid", values.group_problem),
    ]


def _match_type_rules(values: _Values) -> list[_Rule]:
    labels = values.labels
    untold = values.blank["match_type"] & values.match_type.isna()
    message = (
        f"Cannot tell the match type: fill {labels['local_to_number']}, or {labels['city']} "
        f"and {labels['state']}, or set {labels['match_type']} to tollfree"
    )
    return [
        _Rule("match_type", "known", values.type_problem),
        _Rule("match_type", "inferable", _where(untold, message)),
    ]


def _local_rules(values: _Values) -> list[_Rule]:
    label, by_number = values.labels["local_to_number"], _is(values, LTN)
    missing = by_number & values.blank["local_to_number"]
    bad = by_number & ~values.blank["local_to_number"]
    tollfree = by_number & values.local.str[:3].isin(nanp.TOLLFREE_NPAS)
    warning = f"{label} {{}} is a toll-free number; a local number cannot be matched to it"
    return [
        _Rule(
            "local_to_number",
            "required",
            _where(missing, f"{label} is required for localtonumber rows"),
        ),
        _Rule("local_to_number", "valid", _where(bad, values.local_problem)),
        _Rule("local_to_number", "local", _each(tollfree, warning, values.local), Severity.WARNING),
    ]


def _city_rules(values: _Values) -> list[_Rule]:
    labels, by_city = values.labels, _is(values, LTC)
    city_missing = by_city & (values.city == "")
    state_missing = by_city & values.blank["state"]
    known = by_city & (values.city != "") & values.state.notna()
    unplaced = [
        city_warning(city, state) if ok else ""
        for city, state, ok in _zipped(values.city, values.state, known)
    ]
    return [
        _Rule(
            "city",
            "required",
            _where(city_missing, f"{labels['city']} is required for localtocity rows"),
        ),
        _Rule("city", "known", pd.Series(unplaced, index=values.city.index), Severity.WARNING),
        _Rule(
            "state",
            "required",
            _where(state_missing, f"{labels['state']} is required for localtocity rows"),
        ),
        _Rule("state", "known", _where(by_city, values.state_problem)),
    ]


def _filter_rules(values: _Values) -> list[_Rule]:
    index = values.filter.index
    fits = [
        filter_problem(digits, match_type) if digits and match_type else ""
        for digits, match_type in _zipped(values.filter, values.match_type)
    ]
    return [
        _Rule("number_match_filter", "format", values.filter_problem),
        _Rule("number_match_filter", "match_type", pd.Series(fits, index=index, dtype=object)),
        _Rule("number_match_filter", "place", _filter_places(values, fits), Severity.WARNING),
    ]


def _filter_places(values: _Values, fits: list[str]) -> pd.Series:
    """Warnings for filters whose area code does not serve the row's number or city."""
    columns = _zipped(
        values.filter, pd.Series(fits), values.match_type, values.local, values.city, values.state
    )
    warnings = [
        filter_place_warning(digits, match_type, local, city, state) if digits and not fit else ""
        for digits, fit, match_type, local, city, state in columns
    ]
    return pd.Series(warnings, index=values.filter.index, dtype=object)


def _termination_rules(values: _Values) -> list[_Rule]:
    label, missing = values.labels["termination_number"], values.blank["termination_number"]
    return [
        _Rule("termination_number", "required", _where(missing, f"{label} is required")),
        _Rule("termination_number", "valid", _where(~missing, values.termination_problem)),
    ]


def _option_rules(values: _Values) -> list[_Rule]:
    labels = values.labels
    unplayed = (values.record_calls == False) & (values.recording != "")  # noqa: E712
    silent = f"{labels['recording_message']} will not be played: {labels['record_calls']} is no"
    return [
        _Rule("route_type", "supported", values.route_problem),
        _Rule("record_calls", "yes_no", values.record_problem),
        _Rule("recording_message", "max_length", _too_long(values.recording, labels)),
        _Rule("recording_message", "played", _where(unplayed, silent), Severity.WARNING),
        _Rule("whisper_message", "max_length", _too_long(values.whisper, labels, "whisper")),
    ]


def _too_long(texts: pd.Series, labels: dict[str, str], kind: str = "recording") -> pd.Series:
    label, length = labels[f"{kind}_message"], texts.str.len()
    message = f"{label} is {{}} characters long; the limit is {MAX_MESSAGE}"
    return _each(length > MAX_MESSAGE, message, length)


def _ignored_rules(values: _Values) -> list[_Rule]:
    """Warnings for location cells the row's match type does not use."""
    rules = []
    for field in ("local_to_number", "city", "state"):
        types = [match_type for match_type, unused in _IGNORED.items() if field in unused]
        ignored = values.match_type.isin(types) & ~values.blank[field]
        message = f"{values.labels[field]} is ignored for {{}} rows"
        rules.append(
            _Rule(field, "ignored", _each(ignored, message, values.match_type), Severity.WARNING)
        )
    return rules


def _fallback_rules(values: _Values) -> list[_Rule]:
    """Unknown fallback words are errors; fallbacks that can never apply are warnings."""
    index = values.fallback.index
    idle = pd.Series("", index=index, dtype=object)
    if values.fallback.notna().any():  # most sheets have no fallback column: skip the loop
        notes = [
            fallback_notes(kinds, match_type, digits or "") if kinds and match_type else ""
            for kinds, match_type, digits in _zipped(
                values.fallback, values.match_type, values.filter
            )
        ]
        idle = pd.Series(notes, index=index, dtype=object)
    return [
        _Rule("fallback", "known", values.fallback_problem),
        _Rule("fallback", "used", idle, Severity.WARNING),
    ]


# --- issues -------------------------------------------------------------------------------

_Found = list[tuple[tuple[int, int], Issue]]  # ((frame position, rule order), issue)


def _error_issues(values: _Values, rules: list[_Rule]) -> _Found:
    """Run the error rules as a pandera schema; every failure of every row becomes an Issue."""
    errors = {_check_name(rule): order for order, rule in enumerate(rules) if _is_error(rule)}
    schema = pa.DataFrameSchema(
        {field: pa.Column(checks=_checks(rules, field), required=True) for field in FIELDS}
    )
    try:
        schema.validate(values.raw, lazy=True)
    except SchemaErrors as failed:
        return _from_failures(values, rules, errors, failed.failure_cases)
    return []


def _is_error(rule: _Rule) -> bool:
    return rule.severity is Severity.ERROR


def _check_name(rule: _Rule) -> str:
    return f"{rule.field}.{rule.name}"


def _checks(rules: list[_Rule], field: str) -> list[pa.Check]:
    return [
        pa.Check(_passing(rule.problems), element_wise=False, name=_check_name(rule))
        for rule in rules
        if rule.field == field and _is_error(rule)
    ]


def _passing(problems: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """A vectorised pandera check: the rows whose problem column is empty pass."""
    passes = problems == ""
    return lambda _column: passes


def _from_failures(
    values: _Values, rules: list[_Rule], errors: dict[str, int], failures: pd.DataFrame
) -> _Found:
    found: _Found = []
    for check, failed in failures.groupby("check", sort=False):
        order = errors[str(check)]
        found += _issues(
            values, order, rules[order], _failure_positions(values, rules[order], failed)
        )
    return found


def _failure_positions(values: _Values, rule: _Rule, failed: pd.DataFrame) -> list[int]:
    """The rows of one check's failures. Some checks report no index: match on the value."""
    indexed = pd.to_numeric(failed["index"], errors="coerce")
    positions = set(indexed.dropna().astype(int).tolist())
    unindexed = failed.loc[indexed.isna().to_numpy(), "failure_case"]
    if len(unindexed):
        failing = (rule.problems != "").to_numpy()
        for case in unindexed.tolist():
            same = failing & (values.raw[rule.field] == case).to_numpy()
            positions.update(int(i) for i in np.flatnonzero(same if same.any() else failing))
    return sorted(positions)


def _warning_issues(values: _Values, rules: list[_Rule]) -> _Found:
    found: _Found = []
    for order, rule in enumerate(rules):
        if not _is_error(rule):
            positions = np.flatnonzero((rule.problems != "").to_numpy()).tolist()
            found += _issues(values, order, rule, positions)
    return found


def _issues(values: _Values, order: int, rule: _Rule, positions: list[int]) -> _Found:
    """The Issues of one rule at the given frame positions, keyed for sorting."""
    messages = rule.problems.to_numpy(dtype=object)
    cells = values.raw[rule.field].to_numpy(dtype=object)
    column, rows = values.labels[rule.field], values.excel_rows
    return [
        ((p, order), Issue(rows[p], column, cells[p], messages[p], rule.severity))
        for p in positions
    ]


# --- rows ---------------------------------------------------------------------------------


def _checked_rows(values: _Values, invalid: set[int]) -> tuple[CheckedRow, ...]:
    """One CheckedRow per sheet row; rows without errors carry their order."""
    columns = _zipped(  # in NormalisedRow's field order
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


def _zipped(*columns: pd.Series) -> Iterator[tuple[Any, ...]]:
    """The rows of aligned columns as tuples (lists iterate far faster than Series)."""
    return zip(*(column.tolist() for column in columns), strict=True)
