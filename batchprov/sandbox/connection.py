"""Fates of a connection that gets no answer: dropped, left hanging, or never made.

Served by uvicorn, the sandbox carries them out on the socket. In process there is no socket,
so the client gets the exception that httpx raises for the same fate on a real connection.
"""

from __future__ import annotations

from enum import Enum

import httpx

#: The ASGI scope extension through which the in-process transport tells the application
#: about the client: ``{"read_timeout": seconds or None}``.
EXTENSION = "batchprov.sandbox.client"


class Fate(Enum):
    """What happens to a connection instead of an answer (the values name it in the stats)."""

    DROP = "dropped"  # the request was read; the connection closes without a response
    HANG = "unanswered"  # no response until the client gives up
    REFUSE = "refused"  # as if the client never got through

    def error(self) -> httpx.TransportError:
        """The exception an httpx client meets for this fate on a real connection."""
        if self is Fate.DROP:
            return httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if self is Fate.HANG:
            return httpx.ReadTimeout("The read operation timed out")
        return httpx.ConnectError("All connection attempts failed")
