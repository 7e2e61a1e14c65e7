"""Whole numbers as Excel hands them over, back to the digits that were typed.

A number typed into a cell without Text formatting is stored as a float: a CSV export or a
program reading it may show ``9056372046.0`` or ``9.056372046E+09``. Phone numbers, group ids
and filters are all whole numbers, so every parser undoes this the same way, here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["MAX_DIGITS", "excel_digits"]

#: More digits than any phone number, group id or filter has; longer texts are left alone, so
#: that no parser turns a hostile cell into a huge integer.
MAX_DIGITS = 30
_FLOAT = re.compile(r"(\d+)(?:\.0*)?")
_EXPONENT = re.compile(r"\d+(?:\.\d+)?[eE]\+?\d{1,2}")


def excel_digits(text: str) -> str | None:
    """The digits of an unsigned whole number in Excel's float spellings, else None.

    ``'9056372046'``, ``'9056372046.0'``, ``'289.'`` and ``'9.056372046E+09'`` give their
    digits; fractions (``'1.5'``), signs, separators and texts of over `MAX_DIGITS` digits
    give None.
    """
    if len(text) > MAX_DIGITS + 20:
        return None
    plain = _FLOAT.fullmatch(text)
    if plain is not None:
        digits = plain.group(1)
        return digits if len(digits) <= MAX_DIGITS else None
    if _EXPONENT.fullmatch(text):
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
            return None
        if value == value.to_integral_value() and value.adjusted() < MAX_DIGITS:
            return str(int(value))
    return None
