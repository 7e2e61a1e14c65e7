"""Parsers for the cells of an advertiser sheet other than phone numbers.

Each parser turns one cell's text into a clean value, or into a short message saying what is
wrong and how to write it instead. Parsers never raise on bad input. ``per_distinct`` applies a
parser to a whole column, once per distinct text, which is what keeps 100k-row sheets fast.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from batchprov.check.excelnum import excel_digits
from batchprov.models import MatchType, Parsed
from batchprov.numbering import nanp
from batchprov.wording import quote

__all__ = [
    "MAX_MESSAGE",
    "MAX_NAME",
    "Parsed",
    "blanks",
    "clean_text",
    "Distinct",
    "clean_texts",
    "filter_problem",
    "invisible_problem",
    "parse_filter",
    "parse_group_id",
    "parse_match_type",
    "parse_route_type",
    "parse_state",
    "parse_yes_no",
    "per_distinct",
    "quote",
    "suggest_state",
    "suggestions_of",
]

T = TypeVar("T")

MAX_NAME = 100
MAX_MESSAGE = 500

_MATCH_TYPES: dict[str, MatchType] = {
    **dict.fromkeys(
        ["localtonumber", "localnumber", "number", "ltn", "localtophone", "tonumber"],
        MatchType.LOCAL_TO_NUMBER,
    ),
    **dict.fromkeys(
        [
            "localtocity",
            "localcity",
            "city",
            "ltc",
            "geo",
            "geographic",
            "localtogeo",
            "localtogeographicarea",
            "localtoregion",
            "localtogeography",
        ],
        MatchType.LOCAL_TO_CITY,
    ),
    **dict.fromkeys(
        ["tollfree", "tf", "800", "8xx", "tollfreenumber", "freephone"],
        MatchType.TOLLFREE,
    ),
}
_MATCH_TYPE_HELP = "write Local to number, Local to city or Toll-free, or leave it empty"
_YES = frozenset({"yes", "y", "true", "1", "on"})
_NO = frozenset({"no", "n", "false", "0", "off"})


def clean_text(text: str) -> str:
    """Trim and collapse inner whitespace (line breaks and non-breaking spaces too)."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Distinct:
    """A column by distinct cell text, so that each text is looked at once, not once per cell.

    ``texts`` are in order of first appearance; ``codes`` holds each cell's position among
    them. The column helpers below take a Series or its Distinct: a column that several of
    them look at is factorised once.
    """

    texts: list[Any]
    codes: np.ndarray
    index: pd.Index

    @classmethod
    def of(cls, values: pd.Series | Distinct) -> Distinct:
        if isinstance(values, Distinct):
            return values
        codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=False)
        return cls(uniques.tolist(), codes, values.index)

    def spread(self, per_text: list[Any], dtype: type = object) -> pd.Series:
        """Values computed once per text, back at every cell of the column."""
        computed: np.ndarray = np.fromiter(per_text, dtype=dtype, count=len(per_text))
        return pd.Series(computed[self.codes], index=self.index, dtype=dtype)


def clean_texts(values: pd.Series | Distinct) -> pd.Series:
    """``clean_text`` for a whole column.

    A Series is cleaned cell by cell, the cheapest way for texts that rarely repeat (names);
    a Distinct once per text. (A list pass either way: pandas' object .str is slower.)
    """
    if isinstance(values, Distinct):
        return values.spread([clean_text(text) for text in values.texts])
    cleaned = [" ".join(text.split()) for text in values.tolist()]
    return pd.Series(cleaned, index=values.index, dtype=object)


def blanks(values: pd.Series | Distinct) -> pd.Series:
    """True for the cells holding nothing but whitespace."""
    cells = Distinct.of(values)
    return cells.spread([not text.strip() for text in cells.texts], dtype=bool)


