"""Matching header texts to batchprov's fields and result columns (docs/design.md §2.2, §2.3).

Headers are compared in a normalised form (case, spaces and punctuation ignored) against each
field's name and its aliases. Our own result columns are recognised only by their exact texts,
so a re-read output workbook never mistakes them for input.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from batchprov.errors import DuplicateColumnsError, MissingColumnsError

CANONICAL_FIELDS: tuple[str, ...] = (
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

REQUIRED: tuple[str, ...] = ("name", "group_id", "termination_number")

RESULT_HEADERS: tuple[str, ...] = (
    "Status",
    "Error",
    "Warnings",
    "Tracking Number",
    "Assigned Name",
    "Ordered As",
    "Number ID",
    "Route ID",
    "Attempts",
    "Provisioned At",
)
#: Written only sometimes; when present they follow the main block.
OPTIONAL_RESULT_HEADERS: tuple[str, ...] = ("Expected Area", "Request Body")
#: Result headers of earlier versions, still recognised when an old output is read again.
FORMER_RESULT_HEADERS: tuple[str, ...] = ("Match Type",)
#: A result block starts with "Status" followed by one of these (old outputs: Tracking Number).
_SECOND_HEADERS = frozenset({"Error", "Tracking Number"})

#: Headers people really use for each field, besides the field's own name. The first few of
#: each list are quoted in the missing-column message, so the most common come first.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "Advertiser",
        "Advertiser Name",
        "Business Name",
        "Name",
        "Company",
        "Company Name",
        "Customer Name",
        "Customer",
        "Client",
        "Client Name",
        "Business",
        "Account Name",
        "Tracking Name",
        "Number Name",
        "Tracking Number Name",
    ),
    "group_id": (
        "Group",
        "Group ID",
        "Group Number",
        "Group No",
        "Telmetrics Group",
        "Telmetrics Group ID",
        "GroupID",
        "Grp",
    ),
    "match_type": (
        "Match Type",
        "Type",
        "Method",
        "Number Type",
        "Assignment",
        "Assignment Method",
        "Assignment Type",
        "Match Method",
        "Matching",
        "Match",
    ),
    "local_to_number": (
        "Local To",
        "Advertiser Phone",
        "Business Phone",
        "Existing Number",
        "Main Number",
        "Local Number",
        "Local To Number",
        "Local To Phone",
        "Main Phone",
        "Advertiser Number",
        "Business Number",
        "Current Number",
        "Existing Phone",
        "Match Number",
        "Number To Match",
    ),
    "city": ("City", "Town", "City Name", "City/Town", "Municipality", "Locality"),
    "state": (
        "State",
        "Province",
        "State/Province",
        "Province/State",
        "State/Prov",
        "Prov",
        "Region",
        "ST",
        "State Code",
        "Province Code",
    ),
    "number_match_filter": (
        "Filter",
        "NPA",
        "Area Code",
        "Match Filter",
        "Prefix",
        "Number Filter",
        "NPA NXX",
        "NPA/NXX",
        "Area Code Filter",
    ),
    "termination_number": (
        "Forward To",
        "Ring To",
        "Destination",
        "Destination Number",
        "Target Number",
        "Forwarding Number",
        "Termination",
        "Termination Number",
        "Terminating Number",
        "Forward Number",
        "Forward To Number",
        "Ring To Number",
        "Target",
        "Forward Phone",
        "Forwarding Phone",
        "Ring To Phone",
        "Destination Phone",
        "Forward Calls To",
        "Forward Calls",
        "Calls Ring At",
    ),
    "route_type": ("Route", "Routing", "Route Type", "Routing Type"),
    "record_calls": (
        "Record",
        "Call Recording",
        "Recording",
        "Record Calls",
        "Record Call",
        "Recorded",
        "Recording Enabled",
    ),
    "recording_message": (
        "Recording Notice",
        "Record Message",
        "Recording Message",
        "Recording Text",
        "Recording Announcement",
        "Recording Prompt",
    ),
    "whisper_message": (
        "Whisper",
        "Whisper Text",
        "Whisper Message",
        "Whisper Prompt",
        "Call Whisper",
    ),
    "fallback": (
        "Fallback",
        "Fallbacks",
        "If No Match",
        "Fall Back",
        "Fallback Match",
        "Fallback Match Type",
        "On No Match",
        "If Unavailable",
        "If No Number Matches",
        "If No Number",
    ),
}

_NOT_WORD = re.compile(r"[\W_]+")


def normalize_header(text: str) -> str:
    """Lower-case ``text`` and drop spaces, underscores, hyphens and punctuation."""
    return _NOT_WORD.sub("", text.casefold())


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field in CANONICAL_FIELDS:
        for text in (field, *ALIASES[field]):
            key = normalize_header(text)
            # An alias claimed by two fields would make matching depend on dict order.
            if lookup.setdefault(key, field) != field:
                raise AssertionError(f"alias {text!r} claimed by {lookup[key]} and {field}")
    return lookup


#: normalised header text → canonical field.
LOOKUP: dict[str, str] = _build_lookup()
_RESULT_SET = frozenset((*RESULT_HEADERS, *OPTIONAL_RESULT_HEADERS, *FORMER_RESULT_HEADERS))
_COPY_SUFFIX = re.compile(r" \(\d+\)$")


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where each field and each result column sits in the user's header row.

    Attributes:
        fields: canonical field → the user's original header.
        results: result header (as in ``RESULT_HEADERS``) → the user's original header.
        other: the user's other columns, kept untouched, in sheet order.
    """

    fields: dict[str, str]
    results: dict[str, str]
    other: tuple[str, ...]


