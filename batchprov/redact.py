"""Keeping secrets out of every text batchprov cuts, stores or shows.

The API token and any ``user:password@`` in the API URL are secrets. A server may echo them
back anywhere (error bodies, names, headers), so every text that comes from the network or is
built from an answer goes through one `Redactor` before it is cut, journaled, written to the
workbook or printed. `display_url` gives the form of an API URL that may be shown or stored.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

#: What a secret is replaced with.
MASK = "***"
#: What an API field holding a secret is replaced with.
REDACTED = "[redacted]"
#: Pieces of a secret at least this long are masked too (a text cut mid-secret, a partial echo).
PIECE = 12


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks a run's secrets in any text: whole, and any piece of `PIECE` or more characters."""

    secrets: tuple[str, ...] = ()
    #: Every piece of `PIECE` characters of the secrets, made once: every text is scrubbed.
    _grams: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grams = frozenset(
            s[i : i + PIECE]
            for s in self.secrets
            if len(s) >= PIECE
            for i in range(len(s) - PIECE + 1)
        )
        object.__setattr__(self, "_grams", grams)

    @classmethod
    def of(cls, token: str | None, *urls: str | None) -> Redactor:
        """The redactor for a token and the credentials of the given API URLs."""
        found = [token or ""]
        for url in urls:
            found.extend(url_secrets(url))
        # Longest first, so that a secret containing another is masked whole.
        unique = sorted({s for s in found if s}, key=len, reverse=True)
        return cls(tuple(unique))

    def scrub(self, text: str) -> str:
        """``text`` with every secret, and every long piece of one, masked."""
        if not text or not self.secrets:
            return text
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return self._pieces(text)

    def cut(self, text: str, limit: int) -> str:
        """Scrubbed, then cut to ``limit`` characters (an ellipsis marks a cut)."""
        for secret in self.secrets:  # whole secrets first, over the whole text: it is fast
            text = text.replace(secret, MASK)
        # Pieces are looked for only where the cut may land, plus room for a piece across it.
        text = self.scrub(text[: limit + PIECE]) if len(text) > limit else self.scrub(text)
        if len(text) > limit:
            text = text[:limit].rstrip() + "…"
        return text

    def holds_secret(self, text: str | None) -> bool:
        """True when ``text`` contains a secret or a long piece of one."""
        return bool(text) and self.scrub(text or "") != text

    def _pieces(self, text: str) -> str:
        """Mask runs of text made of secret pieces `PIECE` characters long or more."""
        if not self._grams or len(text) < PIECE:
            return text
        marked = bytearray(len(text))
        found = False
        for gram in self._grams:  # each piece looked for at C speed, overlaps included
            at = text.find(gram)
            while at >= 0:
                marked[at : at + PIECE] = b"\x01" * PIECE
                found = True
                at = text.find(gram, at + 1)
        if not found:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            if marked[i]:
                while i < len(text) and marked[i]:
                    i += 1
                out.append(MASK)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def url_secrets(url: str | None) -> list[str]:
    """The credentials written in an API URL: ``user:pw``, the password, and their decodings."""
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if not at:
        return []
    found = [userinfo]
    _user, colon, password = userinfo.partition(":")
    if colon and password:
        found += [password, unquote(password)]
    found.append(unquote(userinfo))
    # A bare user name of a few letters is not worth masking everywhere; with a password it is
    # masked as part of ``user:pw``.
    return [s for s in found if len(s) >= 4]


def display_url(url: str) -> str:
    """The API URL without ``user:password@``, to show or store; the rest as given."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def scrub_all(redactor: Redactor, texts: Iterable[str]) -> tuple[str, ...]:
    """Each text scrubbed."""
    return tuple(redactor.scrub(t) for t in texts)


class ScrubbingFilter(logging.Filter):
    """A logging filter that scrubs each record's message and traceback before any handler."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.scrub(record.getMessage())
        record.args = ()
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.redactor.scrub(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        return True
