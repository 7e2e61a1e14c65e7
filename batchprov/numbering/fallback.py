"""Fallbacks: what to order instead when the API answers that no number matches a row.

A row opts in with its ``fallback`` cell, or a whole run with ``--fallback``: an ordered list
of `Fallback` kinds. `fallback_orders` turns a row's order and its kinds into the orders to
try after it (pure; the area codes come from the numbering-plan data). Every order keeps the
row's group and name, so the journal key (API URL, group, name) — and with it the promise of
never buying twice — is the same across a row's fallbacks.

The API documents no error format, so a "no match" answer is recognised by `is_no_match`: a
4xx other than 401/403/404/429 whose text matches `NO_MATCH`. Any other error never triggers
a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

from batchprov.errors import ConfigError
from batchprov.models import CheckedRow, Fallback, FallbackOrder, MatchType, OrderRequest, Parsed
from batchprov.numbering import nanp
from batchprov.wording import FALLBACK_INPUT_WORDS, quote

__all__ = [
    "ACCEPTED",
    "NO_MATCH",
    "fallback_notes",
    "fallback_orders",
    "is_no_match",
    "parse_fallback",
    "parse_run_fallback",
    "unavailable_text",
    "with_fallbacks",
]

#: The accepted words, as messages list them (spelling variants are accepted too).
ACCEPTED = ", ".join(FALLBACK_INPUT_WORDS[kind.value] for kind in Fallback)

#: How a "no number matches" answer reads: the sandbox says "No numbers available local to
#: 9056372046 matching 212"; the real API's wording is undocumented, so the net is wide.
NO_MATCH = re.compile(
    r"\bno\s+(?:[\w-]+\s+){0,2}?(?:numbers?|match(?:es|ing)?|inventory)\b"
    r"|\bnot\s+available\b|\bsold\s+out\b",
    re.IGNORECASE,
)
#: 4xx answers that mean something else than "no match", whatever their text.
_NOT_NO_MATCH = frozenset({401, 403, 404, 429})

_WORDS: dict[str, Fallback] = {
    **dict.fromkeys(
        ["dropfilter", "nofilter", "withoutfilter", "anyareacode", "anynumber"],
        Fallback.DROP_FILTER,
    ),
    **dict.fromkeys(["overlay", "otherareacode", "overlayareacode"], Fallback.OVERLAY),
    **dict.fromkeys(["tollfree", "tf", "tollfreenumber"], Fallback.TOLLFREE),
}
_NONE = frozenset({"none", "no", "off"})
_SPLIT = re.compile(r"[,;|/>\n]+|\bthen\b", re.IGNORECASE)


def is_no_match(status: int | None, text: str) -> bool:
    """True when an answer says that no number matches the request (and nothing else)."""
    if status is None or not 400 <= status < 500 or status in _NOT_NO_MATCH:
        return False
    return NO_MATCH.search(text) is not None


@lru_cache(maxsize=1024)
def parse_fallback(text: str) -> Parsed[tuple[Fallback, ...]]:
    """``drop-filter, overlay, toll-free`` → the kinds in order; ``none`` → (); blank → None."""
    cleaned = text.strip()
    if not cleaned:
        return Parsed()
    kinds: list[Fallback] = []
    for word in _SPLIT.split(cleaned):
        key = re.sub(r"[^0-9a-z]", "", word.casefold())
        if not key or key in _NONE:
            continue
        kind = _WORDS.get(key)
        if kind is None:
            return Parsed(
                problem=f"{quote(word.strip())} is not a fallback batchprov knows; write one or "
                f"more of {ACCEPTED}, separated by commas, in the order to try them (or none)"
            )
        if kind not in kinds:
            kinds.append(kind)
    return Parsed(tuple(kinds))


def parse_run_fallback(value: str | Iterable[str] | None) -> tuple[Fallback, ...]:
    """The run's fallbacks (``--fallback``), from text or words; `ConfigError` when unknown."""
    if value is None:
        return ()
    text = value if isinstance(value, str) else ",".join(value)
    parsed = parse_fallback(text)
    if parsed.problem:
        raise ConfigError(f"--fallback: {parsed.problem}")
    return parsed.value or ()


