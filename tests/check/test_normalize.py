"""Tests for batchprov.check.parsers: match types, states, yes/no, group ids, filters, text."""

from __future__ import annotations

import pandas as pd
import pytest

from batchprov.check.parsers import (
    Distinct,
    blanks,
    clean_text,
    clean_texts,
    filter_problem,
    parse_filter,
    parse_group_id,
    parse_match_type,
    parse_route_type,
    parse_state,
    parse_yes_no,
    per_distinct,
)
from batchprov.models import Fallback, MatchType, Parsed
from batchprov.numbering.fallback import parse_fallback
from batchprov.wording import quote

LTN, LTC, TF = MatchType.LOCAL_TO_NUMBER, MatchType.LOCAL_TO_CITY, MatchType.TOLLFREE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localtonumber", LTN),
        ("Local to Number", LTN),
        ("local-to-number", LTN),
        ("LocalToNumber", LTN),
        ("number", LTN),
        ("LTN", LTN),
        ("localtocity", LTC),
        ("Local to City", LTC),
        ("city", LTC),
        ("geo", LTC),
        ("LocalToCity", LTC),
        ("tollfree", TF),
        ("toll-free", TF),
        ("Toll Free", TF),
        ("TF", TF),
        ("800", TF),
        (" Tollfree ", TF),
    ],
    ids=lambda value: str(value),
)
def test_match_type_spellings(text: str, expected: MatchType) -> None:
    """Every documented spelling of a match type is understood."""
    assert Parsed(expected) == parse_match_type(text)


def test_blank_match_type_is_left_to_inference() -> None:
    """A blank match type is no value and no problem: the row's cells decide."""
    assert Parsed() == parse_match_type("  ")


def test_unknown_match_type_lists_the_accepted_values() -> None:
    """An unknown spelling is refused with the accepted values."""
    assert Parsed(
        problem="unknown match type 'local'; write Local to number, Local to city or "
        "Toll-free, or leave it empty"
    ) == parse_match_type("local")


@pytest.mark.parametrize(
    ("text", "code"),
    [("GA", "GA"), ("ga", "GA"), ("Georgia", "GA"), ("ontario", "ON"), (" Québec ", "QC")],
    ids=["code", "lower-code", "name", "lower-name", "accented-padded"],
)
def test_states_by_code_or_name(text: str, code: str) -> None:
    """A state or province given by code or full name, any case, becomes its code."""
    assert Parsed(code) == parse_state(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Ontari", "unknown state/province 'Ontari' (did you mean ON — Ontario?)"),
        ("Georgai", "unknown state/province 'Georgai' (did you mean GA — Georgia?)"),
        ("ZZ", "unknown state/province 'ZZ'; use a two-letter code such as GA or ON"),
    ],
    ids=["close-to-ontario", "close-to-georgia", "nothing-close"],
)
def test_unknown_states_suggest_the_closest(text: str, problem: str) -> None:
    """An unknown state names the closest one when there is one."""
    assert Parsed(problem=problem) == parse_state(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("TRUE", True),
        ("1", True),
        ("1.0", True),
        ("no", False),
        ("N", False),
        ("False", False),
        ("0", False),
        ("", None),
    ],
    ids=["yes", "y", "excel-true", "one", "excel-one", "no", "n", "false", "zero", "blank"],
)
def test_yes_no(text: str, value: bool | None) -> None:
    """yes/no, true/false, 1/0 and y/n are read in any case; blank means not given."""
    assert Parsed(value) == parse_yes_no(text)


def test_yes_no_refuses_other_words() -> None:
    """Anything else is refused with the words to use."""
    assert Parsed(problem="'maybe' is not yes or no; write yes or no") == parse_yes_no("maybe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11623282", Parsed(11623282)),
        ("11623282.0", Parsed(11623282)),
        (" 42 ", Parsed(42)),
        ("1.1623282E7", Parsed(11623282)),
        ("", Parsed()),
        ("abc", Parsed(problem="group id 'abc' is not a whole number, e.g. 11623282")),
        ("12.5", Parsed(problem="group id '12.5' is not a whole number, e.g. 11623282")),
        ("0", Parsed(problem="group id '0' must be a positive number")),
        ("-5", Parsed(problem="group id '-5' must be a positive number")),
        ("9" * 20, Parsed(problem=f"group id '{'9' * 20}' is too large to be a group id")),
    ],
    ids=[
        "int",
        "excel-float",
        "padded",
        "exponent",
        "blank",
        "text",
        "fraction",
        "zero",
        "negative",
        "huge",
    ],
)
def test_group_ids(text: str, expected: Parsed[int]) -> None:
    """Group ids are positive whole numbers; Excel's float spelling is fine."""
    assert expected == parse_group_id(text)


@pytest.mark.parametrize(
    "text", ["Basic", "basic", "BASIC", ""], ids=["title", "lower", "upper", "blank"]
)
def test_route_type_basic(text: str) -> None:
    """Basic in any case, or blank, is the Basic route type."""
    assert Parsed("Basic") == parse_route_type(text)


