"""North American (NANP) phone numbers as people type them into spreadsheets.

Every accepted spelling becomes the 10 digits the API wants; every refused one gets a reason an
account manager can act on. Verdicts are cached per distinct text. Validity is exactly
``phonenumbers.is_valid_number``'s, computed from its own patterns compiled once (see
``_valid_number``), which is ~10x faster than calling it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import NamedTuple

import pandas as pd
import phonenumbers

from batchprov.check.excelnum import excel_digits
from batchprov.check.parsers import Distinct

__all__ = ["PhoneCheck", "check_phone", "check_phones", "suggest_phone"]

#: What a number cell may hold besides digits: separators people and Excel use.
_SEPARATORS = re.compile(r"[\s().\-\u2010-\u2015/+]")
#: 905 637 2046, (905) 637-2046, +1 905.637.2046, 1-905-637-2046, 9056372046.0 and the like.
_USUAL = re.compile(
    r" *(?:(?:\+?1[ .\-]?)?\(?([0-9]{3})\)?[ .\-]?([0-9]{3})[ .\-]?([0-9]{4})"
    r"|1?([0-9]{3})([0-9]{3})([0-9]{4})\.0+) *"
)
#: How the reader writes a date cell: 2024-03-05, or 2024-03-05T00:00:00 with a time.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_LETTER = re.compile(r"[^\W\d_]")
_MANY_NUMBERS = re.compile(r"[,;&\n]|\bor\b|\band\b", re.IGNORECASE)
_NEEDED = "write the full 10-digit number, with its area code"
_NOT_REAL = "is not a phone number in use in North America; check the digits"
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d.*\Z", re.IGNORECASE | re.DOTALL)
#: Letters on a phone keypad, for numbers written as words (1-800-FLOWERS).
_KEYPAD = str.maketrans(
    {
        ch: str(digit)
        for digit, chars in enumerate(
            ["", "", "abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"]
        )
        for ch in chars + chars.upper()
    }
)


class PhoneCheck(NamedTuple):
    """The verdict on one cell: the 10 digits, or why there are none (a cheap NamedTuple).

    Attributes:
        number: the 10-digit national number ('' when the text is not a usable number).
        problem: why the text is not a usable number ('' when it is).
    """

    number: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when the text is a valid NANP number."""
        return not self.problem


@lru_cache(maxsize=1 << 18)
def check_phone(text: str) -> PhoneCheck:
    """Read one cell as a NANP number: ``(905) 637-2046`` and ``9056372046.0`` give 9056372046."""
    usual = _USUAL.fullmatch(text)
    if usual:  # the common spellings, in one regex; the general path gives the same verdicts
        return _verdict("".join(group for group in usual.groups() if group))
    return _check_unusual(text)


def _check_unusual(text: str) -> PhoneCheck:
    """The general path: any text, checked step by step so the reason is specific."""
    cell = _from_excel_number(_ascii_digits(text.strip()))
    if not cell:
        return PhoneCheck(problem="is blank; " + _NEEDED)
    day = _date(cell)
    if day:
        return PhoneCheck(
            problem=f"this cell holds a date ({day}), not a phone number; "
            "format the column as Text and retype it"
        )
    if _MANY_NUMBERS.search(cell) and len(re.sub(r"\D", "", cell)) > 14:
        return PhoneCheck(problem="looks like more than one number; give only one")
    if _LETTER.search(cell):
        return _letters(cell)
    if cell.startswith(("+", "011")):
        foreign = _foreign_country(cell)
        if foreign:
            return PhoneCheck(
                problem=f"is not a North American number (+{foreign}); give a US or Canadian one"
            )
    digits = _SEPARATORS.sub("", cell)
    if not digits:
        return PhoneCheck(problem="has no digits; " + _NEEDED)
    if not digits.isascii() or not digits.isdigit():
        odd = sorted({ch for ch in digits if not ("0" <= ch <= "9")})
        shown = " ".join(odd)
        return PhoneCheck(problem=f"contains '{shown}'; write only the digits")
    return _check_digits(digits)


def check_phones(values: pd.Series | Distinct) -> tuple[pd.Series, pd.Series]:
    """Check a whole column: (10-digit numbers or '', problems or ''), aligned to ``values``."""
    cells = Distinct.of(values)
    verdicts = [check_phone(text) for text in cells.texts]
    return cells.spread([v.number for v in verdicts]), cells.spread([v.problem for v in verdicts])


@lru_cache(maxsize=1 << 14)
def suggest_phone(text: str) -> str:
    """The 10 digits a refused cell most likely means ('' when it is fine or beyond a guess).

    Without its extension, the first of several numbers, letters read off a phone keypad, or
    only its digits: the first of these that is a valid number.
    """
    if check_phone(text).ok:
        return ""
    cell = _ascii_digits(text.strip())
    candidates = (
        _EXTENSION.sub("", cell),
        _MANY_NUMBERS.split(cell, maxsplit=1)[0],
        cell.translate(_KEYPAD),
        re.sub(r"\D", "", cell),
    )
    for candidate in candidates:
        if candidate.strip() and candidate != text and (found := check_phone(candidate)).ok:
            return found.number
    return ""