def header_score(cells: Sequence[str]) -> int:
    """How many distinct fields the cells of a row name: the header row scores highest."""
    return len({LOOKUP[key] for key in map(normalize_header, cells) if key in LOOKUP})


def map_columns(
    headers: Sequence[str],
    *,
    group_id_given: bool = False,
    columns: Sequence[int] | None = None,
) -> ColumnMap:
    """Match ``headers`` to fields and result columns.

    ``columns`` (the sheet column number of each header, as in ``Table.columns``) lets the
    duplicate-column message name column letters.

    Raises:
        DuplicateColumnsError: two columns name the same field (``Name`` and ``Advertiser``,
            or ``Name`` twice): which one holds the data is the user's call, not a guess.
        MissingColumnsError: a required field has no column (``group_id`` is not required when
            a default group id is given).
    """
    span = result_span(headers)
    fields: dict[str, str] = {}
    results: dict[str, str] = {}
    other: list[str] = []
    for position, header in enumerate(headers):
        if position in span:
            results[result_header(header)] = header
            continue
        field = LOOKUP.get(normalize_header(header))
        if field is None:
            # A reader names a repeated header "Name (2)"; it still names the field.
            field = LOOKUP.get(normalize_header(_COPY_SUFFIX.sub("", header)))
            if field is None or field not in fields:
                other.append(header)
                continue
        if field in fields:
            raise DuplicateColumnsError(
                _duplicate_message(field, fields[field], header, headers, columns)
            )
        fields[field] = header
    required = [f for f in REQUIRED if not (f == "group_id" and group_id_given)]
    missing = [f for f in required if f not in fields]
    if missing:
        raise MissingColumnsError(_missing_message(missing, headers, span, other))
    return ColumnMap(fields=fields, results=results, other=tuple(other))


def result_header(header: str) -> str:
    """A header as a result header: trimmed, without the `` (2)`` a reader adds to a repeat.

    In outputs of earlier versions the user's own "Match Type" column and the result column of
    that name share a text, so a reader tells them apart as "Match Type" and "Match Type (2)".
    """
    return _COPY_SUFFIX.sub("", header.strip())


def result_span(headers: Sequence[str]) -> range:
    """Positions (0-based) of batchprov's own result columns among ``headers``.

    They are the run of exact result headers (trimmed, case-sensitive) that starts at a
    ``Status`` header immediately followed by ``Error`` (or by ``Tracking Number``, as earlier
    versions wrote them); empty when there is none.
    """
    texts = [result_header(h) for h in headers]
    for start in range(len(texts) - 1):
        if texts[start] == "Status" and texts[start + 1] in _SECOND_HEADERS:
            end = start
            seen: set[str] = set()
            # A repeated header ends the run: each result column is written once.
            while end < len(texts) and texts[end] in _RESULT_SET and texts[end] not in seen:
                seen.add(texts[end])
                end += 1
            return range(start, end)
    return range(0)


def _duplicate_message(
    field: str, first: str, second: str, headers: Sequence[str], columns: Sequence[int] | None
) -> str:
    """One line naming both columns (with their letters when known) and what to do."""

    def shown(header: str) -> str:
        text = f"'{result_header(header)}'"
        if columns is not None:
            text += f" (column {column_letter(columns[list(headers).index(header)])})"
        return text

    return (
        f"Two columns hold {field}: {shown(first)} and {shown(second)}. "
        "Delete or rename one of them so that batchprov knows which to use."
    )


def column_letter(number: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _missing_message(
    missing: Sequence[str], headers: Sequence[str], span: range, other: Sequence[str]
) -> str:
    """One line: what is missing (with example headers), what was found, what looks close."""
    wanted = " and ".join(f"'{f}' ({' / '.join(ALIASES[f][:3])})" for f in missing)
    noun = "column" if len(missing) == 1 else "columns"
    user_headers = [h for i, h in enumerate(headers) if i not in span and h.strip()]
    found = ", ".join(user_headers) if user_headers else "no column headers"
    closest = {f: c for f in missing if (c := _closest(f, other))}
    if len(missing) == 1:
        hint = "".join(f" Closest: '{c}'." for c in closest.values())
    else:
        hint = "".join(f" Closest to {f}: '{c}'." for f, c in closest.items())
    return f"Missing required {noun} {wanted}. Found: {found}.{hint}"


def _closest(field: str, candidates: Sequence[str]) -> str | None:
    """The unmatched header that looks most like ``field`` or one of its aliases."""
    targets = [normalize_header(t) for t in (field, *ALIASES[field])]
    best: tuple[float, str] | None = None
    for header in candidates:
        key = normalize_header(header)
        if not key:
            continue
        score = max(difflib.SequenceMatcher(None, key, t).ratio() for t in targets)
        if score >= 0.5 and (best is None or score > best[0]):
            best = (score, header)
    return best[1] if best else None
