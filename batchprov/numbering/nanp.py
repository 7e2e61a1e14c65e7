"""North American numbering plan knowledge, read from the `phonenumbers` geographic data.

The geodata maps number prefixes (``'1' + NPA [+ 1..3 digits of NXX]``) to a place: either
"City, ST" (a rate centre) or only a region ("Ontario"). The longest prefix wins, as in
``phonenumbers`` itself, so an exchange whose own entry names only a region has no city even
when its area code's entry names one. The indexes are built lazily, once per process, from a
table that `plancache` keeps on disk per `phonenumbers` version (building it takes a second).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from functools import cache

from batchprov.numbering import plancache

TOLLFREE_NPAS = ("800", "833", "844", "855", "866", "877", "888")

STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories",
    "NU": "Nunavut", "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec",
    "SK": "Saskatchewan", "YT": "Yukon",
}  # fmt: skip

# Other spellings seen in the wild and in the geodata's region entries ("British Colombia").
_STATE_ALIASES: dict[str, str] = {
    "washington state": "WA", "washington d c": "DC", "washington dc": "DC",
    "district of columbia": "DC", "british colombia": "BC", "newfoundland": "NL",
    "labrador": "NL", "pei": "PE", "nova scotia prince edward island": "NS",
    "yukon territory": "YT", "northwest territory": "NT", "nwt": "NT",
    "us virgin islands": "VI", "virgin islands": "VI", "pq": "QC", "nfld": "NL",
}  # fmt: skip

# Abbreviated words in city names, spelled out so "St. Louis" = "Saint Louis". Saint and Sainte
# compare equal too: people write "Sault St. Marie" for Sault Ste. Marie.
_WORDS = {"st": "saint", "ste": "saint", "sainte": "saint", "mt": "mount", "ft": "fort"}
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_CITY_STATE = re.compile(r"^(?P<city>.+), (?P<state>[A-Z]{2})$")
# Legal central-office codes (NXX): first digit 2-9, not an N11 service code.
_LEGAL_NXX = frozenset(str(nxx) for nxx in range(200, 1000) if nxx % 100 != 11)


class Place(tuple[str, str]):
    """A rate centre: a city and its two-letter state or province code.

    An immutable pair, written out by hand: this module is imported by processes that only
    look a number up, and a dataclass or typed NamedTuple costs more to create than the lookup.
    """

    __slots__ = ()

    def __new__(cls, city: str, state: str) -> Place:
        return tuple.__new__(cls, (city, state))

    def __getnewargs__(self) -> tuple[str, str]:
        return (self[0], self[1])

    @property
    def city(self) -> str:
        return self[0]

    @property
    def state(self) -> str:
        return self[1]

    def __repr__(self) -> str:
        return f"Place(city={self[0]!r}, state={self[1]!r})"

    def __str__(self) -> str:
        return f"{self[0]}, {self[1]}"


def normalize(text: str) -> str:
    """Fold case, accents, punctuation and St./Ste./Mt./Ft. so spellings compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = _NON_ALNUM.sub(" ", plain).split()
    return " ".join(_WORDS.get(w, w) for w in words)


@cache
def _state_names() -> dict[str, str]:
    names = {normalize(name): code for code, name in STATES.items()}
    names.update(_STATE_ALIASES)
    names["quebec"] = "QC"
    return names


def state_code(text: str) -> str | None:
    """The two-letter code of a state or province given by code or name, any case; else None."""
    cleaned = text.strip()
    if cleaned.upper() in STATES:
        return cleaned.upper()
    return _state_names().get(normalize(cleaned))


def is_tollfree(number10: str) -> bool:
    """True when a 10-digit number's area code is a toll-free one."""
    return number10[:3] in TOLLFREE_NPAS


def is_central_office_code(nxx: str) -> bool:
    """True for a legal exchange (NXX): first digit 2-9 and not an N11 service code."""
    return nxx in _LEGAL_NXX


