"""Reconcile verdicts: anchored name matching, baseline exclusion, duplicates and overlaps."""

from __future__ import annotations

from batchprov.order.client import Number
from batchprov.order.matching import Verdict, candidates, decide, name_fits, name_pattern


def n(i: int, name: str) -> Number:
    return Number(id=str(i), phone_number=str(i), name=name)


def test_pattern_is_anchored_and_case_blind() -> None:
    """ "Studio 5" matches itself and its suffixes, any case, but never "Studio 54"."""
    pattern = name_pattern("Studio 5")
    assert [
        bool(pattern.fullmatch(s))
        for s in ["Studio 5", "studio 5 2", "STUDIO 5 13", "Studio 54", "Studio 5b"]
    ] == [True, True, True, False, False]


def test_regex_characters_are_literal() -> None:
    """Names with regex characters match only themselves."""
    assert name_pattern("A+B (c)").fullmatch("A+B (c) 2")
    assert not name_pattern("A+B").fullmatch("AAB")


def test_name_fits_as_the_pattern_does() -> None:
    """An assigned name fits exactly when the pattern says so: as asked (trimmed), suffixed,
    any case; never a longer number or another name."""
    names = ["Studio 5", " Studio 5 ", "studio 5 2", "STUDIO 5 13", "Studio 54", "Studio 5b", ""]
    for asked in ("Studio 5", "  Studio 5", "A+B (c)"):
        for got in [*names, "A+B (c)", "a+b (C) 3", "AAB"]:
            expected = bool(name_pattern(asked).fullmatch(got.strip()))
            assert name_fits(asked, got) is expected, (asked, got)
    assert name_fits(" Studio 5", "Studio 5  ") and not name_fits("Studio 5", "Studio 54")


def test_verdicts() -> None:
    """One candidate adopts, none is absent, two is review."""
    pool = [n(1, "Solo"), n(2, "Twin"), n(3, "Twin 2")]
    ready = {"s": "Solo", "t": "Twin", "x": "Nobody"}
    verdicts = decide(ready, ready, pool)
    assert (verdicts["s"].verdict, verdicts["s"].ids) == (Verdict.ADOPT, "1")
    assert (verdicts["t"].verdict, verdicts["t"].ids) == (Verdict.REVIEW, "2, 3")
    assert verdicts["x"].verdict == Verdict.ABSENT


def test_excluded_numbers_are_not_candidates() -> None:
    """Baseline and owned numbers never count as candidates."""
    assert [x.id for x in candidates([n(1, "A"), n(2, "A 2")], {"1"})] == ["2"]


def test_overlapping_names_wait_for_rows_in_flight() -> None:
    """A number fitting a row still in flight is not decided yet; settled overlaps go to review."""
    pool = [n(1, "Studio 2")]
    assert (
        decide({"a": "Studio"}, {"a": "Studio", "b": "Studio 2"}, pool)["a"].verdict
        == Verdict.DEFER
    )
    both = {"a": "Studio", "b": "Studio 2"}
    assert {Verdict.OVERLAP} == {d.verdict for d in decide(both, both, pool).values()}