def test_route_type_other_is_refused() -> None:
    """Any other route type is refused: only Basic can be ordered."""
    expected: Parsed[str] = Parsed(
        problem="routing 'Advanced' is not offered; write Basic, or leave it empty"
    )
    assert expected == parse_route_type("Advanced")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("289", Parsed("289")),
        ("289.0", Parsed("289")),
        (" 905637 ", Parsed("905637")),
        ("905-637", Parsed("905637")),
        ("", Parsed()),
        (
            "2891",
            Parsed(
                problem="filter '2891' must be an area code (3 digits, such as 289) or an "
                "area code and exchange (6 digits, such as 905637)"
            ),
        ),
        (
            "abc",
            Parsed(
                problem="filter 'abc' must be an area code (3 digits, such as 289) or an "
                "area code and exchange (6 digits, such as 905637)"
            ),
        ),
        (
            "905137",
            Parsed(
                problem="filter 905137: no local number starts 905-137 (the exchange, digits 4 "
                "to 6, starts with 2-9 and never ends in 11); check it"
            ),
        ),
    ],
    ids=[
        "npa",
        "excel-float",
        "npa-nxx",
        "dashed",
        "blank",
        "four-digits",
        "letters",
        "bad-exchange",
    ],
)
def test_filters(text: str, expected: Parsed[str]) -> None:
    """Filters are 3 or 6 digits; Excel floats and separators are tolerated."""
    assert expected == parse_filter(text)


@pytest.mark.parametrize(
    ("digits", "match_type", "problem"),
    [
        ("833", TF, ""),
        ("800555", TF, ""),
        ("289", LTN, ""),
        ("404", LTC, ""),
        (
            "289",
            TF,
            "filter 289 is not a toll-free area code; a toll-free number needs one of "
            "800, 833, 844, 855, 866, 877, 888, or no filter",
        ),
        (
            "800",
            LTN,
            "filter 800 is a toll-free area code, but this row asks for a local number; use a "
            "local area code (such as 416), or set the match type to Toll-free",
        ),
        (
            "888555",
            LTC,
            "filter 888555: 888 is a toll-free area code, but this row asks for a local "
            "number; use a local area code (such as 416), or set the match type to Toll-free",
        ),
        ("411", LTC, "filter 411 is a service code, like 911, not an area code; check the filter"),
        ("123", LTN, "filter 123 is not an area code (no area code starts with 1); check it"),
    ],
    ids=[
        "tollfree-ok",
        "tollfree-6-ok",
        "local-ok",
        "city-ok",
        "geographic-on-tollfree",
        "tollfree-on-local",
        "tollfree-6-on-city",
        "n11",
        "starts-with-1",
    ],
)
def test_filter_fits_match_type(digits: str, match_type: MatchType, problem: str) -> None:
    """Toll-free rows need a toll-free filter, local rows a geographic one."""
    assert problem == filter_problem(digits, match_type)


def test_clean_text_collapses_whitespace() -> None:
    """Names are trimmed and inner runs of whitespace (tabs, line breaks, NBSP) collapsed."""
    assert clean_text("  Smile\u00a0 Dental\n\tInc ") == "Smile Dental Inc"


def test_column_helpers_keep_the_index() -> None:
    """clean_texts and blanks work on whole columns and keep their index."""
    values = pd.Series([" a  b ", "  ", ""], index=[5, 6, 7])
    assert clean_texts(values).tolist() == ["a b", "", ""]
    assert blanks(values).tolist() == [False, True, True]
    assert blanks(values).index.tolist() == [5, 6, 7]


def test_per_distinct_parses_each_text_once() -> None:
    """per_distinct calls the parser once per distinct cell and aligns the results."""
    calls: list[str] = []

    def parse(text: str) -> Parsed[int]:
        calls.append(text)
        return Parsed(len(text)) if text else Parsed(problem="empty")

    values, problems = per_distinct(pd.Series(["ab", "", "ab", "c"]), parse)
    assert calls == ["ab", "", "c"]
    assert values.tolist() == [2, None, 2, 1]
    assert problems.tolist() == ["", "empty", "", ""]


def test_a_column_and_its_distinct_texts_give_the_same() -> None:
    """Each column helper gives the same for a Series as for its Distinct, index kept."""
    values = pd.Series([" a  b ", "", " a  b ", "  ", "x\ty", "", "ab"], index=range(3, 10))
    cells = Distinct.of(values)
    assert cells.texts == [" a  b ", "", "  ", "x\ty", "ab"]
    assert Distinct.of(cells) is cells
    assert clean_texts(cells).equals(clean_texts(values))
    assert clean_texts(cells).tolist() == [clean_text(text) for text in values]
    assert blanks(cells).equals(blanks(values))
    assert blanks(cells).tolist() == [not text.strip() for text in values]
    parsed, problems = per_distinct(cells, parse_route_type)
    assert parsed.index.tolist() == list(range(3, 10))
    assert parsed.tolist() == [parse_route_type(text).value for text in values]
    assert problems.tolist() == [parse_route_type(text).problem for text in values]


def test_tuple_values_stay_one_value_per_cell() -> None:
    """A parser's tuple values (a fallback list) are spread to the cells whole."""
    values, problems = per_distinct(pd.Series(["overlay, toll-free", "", "none"]), parse_fallback)
    assert values.tolist() == [(Fallback.OVERLAY, Fallback.TOLLFREE), None, ()]
    assert problems.tolist() == ["", "", ""]


def test_quote_shortens_long_values() -> None:
    """Values quoted in messages are single-quoted and cut at 40 characters."""
    assert quote("abc") == "'abc'"
    assert len(quote("x" * 100)) == 40 + 2
