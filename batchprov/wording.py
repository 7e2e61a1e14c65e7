"""How batchprov words values for the people who read its messages and workbooks.

The API's own words (``localtocity``, ``HTTP 400``) stay in request bodies and JSON; what a
person reads says the same in plain words.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the command line's start-up: no pandas (models) at import
    from batchprov.models import Status

__all__ = [
    "FALLBACK_INPUT_WORDS",
    "MATCH_TYPE_WORDS",
    "SANDBOX_MARK",
    "api_refusal",
    "api_words",
    "fallback_words",
    "match_type_words",
    "quote",
    "status_text",
]

#: How a person reads each match type.
MATCH_TYPE_WORDS: dict[str, str] = {
    "localtonumber": "Local to number",
    "localtocity": "Local to city",
    "tollfree": "Toll-free",
}
#: The words a fallback cell or ``--fallback`` takes for each kind, as messages spell them.
FALLBACK_INPUT_WORDS: dict[str, str] = {
    "drop_filter": "drop-filter",
    "overlay": "overlay",
    "tollfree": "toll-free",
}
#: The statuses of a row owning a number (``models.OWNED``), as the Status column writes them.
_OWNED_TEXTS = frozenset({"provisioned", "already provisioned", "updated"})
#: Added to the Status of a row whose number came from the sandbox: it was never bought.
SANDBOX_MARK = " (sandbox)"


def quote(text: str, limit: int = 40) -> str:
    """A cell value for a message: single-quoted, shortened when long (never a Python repr)."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{shown}'"


def match_type_words(value: str | Enum | None) -> str | None:
    """``localtocity`` (or ``MatchType.LOCAL_TO_CITY``) → ``Local to city``; an unknown text
    is shown as it is."""
    if value is None:
        return None
    text = str(value.value) if isinstance(value, Enum) else value
    return MATCH_TYPE_WORDS.get(text, text)


def fallback_words(kind: str | Enum, area_code: str | None = None) -> str:
    """What a fallback orders, as a noun phrase: ``a number in overlay area code 905``,
    ``a number without the area-code filter``, ``a toll-free number``."""
    text = str(kind.value) if isinstance(kind, Enum) else kind
    if text == "overlay":
        return f"a number in overlay area code {area_code}" if area_code else "an overlay area code"
    if text == "drop_filter":
        return "a number without the area-code filter"
    if text == "tollfree":
        return "a toll-free number"
    return text


def status_text(status: Status, *, sandbox: bool = False) -> str:
    """The Status cell: ``provisioned``, or ``provisioned (sandbox)`` for a sandbox number.

    The mark keeps a sandbox number from ever counting as bought when the file is read again.
    """
    return status.value + (SANDBOX_MARK if sandbox and status.value in _OWNED_TEXTS else "")


def api_refusal(text: str, status: int | None = None) -> str:
    """An API's refusal of a row, for someone who never saw the API."""
    shown = text.strip().rstrip(".") or "no reason given"
    where = f" (HTTP {status})" if status is not None else ""
    return f"The API refused this row: {shown}{where}."


#: ``HTTP 400: <text>``, then the fallback it was sent for, then a line of advice.
_HTTP_ANSWER = re.compile(
    r"HTTP (\d{3}): (.*?)(?: \((when asked for [^)]*)\))?(?:\n([^\n]*))?", re.DOTALL
)
#: An answer quoted inside another text: to the end, or to the ``)`` closing a parenthesis
#: that the sentence goes on after.
_INNER_ANSWER = re.compile(r"HTTP (\d{3}): (.*?)(?=\)[,.;:] |$)", re.DOTALL)


def api_words(error: str) -> str:
    """A row's error as a person reads it: ``HTTP 400: <text>`` from the API becomes
    ``The API refused this row: <text> (HTTP 400).``, an answer quoted inside another text
    ``<text> (HTTP 404).``; other texts are kept as they are."""
    whole = _HTTP_ANSWER.fullmatch(error)
    if whole:
        status, text, fallback, advice = int(whole[1]), whole[2], whole[3], whole[4]
        where = f"HTTP {status}; {fallback}" if fallback else f"HTTP {status}"
        shown = text.strip().rstrip(".") or "no reason given"
        then = f"\n{advice}" if advice else ""
        if status >= 500:
            return f"The API failed on this row: {shown} ({where}).{then}"
        return f"The API refused this row: {shown} ({where}).{then}"
    inner = _INNER_ANSWER.search(error)
    if inner:  # "…; last answer: HTTP 404: <text>" → "…; last answer: <text> (HTTP 404)."
        shown = inner[2].strip().rstrip(".") or "no reason given"
        rest = error[inner.end() :]
        if rest:  # "(HTTP 503: busy), so …" → "(busy, HTTP 503), so …"
            return error[: inner.start()] + f"{shown}, HTTP {inner[1]}" + rest
        return error[: inner.start()] + f"{shown} (HTTP {inner[1]})."
    return error