def _parse(text: str) -> Place | None:
    match = _CITY_STATE.match(text)
    if match is None or match["state"] not in STATES:
        return None
    return Place(match["city"], match["state"])


@cache
def _nanp_entries() -> tuple[tuple[str, str], ...]:
    """(prefix without the leading 1, English description), shortest prefix first."""
    # Imported here: the geodata takes a second to load and most commands never need it.
    from phonenumbers.geodata import GEOCODE_DATA

    entries = [
        (key[1:], names.get("en", ""))
        for key, names in GEOCODE_DATA.items()
        if key[0] == "1" and len(key) >= 4
    ]
    return tuple(sorted(entries, key=lambda entry: len(entry[0])))


@cache
def _exchange_texts() -> dict[str, str]:
    """Every legal 6-digit NPA-NXX → the text of its longest geodata prefix, if a city."""
    exchanges: dict[str, str] = {}
    for prefix, text in _nanp_entries():
        if len(prefix) == 3 and _parse(text) is None:
            continue  # a region-only area code entry overrides nothing
        for exchange in _expand(prefix):
            exchanges[exchange] = text  # shortest first: longer prefixes overwrite
    return {exchange: text for exchange, text in exchanges.items() if _CITY_STATE.match(text)}


def _expand(prefix: str) -> list[str]:
    """The legal 6-digit exchanges under a 3..6-digit prefix."""
    width = 6 - len(prefix)
    if width <= 0:
        return [prefix[:6]] if prefix[3:6] in _LEGAL_NXX else []
    candidates = (prefix + str(tail).zfill(width) for tail in range(10**width))
    return [c for c in candidates if c[3:] in _LEGAL_NXX]


@cache
def _table() -> plancache.Table:
    """The numbering-plan table: from the on-disk cache, else built and cached."""
    return plancache.load(build_table)


def _fields(entry: str) -> tuple[str, str, str]:
    """A table place's state, normalized city and city (``"ST\tnormalized\tCity"``)."""
    folded, _, city = entry[3:].partition("\t")
    return entry[:2], folded, city


@cache
def _place(position: int) -> Place:
    """The place at a table position (one object per place, made when first asked for)."""
    state, _, city = _fields(_table().places[position])
    return Place(city, state)


@cache
def _state_places(state: str) -> dict[str, int]:
    """Normalized city → table position, for one state's places (built per state asked)."""
    places = _table().places
    span = range(bisect_left(places, f"{state}\t"), bisect_left(places, f"{state}\u000b"))
    return {_fields(places[i])[1]: i for i in span}