def _number_problem(digits: str) -> str:
    """Why 10 digits cannot be a NANP number ('' when they can)."""
    npa, nxx = digits[:3], digits[3:6]
    if npa[0] in "01":
        return f"area code {npa} cannot start with {npa[0]}: no area code does; check the number"
    if npa[1:] == "11":
        return f"{npa} is a service code, like 911, not an area code; check the number"
    if nxx[0] in "01":
        return f"the 4th digit is {nxx[0]}, and no local number has 0 or 1 there; check the number"
    return "" if _valid_number(digits) else _NOT_REAL


def _check_digits(digits: str) -> PhoneCheck:
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return PhoneCheck(problem=f"has {len(digits)} digits; {_NEEDED}")
    return _verdict(digits)


def _verdict(digits: str) -> PhoneCheck:
    problem = _number_problem(digits)
    return PhoneCheck(problem=problem) if problem else PhoneCheck(number=digits)


# phonenumbers.is_valid_number costs 20-100 µs a call, too much for 100k-row sheets. For a +1
# number it walks the NANP members in order: a member with leading digits (the Caribbean, US
# territories) claims the numbers they start; the US and Canada claim the numbers one of their
# type patterns matches. The number is valid when its member's general pattern and one type
# pattern match in full. The same walk over the same patterns, compiled once, gives the same
# verdicts in a few µs (tests compare the two).
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@dataclass(frozen=True, slots=True)
class _Member:
    """One NANP member's patterns: which numbers it claims, which it accepts.

    The accepting pattern is compiled when first needed: a sheet of US and Canadian numbers
    never needs the twenty-odd other members' (compiling them all costs more than a small
    sheet's checks).
    """

    leading: re.Pattern[str] | None
    source: str

    @property
    def valid(self) -> re.Pattern[str]:
        return _compiled(self.source)


@cache
def _compiled(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _valid_pattern(metadata: phonenumbers.PhoneMetadata) -> str:
    general = metadata.general_desc
    if general is None or (general.possible_length and 10 not in general.possible_length):
        return r"(?!)"  # no 10-digit number is valid for this member
    types = [
        desc.national_number_pattern
        for desc in (getattr(metadata, kind) for kind in _NUMBER_TYPES)
        if desc is not None
        and desc.national_number_pattern
        and (not desc.possible_length or 10 in desc.possible_length)
    ]
    # dict.fromkeys: mobile often repeats fixed_line; trying it twice only slows misses.
    either = "|".join(f"(?:{pattern})" for pattern in dict.fromkeys(types))
    return rf"(?=(?:{general.national_number_pattern})\Z)(?:{either})"


def _members() -> tuple[_Member, ...]:
    members = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is not None:
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
            members.append(_Member(leading, _valid_pattern(metadata)))
    return tuple(members)


_MEMBERS = _members()
#: Any member's leading digits: numbers matching none are only the US's or Canada's to claim.
_ANY_LEADING = re.compile("|".join(f"(?:{m.leading.pattern})" for m in _MEMBERS if m.leading))
_MAINLAND = tuple(member.valid for member in _MEMBERS if member.leading is None)


def _valid_number(digits: str) -> bool:
    """phonenumbers.is_valid_number for a 10-digit +1 number, from precompiled patterns."""
    if not _ANY_LEADING.match(digits):
        return any(valid.fullmatch(digits) for valid in _MAINLAND)
    for member in _MEMBERS:
        if member.leading is not None:
            if member.leading.match(digits):
                return member.valid.fullmatch(digits) is not None
        elif member.valid.fullmatch(digits):
            return True
    return False


def _ascii_digits(cell: str) -> str:
    """Full-width and other scripts' digits as 0-9 (a pasted number is still a number)."""
    if cell.isascii():
        return cell
    folded = unicodedata.normalize("NFKC", cell)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


def _from_excel_number(cell: str) -> str:
    """Undo what Excel does to a number typed without formatting: ``9056372046.0``, ``9.05E+09``.

    Fewer than 10 digits before ``.0…`` are a dotted spelling (``905637.0000``), not a float.
    """
    digits = excel_digits(cell)
    if digits is None or (len(digits) < 10 and "." in cell):
        return cell
    return digits


def _date(cell: str) -> str:
    """The ISO date a cell holds ('' when it is no date): Excel turned the typed text into one."""
    found = _DATE.fullmatch(cell)
    if found is None:
        return ""
    try:
        day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return ""
    return day.isoformat()


def _letters(cell: str) -> PhoneCheck:
    if re.search(r"\d\s*(?:x|ext\.?|extension)\s*\d", cell, re.IGNORECASE):
        return PhoneCheck(problem="has an extension; give only the 10-digit number")
    return PhoneCheck(problem="contains letters; write the number in digits only")


def _foreign_country(cell: str) -> int | None:
    """The country code of an international spelling, when it is not +1."""
    digits = re.sub(r"\D", "", cell)
    if cell.startswith("+") and digits.startswith("1"):
        return None  # +1 is the NANP; no need to ask phonenumbers
    international = "+" + (digits[3:] if cell.startswith("011") else digits)
    if cell.startswith("011") and len(digits) <= 11:
        return None  # 011 is also how some local numbers start after a stray 0
    try:
        code = phonenumbers.parse(international, None).country_code or 1
    except phonenumbers.NumberParseException:
        code = int(digits[:2]) if digits and digits[0] != "1" else 1
    return None if code == 1 else code
