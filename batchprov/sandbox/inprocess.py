"""An httpx transport to an in-process sandbox: no socket, no thread, the sandbox's clock.

Tests and library users hand it to any httpx client (``transport=``) to talk to a sandbox the
way they would over the network. What needs a real connection is emulated with the exception
httpx raises for it: a connection dropped after the create (`httpx.RemoteProtocolError`), an
answer that never comes (`httpx.ReadTimeout`, at once rather than after the client's read
timeout), a connection never made (`httpx.ConnectError`). A late answer is a `ReadTimeout` when
it would come after the client's read timeout, and otherwise comes after a sleep on the
sandbox's clock.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.types import Receive, Scope, Send

from batchprov.sandbox.app import API, SandboxApp, create_app
from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.connection import EXTENSION
from batchprov.sandbox.service import Clock, Sandbox, Sleep

#: The API base to give clients of an in-process sandbox (".invalid" never resolves, so a
#: client that bypassed the transport could not reach anything real).
URL = f"http://sandbox.invalid{API}"


def transport(
    config: SandboxConfig | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SandboxTransport:
    """A transport to a new in-process sandbox; its state is ``.sandbox``, its API ``.url``.

    ``clock`` and ``sleep`` are the sandbox's time: give it the clock the client runs on.
    """
    return SandboxTransport(create_app(config, clock=clock, sleep=sleep))


class SandboxTransport(httpx.AsyncBaseTransport):
    """Sends each request to a sandbox application in process; keeps a log of them.

    The sandbox outlives its clients: closing a client leaves the transport usable, so one
    sandbox can serve run after run. ``app.close()`` releases its state file, if any.
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.url = URL
        #: (method, path) of every request sent through this transport, in order.
        self.requests: list[tuple[str, str]] = []

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox's state, for seeding and inspection."""
        return self.app.sandbox

    def sent(self, method: str) -> int:
        """How many requests of one method were sent (those that never connected too)."""
        return sum(1 for sent, _ in self.requests if sent == method)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        timeouts = request.extensions.get("timeout") or {}
        client = {"read_timeout": timeouts.get("read")}

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = {**(scope.get("extensions") or {}), EXTENSION: client}
            await self.app({**scope, "extensions": extensions}, receive, send)

        return await httpx.ASGITransport(app=app).handle_async_request(request)
