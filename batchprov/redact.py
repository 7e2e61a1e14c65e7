"""Keeping secrets out of every text batchprov cuts, stores or shows.

The API token and any ``user:password@`` in the API URL are secrets. A server may echo them
back anywhere (error bodies, names, headers), so every text that comes from the network or is
built from an answer goes through one `Redactor` before it is cut, journaled, written to the
workbook or printed. Error bodies are kept as raw text, so a secret is also looked for as their
escapes write it (JSON's ``\\/`` and ``\\u002F``, percent-encoding, HTML references), in any
letter case (a server may upper-case what it echoes), and whole in hex and base64.
`display_url` gives the form of an API URL that may be shown or stored.
"""

from __future__ import annotations

import base64
import logging
import re
import traceback
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

#: What a secret is replaced with.
MASK = "***"
#: What an API field holding a secret is replaced with.
REDACTED = "[redacted]"
#: Pieces of a secret at least this long are masked too (a text cut mid-secret, a partial echo).
PIECE = 12

#: The escapes a server may write any character of a secret in: JSON string escapes (``\/``,
#: ``\"``, ``\u002F`` or ``\u002f``), percent-encoding (``%2F``, ``%2f``; a run of them is
#: read as UTF-8) and numeric HTML character references (``&#47;``, ``&#x2F;``).
_ESCAPE = re.compile(
    r"[\\%&](?:(?<=\\)(?:u[0-9a-fA-F]{4}|[\"\\/bfnrt])|(?<=%)[0-9a-fA-F]{2}(?:%[0-9a-fA-F]{2})*"
    r"|(?<=&)#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});)"
)  # one character class first: the engine skips to the next candidate at C speed
#: The two-character JSON escapes, with what they stand for.
_JSON_ESCAPES = {f"\\{k}": v for k, v in zip('"\\/bfnrt', '"\\/\b\f\n\r\t', strict=True)}
#: What starts an escape: a text without any of them is not decoded at all (the usual case).
_ESCAPE_STARTS = ("\\", "%", "&#")


@dataclass(frozen=True, slots=True)
class Redactor:
    """Masks a run's secrets in any text: whole, and any piece of `PIECE` or more characters,
    as written or escaped (JSON, percent-encoding, HTML references), and in hex or base64 whole."""

    secrets: tuple[str, ...] = ()
    #: Every piece of `PIECE` characters of the secrets, made once: every text is scrubbed.
    _grams: frozenset[str] = field(init=False, repr=False, compare=False)
    #: The secrets, then their hex and base64 forms: each replaced whole, at C speed.
    _wholes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    #: The secrets and their pieces in lower case, looked for in a text's lower case.
    _folded: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grams = frozenset(
            s[i : i + PIECE]
            for s in self.secrets
            if len(s) >= PIECE
            for i in range(len(s) - PIECE + 1)
        )
        object.__setattr__(self, "_grams", grams)
        encoded = {b for s in self.secrets if len(s) >= PIECE for b in encoded_forms(s)}
        wholes = (*self.secrets, *sorted(encoded - set(self.secrets), key=len, reverse=True))
        object.__setattr__(self, "_wholes", wholes)
        object.__setattr__(self, "_folded", frozenset(n.lower() for n in (*self.secrets, *grams)))

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
        """``text`` with every secret, and every long piece of one, masked, escaped or not."""
        if not text or not self.secrets:
            return text
        for secret in self._wholes:
            text = text.replace(secret, MASK)
        if len(text) < PIECE and not any(len(s) < PIECE for s in self.secrets):
            return text
        spans = self._found(text, whole=False) + self._found_in_any_case(text)
        if any(start in text for start in _ESCAPE_STARTS):
            decoded = _ESCAPE.sub(_decoded, text)  # the way back is made only when needed
            found = self._found(decoded, whole=True) if decoded != text else []
            if found:
                view = _Decoded(text)
                spans += [view.original(a, b) for a, b in found]
        return _masked(text, spans)

    def cut(self, text: str, limit: int) -> str:
        """Scrubbed, then cut to ``limit`` characters (an ellipsis marks a cut)."""
        for secret in self._wholes:  # whole secrets first, over the whole text: it is fast
            text = text.replace(secret, MASK)
        # Pieces are looked for only where the cut may land, plus room for a piece across it.
        text = self.scrub(text[: limit + PIECE]) if len(text) > limit else self.scrub(text)
        if len(text) > limit:
            text = text[:limit].rstrip() + "…"
        return text

    def holds_secret(self, text: str | None) -> bool:
        """True when ``text`` contains a secret or a long piece of one."""
        return bool(text) and self.scrub(text or "") != text

    def _found(self, text: str, *, whole: bool) -> list[tuple[int, int]]:
        """Where in ``text`` the secret pieces (and, ``whole``, the secrets) are: (start, end)."""
        return _spans_of([*self.secrets, *self._grams] if whole else self._grams, text)

    def _found_in_any_case(self, text: str) -> list[tuple[int, int]]:
        """Where the secrets and their pieces are in ``text`` written in another letter case."""
        low = _lower_in_place(text)
        if low == text and all(s == s.lower() for s in self.secrets):
            return []  # a text in lower case, secrets in lower case: found as written already
        return _spans_of(self._folded, low)


