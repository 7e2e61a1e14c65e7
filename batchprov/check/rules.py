"""The rules a sheet's rows must follow, each one a vectorised "problem column".

A rule holds the message for each row that breaks it, '' for the others: per match type (what
each needs, what it ignores), per option, and across rows (duplicate names within a group).
Duplicate names: when two rows of one group carry the same name (ignoring case and spacing),
*all* of them are invalid and each names the others' rows. Ordering the first and refusing the
rest would be a guess about which row the user meant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from batchprov.check.parsers import MAX_MESSAGE, MAX_NAME, filter_problem, invisible_problem
from batchprov.check.values import LTC, LTN, TF, Values, filled, zipped
from batchprov.models import MatchType, Severity, name_key
from batchprov.numbering import nanp
from batchprov.numbering.area import city_suggestion, city_warning, filter_place_warning
from batchprov.numbering.fallback import fallback_notes
from batchprov.wording import match_type_words, quote

#: Location fields each match type ignores (filled anyway → a warning).
_IGNORED: dict[MatchType, tuple[str, ...]] = {
    LTN: ("city", "state"),
    LTC: ("local_to_number",),
    TF: ("local_to_number", "city", "state"),
}
_MAX_ROWS_NAMED = 5

_GROUP_HELP = "give the Telmetrics group ID (a whole number), or run with --group-id"
_FORWARD_HELP = "give the 10-digit number that calls to the new number should ring"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule as a problem column: the message per row, '' where the row passes.

    ``suggestions``, when given, holds the value the rule would put in each failing cell
    ('' where it cannot tell): the Issue's ``suggestion``.
    """

    field: str
    name: str
    problems: pd.Series
    severity: Severity = Severity.ERROR
    suggestions: pd.Series | None = None


def _where(mask: pd.Series, message: str | pd.Series) -> pd.Series:
    """``message`` on the rows where ``mask`` holds, '' elsewhere."""
    where = mask.to_numpy(dtype=bool)
    picked = np.full(len(where), "", dtype=object)
    chosen = message.to_numpy(dtype=object)[where] if isinstance(message, pd.Series) else message
    picked[where] = chosen
    return pd.Series(picked, index=mask.index, dtype=object)


def _each(mask: pd.Series, template: str, values: pd.Series) -> pd.Series:
    """``template`` filled with each masked row's value, '' elsewhere (built only where needed)."""
    return _at(mask, template.format, values)


def _at(mask: pd.Series, message: Callable[..., str], *columns: pd.Series) -> pd.Series:
    """``message(*cells)`` for each row where ``mask`` holds, '' elsewhere.

    Only the masked rows are computed: most rules concern few rows of a sheet.
    """
    where = np.flatnonzero(mask.to_numpy(dtype=bool))
    cells = zip(*(column.to_numpy(dtype=object)[where].tolist() for column in columns), strict=True)
    messages = np.full(len(mask), "", dtype=object)
    messages[where] = np.fromiter((message(*row) for row in cells), dtype=object, count=len(where))
    return pd.Series(messages, index=mask.index, dtype=object)


def _empty(texts: pd.Series) -> pd.Series:
    """True for the '' cells of a column of texts."""
    return pd.Series(texts.to_numpy(dtype=object) == "", index=texts.index)


def _lengths(texts: pd.Series) -> pd.Series:
    """The length of each text (a list pass: pandas' object .str is slower)."""
    lengths = np.fromiter(map(len, texts.tolist()), dtype=np.int64, count=len(texts))
    return pd.Series(lengths, index=texts.index)


def _is(values: Values, match_type: MatchType) -> pd.Series:
    return values.match_type == match_type


def all_rules(values: Values, default: int | None) -> list[Rule]:
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


def _name_rules(values: Values) -> list[Rule]:
    label, length = values.labels["name"], _lengths(values.name)
    too_long = f"{label} is {{}} characters long; the limit is {MAX_NAME}"
    return [
        Rule(
            "name",
            "required",
            _where(_empty(values.name), f"{label} is empty; give the advertiser's name"),
        ),
        Rule("name", "max_length", _each(length > MAX_NAME, too_long, length)),
        Rule("name", "visible", _invisible(values.name, label)),
        Rule("name", "unique", _duplicates(values)),
    ]