def per_distinct(
    values: pd.Series | Distinct, parse: Callable[[str], Parsed[T]]
) -> tuple[pd.Series, pd.Series]:
    """Apply a parser once per distinct cell text: (values, problems) aligned to ``values``."""
    cells = Distinct.of(values)
    verdicts = [parse(text) for text in cells.texts]
    parsed = cells.spread([v.value for v in verdicts])
    return parsed, cells.spread([v.problem for v in verdicts])


#: Characters that show as nothing (or reorder the text) yet are sent to the API as they are.
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs"})


def invisible_problem(text: str) -> str:
    """What invisible character ``text`` holds and where, '' when none.

    e.g. ``contains a zero-width space (U+200B) after 'ABC'``. Control, format (zero-width,
    bidirectional), private-use and surrogate characters count; whitespace does not (it is
    collapsed to single spaces).
    """
    if text.isprintable():  # the fast answer for nearly every cell
        return ""
    found = [(at, ch) for at, ch in enumerate(text) if unicodedata.category(ch) in _INVISIBLE]
    if not found:
        return ""
    at, char = found[0]
    where = f"after {quote(text[max(0, at - 20) : at])}" if at else "at the start"
    more = len(found) - 1
    rest = f" (and {more} more such character{'s' if more > 1 else ''})" if more else ""
    it = "them" if more else "it"
    return f"contains {_describe(char)} {where}{rest}; delete {it} and type the text again"


def _describe(char: str) -> str:
    code = f"U+{ord(char):04X}"
    category = unicodedata.category(char)
    if category == "Cc":
        return f"a control character ({code})"
    if category == "Co":
        return f"a private-use character ({code})"
    if category == "Cs":
        return f"an unpaired surrogate ({code})"
    name = unicodedata.name(char, "invisible formatting character").lower()
    name = name.replace("zero width", "zero-width")
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} ({code})"


def suggestions_of(values: pd.Series, suggest: Callable[[str], str]) -> pd.Series:
    """``suggest`` applied once per distinct cell text ('' where it has nothing to offer)."""
    cells = Distinct.of(values)
    return cells.spread([suggest(text) for text in cells.texts])


@lru_cache(maxsize=4096)
def parse_match_type(text: str) -> Parsed[MatchType]:
    """``Local to Number``, ``city``, ``TF``, ``800``… → the match type; blank → None."""
    key = re.sub(r"[^0-9a-z]", "", text.casefold())
    if not key:
        return Parsed()
    if key in _MATCH_TYPES:
        return Parsed(_MATCH_TYPES[key])
    return Parsed(problem=f"unknown match type {quote(text.strip())}; {_MATCH_TYPE_HELP}")


@lru_cache(maxsize=4096)
def parse_state(text: str) -> Parsed[str]:
    """A two-letter US state or Canadian province code, from a code or a full name, any case."""
    cleaned = clean_text(text)
    if not cleaned:
        return Parsed()
    code = nanp.state_code(cleaned)
    if code:
        return Parsed(code)
    return Parsed(problem=f"unknown state/province {quote(cleaned)}{_state_hint(cleaned)}")


def _state_hint(text: str) -> str:
    code = suggest_state(text)
    if code:
        return f" (did you mean {code} — {nanp.STATES[code]}?)"
    return "; use a two-letter code such as GA or ON"


@lru_cache(maxsize=4096)
def suggest_state(text: str) -> str:
    """The code of the state or province whose name an unknown one most looks like ('' if none).

    The "did you mean" of `parse_state`'s message, as a value a page can put in the cell.
    """
    cleaned = clean_text(text)
    if not cleaned or nanp.state_code(cleaned):
        return ""
    names = {name.casefold(): code for code, name in nanp.STATES.items()}
    close = difflib.get_close_matches(cleaned.casefold(), list(names), n=1, cutoff=0.7)
    return names[close[0]] if close else ""