def with_fallbacks(
    rows: Sequence[CheckedRow], default: tuple[Fallback, ...]
) -> tuple[CheckedRow, ...]:
    """Each valid row with its fallback orders: its own ``fallback`` cell, else ``default``."""
    out = []
    for row in rows:
        kinds = default if row.fallback is None else row.fallback
        if row.order is not None and kinds:
            row = replace(row, fallbacks=fallback_orders(row.order, kinds))
        out.append(row)
    return tuple(out)


def fallback_orders(order: OrderRequest, kinds: Sequence[Fallback]) -> tuple[FallbackOrder, ...]:
    """The orders to try after ``order``, in the order of ``kinds``; none repeats another."""
    seen = {order.body_json()}
    found: list[FallbackOrder] = []
    for kind in kinds:
        for candidate in _candidates(order, kind):
            body = candidate.body_json()
            if body not in seen:
                seen.add(body)
                found.append(FallbackOrder(kind, candidate))
    return tuple(found)


def _candidates(order: OrderRequest, kind: Fallback) -> list[OrderRequest]:
    if kind is Fallback.DROP_FILTER:
        return [replace(order, number_match_filter=None)] if order.number_match_filter else []
    if kind is Fallback.OVERLAY:
        return [replace(order, number_match_filter=npa) for npa in overlay_codes(order)]
    if order.match_type is MatchType.TOLLFREE:
        return []
    tollfree = replace(order, match_type=MatchType.TOLLFREE, number_match_filter=None)
    return [replace(tollfree, local_to_number=None, city=None, state=None)]


def overlay_codes(order: OrderRequest) -> tuple[str, ...]:
    """Other area codes serving the order's place than its filter's; the number's own first."""
    if not order.number_match_filter:
        return ()
    npa = order.number_match_filter[:3]
    if order.match_type is MatchType.TOLLFREE:
        codes: tuple[str, ...] = nanp.TOLLFREE_NPAS
    elif order.match_type is MatchType.LOCAL_TO_CITY:
        place = nanp.find_place(order.city or "", order.state or "")
        codes = nanp.area_codes_of(place) if place else ()
    else:
        local = order.local_to_number or ""
        place = nanp.place_of(local)
        # Without a known rate centre the number's own area code still serves it.
        codes = nanp.area_codes_of(place) if place else (local[:3],)
        codes = tuple(sorted(codes, key=lambda code: (code != local[:3], code)))
    return tuple(code for code in codes if code != npa)


@lru_cache(maxsize=1024)
def fallback_notes(kinds: tuple[Fallback, ...], match_type: MatchType, filter_: str) -> str:
    """A warning for fallbacks a row's cell asks for that can never apply ('' if all can)."""
    idle = []
    for kind in kinds:
        word = FALLBACK_INPUT_WORDS[kind.value]
        if kind in (Fallback.DROP_FILTER, Fallback.OVERLAY) and not filter_:
            idle.append(
                f"the fallback '{word}' can never apply, as the row has no area-code filter"
            )
        elif kind is Fallback.TOLLFREE and match_type is MatchType.TOLLFREE:
            idle.append(
                f"the fallback '{word}' can never apply, as the row already asks for a toll-free "
                "number"
            )
    if not idle:
        return ""
    them = "them" if len(idle) > 1 else "it"
    harm = "they do" if len(idle) > 1 else "it does"
    return f"{'; '.join(idle)}. Remove {them} from the cell, or leave {them}: {harm} no harm"


def unavailable_text(order: OrderRequest) -> str:
    """``No 289 number was available``: what an order that found no number was looking for."""
    if order.number_match_filter:
        return f"No {order.number_match_filter} number was available"
    if order.match_type is MatchType.TOLLFREE:
        return "No toll-free number was available"
    if order.match_type is MatchType.LOCAL_TO_CITY:
        return f"No number was available in {order.city}, {order.state}"
    return f"No number was available local to {order.local_to_number}"