def _invisible(texts: pd.Series, label: str) -> pd.Series:
    """A message for each text holding a character that shows as nothing (zero-width, control)."""
    cells = texts.tolist()
    if "".join(cells).isprintable():  # every text is: the answer for nearly every column
        return pd.Series("", index=texts.index, dtype=object)
    problems = ["" if text.isprintable() else invisible_problem(text) for text in cells]
    return pd.Series(
        [f"{label} {problem}" if problem else "" for problem in problems],
        index=texts.index,
        dtype=object,
    )


def _duplicates(values: Values) -> pd.Series:
    """For each row whose name is used again in its group: a message naming the other rows."""
    folded = pd.Series([name_key(name) for name in values.name.tolist()], index=values.name.index)
    # A name used twice in a group is used twice in the sheet: rule out the others first.
    named = folded.duplicated(keep=False) & values.group_id.notna() & ~_empty(values.name)
    keys = pd.DataFrame({"group": values.group_id[named], "name": folded[named]})
    keys = keys[keys.duplicated(keep=False)]
    messages = pd.Series("", index=values.name.index, dtype=object)
    for key, positions in keys.groupby(["group", "name"], sort=False).indices.items():
        group = cast(tuple[int, str], key)[0]
        indices = keys.index[positions].tolist()
        rows = [values.excel_rows[index] for index in indices]
        for index, row in zip(indices, rows, strict=True):
            name = quote(str(values.name.at[index]))
            others = _row_list([other for other in rows if other != row])
            messages.at[index] = (
                f"Duplicate name {name} in group {group} (also on {others}); give each row "
                "its own name"
            )
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


def _group_rules(values: Values, default: int | None) -> list[Rule]:
    label = values.labels["group_id"]
    missing = values.blank["group_id"] & (default is None)
    return [
        Rule("group_id", "required", _where(missing, f"{label} is empty; {_GROUP_HELP}")),
        Rule("group_id", "valid", values.group_problem),
    ]


def _match_type_rules(values: Values) -> list[Rule]:
    labels = values.labels
    untold = values.blank["match_type"] & values.match_type.isna()
    message = (
        f"Cannot tell the match type: fill {labels['local_to_number']}, or {labels['city']} "
        f"and {labels['state']}, or set {labels['match_type']} to Toll-free"
    )
    return [
        Rule("match_type", "known", values.type_problem),
        Rule("match_type", "inferable", _where(untold, message)),
    ]


def _local_rules(values: Values) -> list[Rule]:
    label, by_number = values.labels["local_to_number"], _is(values, LTN)
    missing = by_number & values.blank["local_to_number"]
    bad = by_number & ~values.blank["local_to_number"]
    tollfree = by_number & pd.Series(
        [nanp.is_tollfree(number) for number in values.local.tolist()], index=values.local.index
    )
    warning = f"{label} {{}} is a toll-free number; a local number cannot be matched to it"
    return [
        Rule(
            "local_to_number",
            "required",
            _where(
                missing,
                f"{label} is needed for a number local to the advertiser's phone "
                "(match type Local to number); fill it, or change the match type",
            ),
        ),
        Rule(
            "local_to_number",
            "valid",
            _where(bad, values.local_problem),
            suggestions=values.local_suggestion,
        ),
        Rule("local_to_number", "local", _each(tollfree, warning, values.local), Severity.WARNING),
    ]


def _city_rules(values: Values) -> list[Rule]:
    labels, by_city = values.labels, _is(values, LTC)
    city_missing = by_city & _empty(values.city)
    state_missing = by_city & values.blank["state"]
    known = by_city & ~city_missing & values.state.notna()
    unplaced = _at(known, city_warning, values.city, values.state)
    closest = _at(~_empty(unplaced), city_suggestion, values.city, values.state)
    return [
        Rule(
            "city",
            "required",
            _where(
                city_missing,
                f"{labels['city']} is needed for a number local to a city "
                "(match type Local to city); fill it, or change the match type",
            ),
        ),
        Rule("city", "known", unplaced, Severity.WARNING, closest),
        Rule("city", "visible", _invisible(values.city, labels["city"])),
        Rule(
            "state",
            "required",
            _where(
                state_missing,
                f"{labels['state']} is needed for a number local to a city "
                "(match type Local to city); fill it, or change the match type",
            ),
        ),
        Rule(
            "state",
            "known",
            _where(by_city, values.state_problem),
            suggestions=values.state_suggestion,
        ),
    ]


