"""Numbering-plan knowledge read from the phonenumbers geodata."""

from __future__ import annotations

from batchprov.numbering import nanp
from batchprov.numbering.nanp import Place


def test_place_str() -> None:
    """A place prints as 'City, ST'."""
    assert str(Place("Burlington", "ON")) == "Burlington, ON"


def test_burlington_exchange_and_overlay() -> None:
    """Burlington, ON is served by 905-637 and by the 289 overlay."""
    burlington = nanp.find_place("Burlington", "ON")
    assert burlington == Place("Burlington", "ON")
    assert "905637" in nanp.exchanges_of(burlington)
    assert {"289", "905"} <= set(nanp.area_codes_of(burlington))
    assert nanp.place_of("9056372046") == burlington


def test_atlanta_404() -> None:
    """404-209 is Atlanta, GA, and Atlanta has 404 exchanges."""
    atlanta = nanp.find_place("atlanta", "ga")
    assert atlanta is not None
    assert nanp.place_of("4042091234") == atlanta
    assert "404" in nanp.area_codes_of(atlanta)


def test_exchanges_sorted_and_legal() -> None:
    """Exchanges are sorted 6-digit prefixes with a legal NXX (2-9, not N11)."""
    exchanges = nanp.exchanges_of(Place("New York", "NY"))
    assert list(exchanges) == sorted(exchanges)
    assert all(len(e) == 6 and e[3] >= "2" and e[4:] != "11" for e in exchanges)
    assert "212211" not in exchanges and "212212" in exchanges


def test_short_prefix_expanded() -> None:
    """A 6-digit geodata key (190563) covers 905-63x, except exchanges with a key of their own."""
    from phonenumbers.geodata import GEOCODE_DATA

    covered = {f"90563{d}" for d in range(10) if f"190563{d}" not in GEOCODE_DATA}
    assert covered and covered <= set(nanp.exchanges_of(Place("Burlington", "ON")))


def test_montreal_accent_insensitive() -> None:
    """Montréal and Montreal, QC and Quebec/Québec all find the same place."""
    expected = nanp.find_place("Montreal", "QC")
    assert expected is not None
    assert nanp.find_place("Montréal", "Québec") == expected
    assert nanp.find_place("  MONTREAL ", "quebec") == expected


def test_saint_abbreviations() -> None:
    """St., St and Saint are the same word; Ste and Sainte too."""
    st_louis = nanp.find_place("St. Louis", "MO")
    assert st_louis is not None
    assert nanp.find_place("Saint Louis", "Missouri") == st_louis
    assert nanp.find_place("st louis", "mo") == st_louis
    assert nanp.find_place("Sault Sainte Marie", "ON") == nanp.find_place("Sault Ste. Marie", "ON")


def test_unknown_place() -> None:
    """Unknown cities and states give None."""
    assert nanp.find_place("Atlantis", "GA") is None
    assert nanp.find_place("Atlanta", "ZZ") is None
    assert nanp.exchanges_of(Place("Atlantis", "GA")) == ()


def test_state_code() -> None:
    """State codes are accepted in any case, and full names too."""
    assert nanp.state_code("ga") == "GA"
    assert nanp.state_code("Georgia") == "GA"
    assert nanp.state_code("ontario") == "ON"
    assert nanp.state_code("Newfoundland and Labrador") == "NL"
    assert nanp.state_code("Quebec") == nanp.state_code("Québec") == "QC"
    assert nanp.state_code("Narnia") is None


def test_states_cover_us_and_canada() -> None:
    """STATES holds the 50 states, DC and the 13 provinces and territories."""
    assert {"DC", "ON", "QC", "NL", "YT", "NU", "NT", "PE", "WY", "HI", "AK"} <= set(nanp.STATES)
    assert len(set(nanp.STATES) - {"PR", "VI"}) == 64


def test_tollfree() -> None:
    """The seven toll-free area codes are toll-free; geographic ones are not."""
    assert nanp.is_tollfree("8332018273")
    assert all(nanp.is_tollfree(npa + "2001234") for npa in nanp.TOLLFREE_NPAS)
    assert not nanp.is_tollfree("9056372046")


def test_region_of_npa() -> None:
    """Area codes map to their state or province; toll-free ones to none."""
    assert nanp.region_of_npa("905") == "ON"
    assert nanp.region_of_npa("289") == "ON"
    assert nanp.region_of_npa("404") == "GA"
    assert nanp.region_of_npa("206") == "WA"
    assert nanp.region_of_npa("800") is None


def test_place_of_unknown() -> None:
    """A toll-free number or an N11 exchange has no place."""
    assert nanp.place_of("8005551234") is None
    assert nanp.place_of("9059111234") is None


def test_closest_cities_and_cities_in() -> None:
    """Did-you-mean suggestions come from the cities of the same state."""
    assert nanp.closest_cities("Atlnta", "GA")[0] == "Atlanta"
    assert "Burlington" in nanp.cities_in("Ontario")
    assert nanp.cities_in("ZZ") == ()
