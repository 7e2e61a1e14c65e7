"""Deciding, from a group's listing, what became of requests whose answers were lost.

Pure functions, no I/O: the runner lists the group, then asks `decide` about every item whose
settle delay has passed. A number can be an item's only if it is not in the group's baseline
(there before our first POST), not owned by a DONE item, and its name is the item's name or
that name with the API's numeric suffix (``Studio 5`` → ``Studio 5``, ``Studio 5 2``; never
``Studio 54``), compared case-insensitively.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from batchprov.order.client import Number


class Verdict(StrEnum):
    """What a listing says about one unresolved item."""

    ADOPT = "adopt"  # exactly one candidate, claimed by no other item: it is ours
    ABSENT = "absent"  # no candidate: nothing was bought (once the settle delay is over)
    REVIEW = "review"  # several candidates: a possible duplicate purchase
    OVERLAP = "overlap"  # a candidate fits several items' names, all settled: cannot tell
    DEFER = "defer"  # a candidate fits an item still in flight: look again later


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict with the numbers it is about."""

    verdict: Verdict
    numbers: tuple[Number, ...] = ()

    @property
    def ids(self) -> str:
        """The numbers' ids, comma-separated."""
        return ", ".join(n.id for n in self.numbers)


@functools.lru_cache(maxsize=1024)
def name_pattern(name: str) -> re.Pattern[str]:
    """The anchored pattern of a requested name and its API-suffixed variants."""
    return re.compile(rf"{re.escape(name.strip())}( \d+)?", re.IGNORECASE)


def name_fits(name: str, assigned: str) -> bool:
    """True when ``assigned`` is the requested ``name`` or an API-suffixed form of it.

    Both are trimmed. The usual answer, the name exactly as asked, is told without a
    pattern: compiling one per row would cost more than the rest of the checks of an answer.
    """
    asked, got = name.strip(), assigned.strip()
    return got == asked or name_pattern(asked).fullmatch(got) is not None


def candidates(listing: Iterable[Number], excluded: Collection[str]) -> list[Number]:
    """Numbers that may be ours: not in the baseline, not owned by a DONE item."""
    return [n for n in listing if n.id not in excluded]


def decide(
    ready: Mapping[str, str],
    unresolved: Mapping[str, str],
    pool: Iterable[Number],
) -> dict[str, Decision]:
    """Verdicts for the ``ready`` items (key → name), among all ``unresolved`` items.

    ``pool`` are the candidate numbers; ``unresolved`` includes the ready items and every
    other item of the group whose outcome is open (in flight or still settling).
    """
    patterns = {key: name_pattern(name) for key, name in {**unresolved, **ready}.items()}
    claims = {n.id: _claimants(n, patterns) for n in pool}
    matches = {key: [n for n in pool if key in claims[n.id]] for key in ready}
    return {key: _verdict(key, matches[key], claims, ready) for key in ready}


def _claimants(number: Number, patterns: Mapping[str, re.Pattern[str]]) -> frozenset[str]:
    name = number.name.strip()
    return frozenset(k for k, p in patterns.items() if p.fullmatch(name))


def _verdict(
    key: str, found: list[Number], claims: Mapping[str, frozenset[str]], ready: Mapping[str, str]
) -> Decision:
    if not found:
        return Decision(Verdict.ABSENT)
    others = set().union(*(claims[n.id] for n in found)) - {key}
    if any(k not in ready for k in others):
        return Decision(Verdict.DEFER, tuple(found))
    if others:
        return Decision(Verdict.OVERLAP, tuple(found))
    if len(found) == 1:
        return Decision(Verdict.ADOPT, tuple(found))
    return Decision(Verdict.REVIEW, tuple(found))