@cache
def _npa_exchanges(npa: str) -> dict[str, int]:
    """Exchange → table position of its place, for one area code (built per code asked)."""
    codes, positions = _table().npas.get(npa, ("", ""))
    if not (plancache.is_codes(codes, 3) and plancache.is_positions(positions, len(codes) // 3)):
        return {}  # no such area code (or a cache entry not laid out as one: nothing known)
    size = len(_table().places)
    found = zip(range(0, len(codes), 3), map(int, positions.split(",")), strict=True)
    return {npa + codes[i : i + 3]: p for i, p in found if p < size}


@cache
def _cities() -> dict[str, tuple[str, ...]]:
    """State → sorted city names."""
    cities: dict[str, list[str]] = defaultdict(list)
    for entry in _table().places:
        state, _, city = _fields(entry)
        cities[state].append(city)
    return {state: tuple(sorted(names)) for state, names in cities.items()}


def build_table() -> plancache.Table:
    """The numbering-plan table, computed from the `phonenumbers` geodata (about a second)."""
    by_text: dict[str, list[str]] = defaultdict(list)
    for exchange, text in _exchange_texts().items():
        by_text[text].append(exchange)
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    spellings: dict[tuple[str, str], list[tuple[int, Place]]] = defaultdict(list)
    for text, exchanges in by_text.items():
        place = _parse(text)
        if place is None:
            continue  # a city of a state outside STATES (e.g. the Caribbean)
        key = _key(place)
        grouped[key].extend(exchanges)
        spellings[key].append((len(exchanges), place))
    # The spelling used by most exchanges names the merged place.
    canonical = {key: max(found, key=lambda f: f[0])[1] for key, found in spellings.items()}
    # "ST\tnormalized\tCity" sorts as (state, normalized city): a tab sorts before any
    # character of a name, and no name has a tab (`normalize` folds it, the geodata has none).
    keys = sorted(canonical, key=lambda key: (key[1], key[0]))
    by_npa: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for position, key in enumerate(keys):
        for exchange in grouped[key]:
            by_npa[exchange[:3]].append((exchange[3:], position))
    npas = {}
    for npa, entries in sorted(by_npa.items()):
        entries.sort()
        npas[npa] = ("".join(nxx for nxx, _ in entries), ",".join(str(p) for _, p in entries))
    return plancache.Table(
        places=["\t".join((k[1], k[0], canonical[k].city.replace("\t", " "))) for k in keys],
        exchanges="\n".join("".join(sorted(grouped[k])) for k in keys),
        npas=npas,
        regions=_npa_regions_of(grouped),
    )


def _key(place: Place) -> tuple[str, str]:
    return (normalize(place.city), place.state)


def place_of(number10: str) -> Place | None:
    """The rate centre of a 10-digit number; None when only a region or nothing is known."""
    position = _npa_exchanges(number10[:3]).get(number10[:6])
    return None if position is None else _place(position)


@cache
def _exchange_lines() -> list[str]:
    """Each place's exchanges (split from the table's text when first asked for)."""
    return _table().exchanges.split("\n")


@cache
def _exchanges_at(position: int) -> tuple[str, ...]:
    lines = _exchange_lines()
    codes = lines[position] if position < len(lines) else ""
    if not plancache.is_codes(codes, 6):
        return ()
    return tuple(codes[i : i + 6] for i in range(0, len(codes), 6))


def exchanges_of(place: Place) -> tuple[str, ...]:
    """Sorted 6-digit NPA-NXX prefixes serving a place."""
    folded, state = _key(place)
    position = _state_places(state).get(folded)
    return () if position is None else _exchanges_at(position)


@cache
def area_codes_of(place: Place) -> tuple[str, ...]:
    """Sorted area codes with at least one exchange in a place."""
    return tuple(sorted({exchange[:3] for exchange in exchanges_of(place)}))


def _npa_regions_of(grouped: dict[tuple[str, str], list[str]]) -> dict[str, str]:
    """Area code → state: the area code's own geodata entry, else its exchanges' vote."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, exchanges in grouped.items():
        for exchange in exchanges:
            votes[exchange[:3]][key[1]] += 1
    regions = {npa: counts.most_common(1)[0][0] for npa, counts in sorted(votes.items())}
    for prefix, text in _nanp_entries():
        if len(prefix) != 3:
            continue
        place = _parse(text)
        code = place.state if place else state_code(text)
        if code:  # the area code's own entry beats the exchanges' vote
            regions[prefix] = code
    return regions


def region_of_npa(npa: str) -> str | None:
    """The state or province code an area code serves, or None (toll-free, non-US/CA)."""
    return _table().regions.get(npa)


def find_place(city: str, state: str) -> Place | None:
    """The known place of a city and state (code or name); tolerant of case, accents, St./Saint."""
    code = state_code(state)
    if code is None:
        return None
    position = _state_places(code).get(normalize(city))
    return None if position is None else _place(position)


def cities_in(state: str) -> tuple[str, ...]:
    """Sorted city names known in a state or province (code or name)."""
    code = state_code(state)
    return _cities().get(code, ()) if code else ()


def closest_cities(city: str, state: str, n: int = 3) -> list[str]:
    """Up to n known city names of a state that look most like `city`, best first."""
    import difflib  # (only for a city the data does not know)

    names = cities_in(state)
    by_key = {normalize(name): name for name in names}
    matches = difflib.get_close_matches(normalize(city), list(by_key), n=n, cutoff=0.6)
    return [by_key[match] for match in matches]
