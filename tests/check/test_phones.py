"""Tests for batchprov.check.phones: reading NANP numbers as people type them."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchprov.check.phones import PhoneCheck, _check_unusual, check_phone, check_phones


@pytest.mark.parametrize(
    "text",
    [
        "(905) 637-2046",
        "+1 905 637 2046",
        "905.637.2046",
        "1-905-637-2046",
        "9056372046.0",
        "9056372046",
        "  905 637 2046  ",
        "9.056372046E+09",
        "+1 (905) 637-2046",
        "905\u2013637\u20132046",
        "\uff08905\uff09637-2046",
    ],
    ids=[
        "parentheses",
        "plus-one",
        "dots",
        "one-dashes",
        "excel-float",
        "bare",
        "padded",
        "excel-exponent",
        "plus-one-parentheses",
        "en-dashes",
        "full-width",
    ],
)
def test_accepted_spellings_give_ten_digits(text: str) -> None:
    """Every usual spelling of a NANP number becomes its 10 digits."""
    assert PhoneCheck(number="9056372046") == check_phone(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("4115551234", "411 is a service code, like 911, not an area code; check the number"),
        ("555-1234", "has 7 digits; write the full 10-digit number, with its area code"),
        ("905637204", "has 9 digits; write the full 10-digit number, with its area code"),
        ("905637204612", "has 12 digits; write the full 10-digit number, with its area code"),
        ("+44 20 7946 0958", "is not a North American number (+44); give a US or Canadian one"),
        ("011 44 20 7946 0958", "is not a North American number (+44); give a US or Canadian one"),
        ("1-800-FLOWERS", "contains letters; write the number in digits only"),
        ("=SUM(A1)", "contains letters; write the number in digits only"),
        ("905-637-2046 x12", "has an extension; give only the 10-digit number"),
        ("905-637-2046 ext. 12", "has an extension; give only the 10-digit number"),
        ("0125551234", "area code 012 cannot start with 0: no area code does; check the number"),
        ("29056372046", "has 11 digits; write the full 10-digit number, with its area code"),
        (
            "(112) 555-1234",
            "area code 112 cannot start with 1: no area code does; check the number",
        ),
        (
            "9051235555",
            "the 4th digit is 1, and no local number has 0 or 1 there; check the number",
        ),
        (
            "9050235555",
            "the 4th digit is 0, and no local number has 0 or 1 there; check the number",
        ),
        ("9999999999", "is not a phone number in use in North America; check the digits"),
        ("905 637 2046; 416 555 1234", "looks like more than one number; give only one"),
        ("905#637#2046", "contains '#'; write only the digits"),
        ("", "is blank; write the full 10-digit number, with its area code"),
        ("()-", "has no digits; write the full 10-digit number, with its area code"),
    ],
    ids=[
        "n11-area-code",
        "seven-digits",
        "nine-digits",
        "twelve-digits",
        "uk-plus",
        "uk-011",
        "vanity-letters",
        "formula",
        "extension-x",
        "extension-ext",
        "area-code-0",
        "eleven-digits-no-country-code",
        "area-code-1",
        "exchange-1",
        "exchange-0",
        "unassigned",
        "two-numbers",
        "odd-character",
        "blank",
        "no-digits",
    ],
)
def test_refused_numbers_say_why(text: str, problem: str) -> None:
    """A number that cannot be used gets a reason an account manager can act on."""
    assert PhoneCheck(problem=problem) == check_phone(text)


def test_tollfree_numbers_are_valid_numbers() -> None:
    """A toll-free number is a valid NANP number (whether it suits the field is checked later)."""
    assert check_phone("1-800-555-1234").number == "8005551234"


def test_ok_is_true_only_without_problem() -> None:
    """PhoneCheck.ok tells valid from invalid."""
    assert check_phone("905-637-2046").ok
    assert not check_phone("411").ok


def test_caribbean_numbers_follow_phonenumbers_digit_by_digit() -> None:
    """Barbados 246-522 is valid only for 5220xxx, as phonenumbers says (checked per number)."""
    assert check_phone("246-522-0000").ok
    assert not check_phone("246-522-1000").ok


def test_check_phones_keeps_the_column_index() -> None:
    """The column form gives numbers and problems aligned to the input index."""
    values = pd.Series(["905.637.2046", "555-1234", "905.637.2046"], index=[10, 11, 12])
    numbers, problems = check_phones(values)
    assert numbers.tolist() == ["9056372046", "", "9056372046"]
    assert problems.index.tolist() == [10, 11, 12]
    assert str(problems.iat[1]).startswith("has 7 digits")


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_validity_agrees_with_phonenumbers(digits: str) -> None:
    """The fast US/Canada patterns give phonenumbers.is_valid_number's verdict on any number."""
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
    expected = phonenumbers.is_valid_number(number) and digits[1:3] != "11"
    assert expected == check_phone(digits).ok


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gets_a_number_or_a_reason(text: str) -> None:
    """Arbitrary text never raises; the verdict has exactly one of number and problem."""
    verdict = check_phone(text)
    assert bool(verdict.number) != bool(verdict.problem)
    assert verdict.number == "" or (len(verdict.number) == 10 and verdict.number.isdigit())


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789 .-()+", max_size=20),
        st.from_regex(
            r" ?\+?1?[ .-]?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}(\.0+)? ?", fullmatch=True
        ),
    )
)
def test_fast_path_agrees_with_the_general_path(text: str) -> None:
    """The one-regex path for usual spellings gives the general parser's verdict."""
    assert _check_unusual(text) == check_phone(text)