def _filter_rules(values: Values) -> list[Rule]:
    given = pd.Series(filled(values.filter), index=values.filter.index)
    typed = pd.Series(filled(values.match_type), index=values.match_type.index)
    fits = _at(given & typed, filter_problem, values.filter, values.match_type)
    return [
        Rule("number_match_filter", "format", values.filter_problem),
        Rule("number_match_filter", "match_type", fits),
        Rule(
            "number_match_filter",
            "place",
            _filter_places(values, given & _empty(fits)),
            Severity.WARNING,
        ),
    ]


def _filter_places(values: Values, fitting: pd.Series) -> pd.Series:
    """Warnings for filters whose area code does not serve the row's number or city."""
    columns = (values.filter, values.match_type, values.local, values.city, values.state)
    return _at(fitting, filter_place_warning, *columns)


def _termination_rules(values: Values) -> list[Rule]:
    label, missing = values.labels["termination_number"], values.blank["termination_number"]
    return [
        Rule(
            "termination_number", "required", _where(missing, f"{label} is empty; {_FORWARD_HELP}")
        ),
        Rule(
            "termination_number",
            "valid",
            _where(~missing, values.termination_problem),
            suggestions=values.termination_suggestion,
        ),
    ]


def _option_rules(values: Values) -> list[Rule]:
    labels = values.labels
    unplayed = (values.record_calls == False) & ~_empty(values.recording)  # noqa: E712
    silent = f"{labels['recording_message']} will not be played: {labels['record_calls']} is no"
    return [
        Rule("route_type", "supported", values.route_problem),
        Rule("record_calls", "yes_no", values.record_problem),
        Rule("recording_message", "max_length", _too_long(values.recording, labels)),
        Rule(
            "recording_message",
            "visible",
            _invisible(values.recording, labels["recording_message"]),
        ),
        Rule("recording_message", "played", _where(unplayed, silent), Severity.WARNING),
        Rule("whisper_message", "max_length", _too_long(values.whisper, labels, "whisper")),
        Rule("whisper_message", "visible", _invisible(values.whisper, labels["whisper_message"])),
    ]


def _too_long(texts: pd.Series, labels: dict[str, str], kind: str = "recording") -> pd.Series:
    label, length = labels[f"{kind}_message"], _lengths(texts)
    message = f"{label} is {{}} characters long; the limit is {MAX_MESSAGE}"
    return _each(length > MAX_MESSAGE, message, length)


def _ignored_rules(values: Values) -> list[Rule]:
    """Warnings for location cells the row's match type does not use."""
    rules = []
    # A dict maps the whole column at once; a function would be called once per row.
    words = values.match_type.map({kind: match_type_words(kind) for kind in MatchType})
    for field in ("local_to_number", "city", "state"):
        types = [match_type for match_type, unused in _IGNORED.items() if field in unused]
        ignored = values.match_type.isin(types) & ~values.blank[field]
        message = f"{values.labels[field]} is not used when the match type is {{}}; it is left out"
        rules.append(Rule(field, "ignored", _each(ignored, message, words), Severity.WARNING))
    return rules


def _fallback_rules(values: Values) -> list[Rule]:
    """Unknown fallback words are errors; fallbacks that can never apply are warnings."""
    index = values.fallback.index
    idle = pd.Series("", index=index, dtype=object)
    if values.fallback.notna().any():  # most sheets have no fallback column: skip the loop
        notes = [
            fallback_notes(kinds, match_type, digits or "") if kinds and match_type else ""
            for kinds, match_type, digits in zipped(
                values.fallback, values.match_type, values.filter
            )
        ]
        idle = pd.Series(notes, index=index, dtype=object)
    return [
        Rule("fallback", "known", values.fallback_problem),
        Rule("fallback", "used", idle, Severity.WARNING),
    ]
