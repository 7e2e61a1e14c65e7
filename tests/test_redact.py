"""The one scrub: tokens and URL credentials masked whole and in pieces, before any cut."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import Callable
from urllib.parse import quote, unquote

import pytest

from batchprov.redact import MASK, PIECE, Redactor, display_url, url_secrets

TOKEN = "Zq8vK3mW9xT2pL7nR4bY6cH1dF5gJ"
#: A token with slashes: JSON encoders that escape ``/`` leave no 12-character run of it.
SLASHED = "k7Hq2vLp/Z9xW4mRt/B6nY3cQe8"


def pieces_in(text: str, secret: str = TOKEN) -> list[str]:
    return [
        secret[i : i + PIECE]
        for i in range(len(secret) - PIECE + 1)
        if secret[i : i + PIECE] in text
    ]


def test_whole_token_is_masked() -> None:
    """The token anywhere in a text becomes ***."""
    assert Redactor.of(TOKEN).scrub(f"bad token {TOKEN}!") == f"bad token {MASK}!"


@pytest.mark.parametrize("cut", [PIECE, 20, len(TOKEN) - 1])
def test_pieces_of_the_token_are_masked(cut: int) -> None:
    """A partial echo of 12 characters or more is masked too, at either end."""
    r = Redactor.of(TOKEN)
    assert pieces_in(r.scrub("head " + TOKEN[:cut] + " tail")) == []
    assert pieces_in(r.scrub("head " + TOKEN[-cut:] + " tail")) == []


def test_short_fragments_are_left_alone() -> None:
    """Fewer than 12 characters of the token are ordinary text."""
    text = "name " + TOKEN[: PIECE - 1]
    assert Redactor.of(TOKEN).scrub(text) == text


@pytest.mark.parametrize("at", [250, 280, 290, 299, 300, 310])
def test_cut_scrubs_before_cutting(at: int) -> None:
    """The token placed across the cut leaves no 12-character piece (the old bug left 28)."""
    text = "x" * at + TOKEN + " more text"
    cut = Redactor.of(TOKEN).cut(text, 300)
    assert pieces_in(cut) == []
    assert len(cut) <= 301


def test_cut_of_a_long_body_is_quick_and_short() -> None:
    """An 8 MB body is scrubbed and cut to its excerpt."""
    text = ("y" * 1000 + TOKEN) * 8000
    cut = Redactor.of(TOKEN).cut(text, 300)
    assert len(cut) <= 301 and pieces_in(cut) == []


def test_url_credentials_are_secrets_and_hidden_in_display() -> None:
    """user:pw in a URL: masked in texts, dropped from the display form."""
    url = "https://robot:p%40ss-w0rd-long@API.example.com:8443/v3/api"
    assert display_url(url) == "https://API.example.com:8443/v3/api"
    assert "p@ss-w0rd-long" in url_secrets(url)
    r = Redactor.of(None, url)
    assert "w0rd" not in r.scrub(f"failed: {url}") and "robot:p%40" not in r.scrub(url)


def test_url_without_credentials_is_unchanged() -> None:
    """A URL without userinfo displays as given and holds no secret."""
    url = "http://127.0.0.1:8000/v3/api"
    assert display_url(url) == url
    assert url_secrets(url) == []
    assert Redactor.of(None, url).scrub(url) == url


def test_holds_secret() -> None:
    """holds_secret tells a field echoing the token from an ordinary one."""
    r = Redactor.of(TOKEN)
    assert r.holds_secret(f"ABC {TOKEN}")
    assert r.holds_secret(TOKEN[3:20])
    assert not r.holds_secret("ABC 2")
    assert not r.holds_secret(None)


def test_logging_filter_scrubs_messages_and_tracebacks() -> None:
    """A log record's message, arguments and traceback lose the token before any handler."""
    import io
    import logging

    from batchprov.redact import ScrubbingFilter

    stream = io.StringIO()
    logger = logging.getLogger("batchprov.test-scrub")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(ScrubbingFilter(Redactor.of(TOKEN)))
    try:
        logger.warning("token %s echoed", TOKEN)
        try:
            raise RuntimeError(f"server said {TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "RuntimeError" in text and "echoed" in text
    assert pieces_in(text) == []


def readings(text: str) -> list[str]:
    """``text`` as written, JSON-unescaped, percent-decoded and HTML-unescaped."""
    unjson = re.sub(
        r"\\u([0-9a-fA-F]{4})|\\(.)",
        lambda m: chr(int(m[1], 16)) if m[1] else {"n": "\n", "t": "\t"}.get(m[2], m[2]),
        text,
    )
    return [text, unjson, unquote(text), html.unescape(text)]


def leaked(text: str, secret: str = SLASHED) -> list[str]:
    """The pieces of ``secret`` any reading of ``text`` shows."""
    return [p for reading in readings(text) for p in pieces_in(reading, secret)]


ENCODINGS: dict[str, Callable[[str], str]] = {
    "json_escaped_slashes": lambda t: json.dumps(t)[1:-1].replace("/", "\\/"),
    "json_unicode_upper": lambda t: "".join(f"\\u{ord(c):04X}" for c in t),
    "json_unicode_lower": lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
    "json_some_escaped": lambda t: "".join(
        f"\\u{ord(c):04x}" if i % 3 == 0 else c for i, c in enumerate(t)
    ),
    "percent_upper": lambda t: "".join(f"%{b:02X}" for b in t.encode()),
    "percent_lower": lambda t: "".join(f"%{b:02x}" for b in t.encode()),
    "percent_slashes_only": lambda t: quote(t, safe=""),
    "html_references": lambda t: "".join(f"&#{ord(c)};" if i % 2 else c for i, c in enumerate(t)),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_encoded_token_is_masked(encoding: str) -> None:
    """The token echoed JSON-escaped, percent-encoded or as HTML references leaves no piece."""
    body = '{"message": "your token is ' + ENCODINGS[encoding](SLASHED) + '"}'
    scrubbed = Redactor.of(SLASHED).scrub(body)
    assert leaked(scrubbed) == []
    assert scrubbed == '{"message": "your token is ' + MASK + '"}'


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_encoded_piece_of_the_token_is_masked(encoding: str) -> None:
    """A partial echo of 12 characters, encoded, is masked like one as written."""
    scrubbed = Redactor.of(SLASHED).scrub("head " + ENCODINGS[encoding](SLASHED[5:19]) + " tail")
    assert leaked(scrubbed) == [] and scrubbed == f"head {MASK} tail"


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("at", [250, 290, 299, 305])
def test_an_encoded_token_across_the_cut_leaves_no_piece(encoding: str, at: int) -> None:
    """The escaped token placed across the 300-character cut: no piece in what is kept."""
    text = "x" * at + ENCODINGS[encoding](SLASHED) + " more text"
    assert leaked(Redactor.of(SLASHED).cut(text, 300)) == []


@pytest.mark.parametrize("prefix", ["", "r", "ro", "robot:"])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_the_token_in_base64_is_masked_at_any_alignment(prefix: str, urlsafe: bool) -> None:
    """base64 of a text holding the token (a Basic header, say) loses the token's part."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode((prefix + SLASHED + "!").encode()).decode()
    scrubbed = Redactor.of(SLASHED).scrub(f"Authorization: Basic {encoded}")
    assert MASK in scrubbed
    inner = encoded[len(prefix) * 4 // 3 + 3 : -4]  # the characters only the token makes
    assert [inner[i : i + PIECE] for i in range(len(inner) - PIECE + 1)]
    assert not any(inner[i : i + PIECE] in scrubbed for i in range(len(inner) - PIECE + 1))


@pytest.mark.parametrize("hexed", [SLASHED.encode().hex(), SLASHED.encode().hex().upper()])
def test_the_token_in_hex_is_masked(hexed: str) -> None:
    """The token's bytes in hex, either case, are masked whole."""
    assert Redactor.of(SLASHED).scrub(f"token={hexed};") == f"token={MASK};"


def test_escapes_without_the_token_are_left_alone() -> None:
    """Escaped slashes, percent-encoding and references of other text are kept as they are."""
    text = '{"url": "https:\\/\\/x.example\\/a%20b%2Fc", "t": "&#65;\\u0042\\n", "p": "100%"}'
    assert Redactor.of(SLASHED).scrub(text) == text


def test_short_url_passwords_are_masked_when_escaped() -> None:
    """A password under 12 characters is masked whole in an escaped echo too."""
    r = Redactor.of(None, "https://robot:s3cr%2Ft@api.example.com/v3/api")
    assert "s3cr" not in r.scrub("login robot:s3cr\\/t failed").replace(MASK, "")


def test_scrubbing_escaped_answers_stays_fast() -> None:
    """Error bodies full of escapes are scrubbed in microseconds, not milliseconds."""
    r = Redactor.of(SLASHED)
    body = ('{"path": "\\/v3\\/api\\/groups\\/5\\/numbers", "q": "a%20b"} ' * 6)[:300]
    started = time.perf_counter()
    for _ in range(2000):
        r.cut(body, 300)
    assert (time.perf_counter() - started) / 2000 < 0.002


@pytest.mark.parametrize("change", [str.upper, str.lower, str.swapcase], ids=lambda f: f.__name__)
def test_a_token_echoed_in_another_case_is_masked(change: Callable[[str], str]) -> None:
    """A server upper-casing (or lower-casing) the token it echoes does not leak it."""
    token = "Tk-AbCdEf0123456789-xYz"
    text = f'{{"error": "bad token {change(token)} for group 1"}}'
    scrubbed = Redactor.of(token).scrub(text)
    assert scrubbed == '{"error": "bad token *** for group 1"}'


def test_a_piece_of_the_token_in_another_case_is_masked() -> None:
    """Twelve characters of the token, upper-cased, are masked like the token."""
    token = "tk-abcdef0123456789-xyz"
    assert Redactor.of(token).scrub("seen: ABCDEF012345 at the end") == "seen: *** at the end"


def test_case_folding_keeps_positions_past_wide_letters() -> None:
    """A letter whose lower case is longer ("İ") does not shift what is masked."""
    token = "tk-abcdef0123456789-xyz"
    text = "İİ " + token.upper() + " İ"
    assert Redactor.of(token).scrub(text) == "İİ *** İ"
