"""The one scrub: tokens and URL credentials masked whole and in pieces, before any cut."""

from __future__ import annotations

import pytest

from batchprov.redact import MASK, PIECE, Redactor, display_url, url_secrets

TOKEN = "Zq8vK3mW9xT2pL7nR4bY6cH1dF5gJ"


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
