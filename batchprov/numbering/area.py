"""Where a row's number will be local to, before anything is ordered (the `Expected Area`).

From the numbering-plan data (`nanp`): a localtonumber row gets a number of the rate centre
of its ``local_to_number``, a localtocity row one of its city, a tollfree row a toll-free
one; a filter narrows the area codes. When the data says the filter cannot be served there, or
does not know the city, ``Locality.problem`` says so, in the very words of the row's warning
(`filter_place_warning`, `city_warning`, below): the plan counts such rows as
likely to find no number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from batchprov.models import MatchType, OrderRequest
from batchprov.numbering import nanp
from batchprov.wording import quote

__all__ = ["TOLLFREE_PLACE", "Locality", "city_warning", "filter_place_warning", "locality_of"]

TOLLFREE_PLACE = "toll-free"


@dataclass(frozen=True, slots=True)
class Locality:
    """The place a row's number will be local to, and the area codes that serve it.

    Attributes:
        place: ``Burlington, ON``; ``toll-free``; a province or state when the data knows
            only the region; the city as written when the data does not know it.
        codes: the area codes serving the place, sorted (empty when unknown).
        filter: the row's ``number_match_filter`` (3 or 6 digits), if any.
        problem: why the numbering plan sees no number for the row ('' when it sees one).
    """

    place: str
    codes: tuple[str, ...]
    filter: str | None = None
    problem: str = ""

    @property
    def expected_codes(self) -> tuple[str, ...]:
        """The area codes the number is expected in: the filter's, when it is served here."""
        if not self.filter:
            return self.codes
        npa = self.filter[:3]
        return (npa,) if npa in self.codes or not self.codes else ()

    def area_codes(self) -> str:
        """The expected area codes as plan text: ``289``, ``289/905``, ``any toll-free``."""
        if self.filter:
            return self.filter[:3]
        if self.place == TOLLFREE_PLACE:
            return "any toll-free"
        return "/".join(self.codes) or "unknown"

    def text(self) -> str:
        """``Burlington, ON (289, 905)``; with a filter ``Burlington, ON (289)``."""
        return _text(self)

    def _describe(self) -> str:
        if not self.codes:
            return f"{self.place} (not in the numbering-plan data)"
        if not self.filter:
            return f"{self.place} ({', '.join(self.codes)})"
        if not self.expected_codes:
            return f"{self.place} ({', '.join(self.codes)}) — filter {self.filter} not served here"
        shown = self.filter if len(self.filter) == 3 else f"{self.filter[:3]}-{self.filter[3:]}"
        return f"{self.place} ({shown})"


def locality_of(order: OrderRequest) -> Locality:
    """The locality of an order (cached per distinct location and filter)."""
    if order.match_type is MatchType.TOLLFREE:
        return _tollfree(order.number_match_filter)
    if order.match_type is MatchType.LOCAL_TO_CITY:
        return _near_city(order.city or "", order.state or "", order.number_match_filter)
    number = order.local_to_number or ""
    if nanp.is_tollfree(number):
        problem = f"{number} is a toll-free number; no local number can be matched to it"
        return Locality(number, (), order.number_match_filter, problem)
    # Everything below depends on the exchange only: one cache entry per NPA-NXX and filter.
    return _near_exchange(number[:6], order.number_match_filter)


@lru_cache(maxsize=1 << 16)
def _text(locality: Locality) -> str:
    return locality._describe()


@lru_cache(maxsize=64)
def _tollfree(filter_: str | None) -> Locality:
    codes = (filter_[:3],) if filter_ else nanp.TOLLFREE_NPAS
    return Locality(TOLLFREE_PLACE, codes, filter_)


@lru_cache(maxsize=1 << 14)
def _near_city(city: str, state: str, filter_: str | None) -> Locality:
    place = nanp.find_place(city, state)
    if place is None:
        return Locality(f"{city}, {state}", (), filter_, city_warning(city, state))
    problem = _filter_problem(filter_, MatchType.LOCAL_TO_CITY, "", city, state)
    return Locality(str(place), nanp.area_codes_of(place), filter_, problem)


@lru_cache(maxsize=1 << 16)
def _near_exchange(exchange: str, filter_: str | None) -> Locality:
    number = exchange + "0000"  # any line of the exchange: the plan data stops at NPA-NXX
    problem = _filter_problem(filter_, MatchType.LOCAL_TO_NUMBER, number, "", None)
    place = nanp.place_of(number)
    if place is not None:
        return Locality(str(place), nanp.area_codes_of(place), filter_, problem)
    # Only the region is known: the number's own exchange is still local to it.
    region = nanp.region_of_npa(number[:3])
    where = nanp.STATES.get(region or "", f"area code {number[:3]}")
    return Locality(where, (number[:3],), filter_, problem)


def _filter_problem(
    filter_: str | None, match_type: MatchType, number: str, city: str, state: str | None
) -> str:
    if not filter_:
        return ""
    return filter_place_warning(filter_, match_type, number, city, state)


# --- plausibility against the numbering plan (warnings, never errors: the data is incomplete
# and the API may still find a number)


@lru_cache(maxsize=4096)
def city_warning(city: str, state: str) -> str:
    """A warning when the numbering-plan data knows no such city in the state ('' if it does)."""
    if nanp.find_place(city, state) is not None:
        return ""
    close = nanp.closest_cities(city, state)
    hint = f" (did you mean {' or '.join(close[:2])}?)" if close else ""
    return f"city {quote(city)} not found in {state} in the numbering-plan data{hint}"


@lru_cache(maxsize=4096)
def city_suggestion(city: str, state: str) -> str:
    """The known city of the state closest to one the data does not know ('' when none)."""
    if not city or nanp.find_place(city, state) is not None:
        return ""
    close = nanp.closest_cities(city, state)
    return close[0] if close else ""


def filter_place_warning(
    digits: str, match_type: MatchType | None, local: str, city: str, state: str | None
) -> str:
    """A warning when a valid filter's area code does not serve the row's number or city."""
    if match_type is MatchType.LOCAL_TO_NUMBER and local:
        return _filter_near_number(digits, local)
    if match_type is MatchType.LOCAL_TO_CITY and city and state:
        return _filter_near_city(digits, city, state)
    return ""


@lru_cache(maxsize=1 << 16)
def _filter_near_number(digits: str, number: str) -> str:
    place = nanp.place_of(number)
    if place is not None:
        return _filter_in_place(digits, place)
    return _filter_in_region(digits, nanp.region_of_npa(number[:3]))


@lru_cache(maxsize=1 << 14)
def _filter_near_city(digits: str, city: str, state: str) -> str:
    place = nanp.find_place(city, state)
    if place is not None:
        return _filter_in_place(digits, place)
    return _filter_in_region(digits, state)


def _filter_in_place(digits: str, place: nanp.Place) -> str:
    codes = nanp.area_codes_of(place)
    subject = f"filter {digits}" if len(digits) == 3 else f"filter {digits}: {digits[:3]}"
    if codes and digits[:3] not in codes:
        return f"{subject} is not an area code of {place} ({', '.join(codes)})"
    if codes and len(digits) == 6 and digits not in nanp.exchanges_of(place):
        return f"filter {digits} is not an exchange of {place}"
    return ""


def _filter_in_region(digits: str, region: str | None) -> str:
    served = nanp.region_of_npa(digits[:3])
    if region is None or served is None or served == region:
        return ""
    return f"filter {digits} is an area code of {served}, not {region}"