@lru_cache(maxsize=4096)
def parse_yes_no(text: str) -> Parsed[bool]:
    """yes/no, true/false, 1/0, y/n in any case (Excel's TRUE/FALSE and 1.0 too); blank → None."""
    key = text.strip().casefold()
    if not key:
        return Parsed()
    key = {"1.0": "1", "0.0": "0"}.get(key, key)
    if key in _YES:
        return Parsed(True)
    if key in _NO:
        return Parsed(False)
    return Parsed(problem=f"{quote(text.strip())} is not yes or no; write yes or no")


@lru_cache(maxsize=4096)
def parse_group_id(text: str) -> Parsed[int]:
    """A positive whole number; Excel's ``11623282.0`` is fine. Blank → None."""
    cleaned = text.strip()
    if not cleaned:
        return Parsed()
    number = _whole_number(cleaned)
    if number is None:
        return Parsed(problem=f"group id {quote(cleaned)} is not a whole number, e.g. 11623282")
    if number <= 0:
        return Parsed(problem=f"group id {quote(cleaned)} must be a positive number")
    if number >= 2**53:
        return Parsed(problem=f"group id {quote(cleaned)} is too large to be a group id")
    return Parsed(number)


def _whole_number(text: str) -> int | None:
    """A signed whole number in Excel's spellings (``-12``, ``+12``, ``12.0``, ``1.2E+01``)."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    digits = excel_digits(body)
    if digits is None:  # too many digits is "too large" below; anything else is no number
        return sign * 2**63 if body.isdigit() else None
    return sign * int(digits)


@lru_cache(maxsize=4096)
def parse_route_type(text: str) -> Parsed[str]:
    """``Basic`` in any case; blank means Basic too. Other route types cannot be ordered."""
    cleaned = clean_text(text)
    if not cleaned or cleaned.casefold() == "basic":
        return Parsed("Basic")
    return Parsed(
        problem=f"routing {quote(cleaned)} is not offered; write Basic, or leave it empty"
    )


@lru_cache(maxsize=4096)
def parse_filter(text: str) -> Parsed[str]:
    """A number_match_filter: 3 digits (area code) or 6 (area code + exchange). Blank → None."""
    cleaned = text.strip()
    if not cleaned:
        return Parsed()
    cleaned = excel_digits(cleaned) or cleaned  # Excel stored the digits as a number: 289.0
    digits = re.sub(r"[\s\-()]", "", cleaned)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (3, 6):
        return Parsed(
            problem=f"filter {quote(cleaned)} must be an area code (3 digits, such as 289) or "
            "an area code and exchange (6 digits, such as 905637)"
        )
    if len(digits) == 6 and not nanp.is_central_office_code(digits[3:]):
        return Parsed(
            problem=f"filter {digits}: no local number starts {digits[:3]}-{digits[3:]} "
            "(the exchange, digits 4 to 6, starts with 2-9 and never ends in 11); check it"
        )
    return Parsed(digits)


@lru_cache(maxsize=4096)
def filter_problem(digits: str, match_type: MatchType) -> str:
    """Why a well-formed filter does not suit the match type ('' when it does)."""
    npa = digits[:3]
    # "filter 800 is …" for an area code; "filter 800555: 800 is …" for area code + exchange.
    subject = f"filter {digits}" if len(digits) == 3 else f"filter {digits}: {npa}"
    tollfree = npa in nanp.TOLLFREE_NPAS
    if match_type is MatchType.TOLLFREE:
        if tollfree:
            return ""
        codes = ", ".join(nanp.TOLLFREE_NPAS)
        return (
            f"{subject} is not a toll-free area code; a toll-free number needs one of {codes}, "
            "or no filter"
        )
    if tollfree:
        return (
            f"{subject} is a toll-free area code, but this row asks for a local number; use a "
            "local area code (such as 416), or set the match type to Toll-free"
        )
    if npa[1:] == "11":
        return f"{subject} is a service code, like 911, not an area code; check the filter"
    if npa[0] in "01":
        return f"{subject} is not an area code (no area code starts with {npa[0]}); check it"
    return ""
