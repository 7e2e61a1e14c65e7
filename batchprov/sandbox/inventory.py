"""The sandbox's stock of numbers, on top of the numbering plan in `batchprov.numbering.nanp`.

Every exchange (NPA-NXX) holds 10,000 line numbers, or ``stock`` of them. The order in which
an exchange hands out its lines is a seeded permutation (a small Feistel network over the
four digits), so picking is O(1), needs no list of free numbers, and is reproducible.
Released numbers go back to their exchange and are handed out again once fresh lines run out.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from batchprov.numbering import nanp
from batchprov.sandbox.errors import ApiError

LINES = 10_000
# Exchanges that are not ordinary central-office codes: 555 (directory, fiction), 950/958/959
# (carrier access and test codes), 976 (premium). Never sold.
_RESERVED_NXX = frozenset({"555", "950", "958", "959", "976"})
_ROUNDS = 4


def warm() -> None:
    """Build the numbering-plan indexes now, so the first request is as fast as the rest."""
    nanp.place_of("2125550000")
    _tollfree_exchanges(None)


def no_match(message: str) -> ApiError:
    """The answer when no number fits the request."""
    return ApiError(400, message)


@dataclass(slots=True)
class _Exchange:
    """One exchange's stock: fresh lines in permutation order, then released numbers."""

    keys: tuple[int, ...]
    cursor: int = 0
    released: deque[str] = field(default_factory=deque)


class Inventory:
    """Picks unused numbers for the three match types; never hands one out twice."""

    def __init__(self, seed: int, stock: int | None = None) -> None:
        if stock is not None and not 1 <= stock <= LINES:
            raise ValueError(f"stock must be between 1 and {LINES}, got {stock}")
        self.seed = seed
        self.stock = stock or LINES
        self._exchanges: dict[str, _Exchange] = {}
        self._held: set[str] = set()

    # -- the three match types -------------------------------------------------------------

    def local_to_number(self, number: str, filter_: str | None, rng: random.Random) -> str:
        """A number in the same rate centre as `number`, honouring the filter."""
        wanted = f"No numbers available local to {number}" + _matching(filter_)
        if nanp.is_tollfree(number):
            raise no_match(f"{wanted}: {number} is a toll-free number")
        return self._pick(_exchanges_near(number, filter_), rng, wanted, avoid=number)

    def local_to_city(self, city: str, state: str, filter_: str | None, rng: random.Random) -> str:
        """A number of a city, honouring the filter."""
        wanted = f"No numbers available in {city}, {state}" + _matching(filter_)
        place = nanp.find_place(city, state)
        if place is None:
            raise no_match(f"{wanted}: {_unknown_city(city, state)}")
        return self._pick(_local_exchanges(place, filter_), rng, wanted)

    def tollfree(self, filter_: str | None, rng: random.Random) -> str:
        """A toll-free number, honouring the filter."""
        wanted = "No toll-free numbers available" + _matching(filter_)
        return self._pick(_tollfree_exchanges(filter_), rng, wanted)

    # -- holding and releasing ----------------------------------------------------------------

    def release(self, number: str) -> None:
        """Put a number back on sale."""
        if number in self._held:
            self._held.discard(number)
            self._exchange(number[:6]).released.append(number)

    def restore(
        self, cursors: dict[str, int], held: Iterable[str], released: Iterable[str]
    ) -> None:
        """Load saved state: lines already handed out, numbers held, numbers released."""
        for exchange, cursor in cursors.items():
            self._exchange(exchange).cursor = cursor
        self._held.update(held)
        for number in released:
            if number not in self._held:
                self._exchange(number[:6]).released.append(number)

    def cursor(self, exchange: str) -> int:
        """How many fresh lines of an exchange were handed out (for saving)."""
        return self._exchange(exchange).cursor

    # -- picking --------------------------------------------------------------------------------

    def _pick(
        self, candidates: tuple[str, ...], rng: random.Random, wanted: str, avoid: str = ""
    ) -> str:
        """A number from a random exchange among candidates, walking on past empty ones."""
        if not candidates:
            raise no_match(wanted)
        start = rng.randrange(len(candidates))
        for step in range(len(candidates)):
            number = self._take(candidates[(start + step) % len(candidates)], avoid)
            if number:
                self._held.add(number)
                return number
        raise no_match(f"{wanted}: all {len(candidates)} matching exchanges are sold out")

    def _take(self, exchange: str, avoid: str) -> str | None:
        stock = self._exchange(exchange)
        while stock.cursor < self.stock:
            number = exchange + f"{_line(stock.keys, stock.cursor):04d}"
            stock.cursor += 1
            if number not in self._held and number != avoid:
                return number
        while stock.released:
            number = stock.released.popleft()
            if number not in self._held:
                return number
        return None

    def _exchange(self, exchange: str) -> _Exchange:
        found = self._exchanges.get(exchange)
        if found is None:
            keys = random.Random(f"{self.seed}:{exchange}").getrandbits(64)
            found = _Exchange(keys=tuple((keys >> (16 * i)) & 0xFFFF for i in range(_ROUNDS)))
            self._exchanges[exchange] = found
        return found


def _line(keys: tuple[int, ...], index: int) -> int:
    """The index-th line of an exchange: a Feistel permutation of 0..9999 (two 2-digit halves)."""
    left, right = divmod(index, 100)
    for key in keys:
        left, right = right, (left + (right * 7919 + key) * 2654435761 % 9973) % 100
    return left * 100 + right


def _matching(filter_: str | None) -> str:
    return f" matching {filter_}" if filter_ else ""


def _sellable(exchange: str) -> bool:
    return nanp.is_central_office_code(exchange[3:]) and exchange[3:] not in _RESERVED_NXX


def _filtered(exchanges: Iterable[str], filter_: str | None) -> tuple[str, ...]:
    prefix = filter_ or ""
    return tuple(e for e in exchanges if e.startswith(prefix))


def _exchanges_near(number: str, filter_: str | None) -> tuple[str, ...]:
    place = nanp.place_of(number)
    if place:
        return _local_exchanges(place, filter_)
    # Without a known rate centre, the number's own exchange is still local to it.
    own = number[:6]
    return _filtered((own,) if _sellable(own) else (), filter_)


@lru_cache(maxsize=4096)
def _local_exchanges(place: nanp.Place, filter_: str | None) -> tuple[str, ...]:
    return _filtered((e for e in nanp.exchanges_of(place) if _sellable(e)), filter_)


@lru_cache(maxsize=64)
def _tollfree_exchanges(filter_: str | None) -> tuple[str, ...]:
    every = (npa + str(nxx) for npa in nanp.TOLLFREE_NPAS for nxx in range(200, 1000))
    return _filtered((e for e in every if _sellable(e)), filter_)


def _unknown_city(city: str, state: str) -> str:
    if nanp.state_code(state) is None:
        return f"{state} is not a US state or Canadian province"
    guesses = nanp.closest_cities(city, state)
    if not guesses:
        return f"no rate centre named {city} in {state.upper()}"
    listed = f"{', '.join(guesses[:-1])} or {guesses[-1]}" if len(guesses) > 1 else guesses[0]
    return f"no rate centre named {city} in {state.upper()} (did you mean {listed}?)"
