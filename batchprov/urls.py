"""API base URLs in the one spelling that keys the journal and may be shown to people.

``HTTPS://API.Example.com:443/v3/api/`` and ``https://api.example.com/v3/api`` are the same
API, so they must find the same journal items (or a respelled URL would buy again).
Credentials in a URL (``https://user:pw@host/…``) are kept for the request only: the
normalised form never contains them.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit, urlunsplit

__all__ = ["normalise_url"]

DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=64)  # a run keys every row by the same few URLs
def normalise_url(url: str) -> str:
    """Scheme and host in lower case, default port, credentials and trailing slash dropped."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, the request will fail
        port = None
        host = parts.netloc.rpartition("@")[2].lower()
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), parts.query, ""))