def _spans_of(needles: Iterable[str], text: str) -> list[tuple[int, int]]:
    """Where in ``text`` each needle is: (start, end), overlaps included, at C speed."""
    spans: list[tuple[int, int]] = []
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            spans.append((at, at + len(needle)))
            at = text.find(needle, at + 1)
    return spans


def _lower_in_place(text: str) -> str:
    """``text`` in lower case, character for character (a letter whose lower case is longer,
    like "İ", stays as it is), so that positions in it are positions in ``text``."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


class _Decoded:
    """A text with its escapes decoded, and the way back from a span of it to the text's own."""

    def __init__(self, text: str) -> None:
        parts: list[str] = []
        #: Per segment of the decoded text: where it starts there, and the text's span it
        #: comes from; ``plain`` segments are copied character for character.
        self._starts: list[int] = []
        self._spans: list[tuple[int, int, bool]] = []
        size = 0
        at = 0

        def add(part: str, start: int, end: int, plain: bool) -> None:
            nonlocal size
            parts.append(part)
            self._starts.append(size)
            self._spans.append((start, end, plain))
            size += len(part)

        for match in _ESCAPE.finditer(text):
            if match.start() > at:
                add(text[at : match.start()], at, match.start(), True)
            start, escape = match.start(), match.group()
            if escape[0] == "%":
                data = bytes.fromhex(escape.replace("%", ""))
                if data.isascii():
                    for i, byte in enumerate(data):
                        add(chr(byte), start + 3 * i, start + 3 * i + 3, False)
                else:
                    add(data.decode("utf-8", "replace"), start, match.end(), False)
            else:
                add(_unescaped(escape), start, match.end(), False)
            at = match.end()
        if at < len(text):
            add(text[at:], at, len(text), True)
        self.text = "".join(parts)

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the text that the decoded span ``start``-``end`` was read from."""
        first = bisect_right(self._starts, start) - 1
        begin, _, plain = self._spans[first]
        begin += start - self._starts[first] if plain else 0
        last = bisect_right(self._starts, end - 1) - 1
        from_, to, plain = self._spans[last]
        return begin, (from_ + end - self._starts[last]) if plain else to


def _decoded(match: re.Match[str]) -> str:
    """What one escape stands for (as `_Decoded` reads it)."""
    escape = match.group()
    fixed = _JSON_ESCAPES.get(escape)
    if fixed is not None:
        return fixed
    if escape[0] == "%":
        return bytes.fromhex(escape.replace("%", "")).decode("utf-8", "replace")
    return _unescaped(escape)


def _unescaped(escape: str) -> str:
    """The character a JSON escape or an HTML character reference stands for."""
    if escape[0] == "&":
        code = int(escape[3:-1], 16) if escape[2] in "xX" else int(escape[2:-1])
        return chr(code) if code <= 0x10FFFF else "\ufffd"
    return _JSON_ESCAPES.get(escape) or chr(int(escape[2:], 16))


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching spans replaced by one `MASK`."""
    if not spans:
        return text
    out: list[str] = []
    done = 0
    spans.sort()
    start, end = spans[0]
    for a, b in spans[1:]:
        if a <= end:
            end = max(end, b)
            continue
        out += [text[done:start], MASK]
        done, start, end = end, a, b
    out += [text[done:start], MASK, text[end:]]
    return "".join(out)


def encoded_forms(secret: str) -> list[str]:
    """The texts that encode ``secret`` whole: hex (both cases), and base64 (standard and
    URL-safe) wherever it stands in the data encoded: at each of the three byte alignments,
    less the characters its neighbours share."""
    data = secret.encode()
    forms = [data.hex(), data.hex().upper()]
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        tail = (offset + len(data)) % 3  # bytes of the secret in a last, unfinished group
        end = len(encoded) - 4 + tail if tail else len(encoded)
        core = encoded[(0, 2, 3)[offset] : end]
        if len(core) >= PIECE:
            forms += [core, core.translate(_URLSAFE)]
    return list(dict.fromkeys(forms))


_URLSAFE = str.maketrans("+/", "-_")


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
