"""A synchronous test client of an in-process sandbox: httpx over its transport, no port.

(Starlette's TestClient now warns unless `httpx2` is installed, and warnings fail tests.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from batchprov.sandbox import SandboxApp, SandboxTransport

AUTH = {"x-organization-token": "sandbox"}


class Api:
    """Send requests to a sandbox application, one event loop per request."""

    def __init__(
        self, app: SandboxApp, headers: dict[str, str] | None = None, timeout: float = 5.0
    ) -> None:
        self.app = app
        self.headers = AUTH if headers is None else headers
        self.timeout = timeout
        self.transport = SandboxTransport(app)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; the response is fully read."""

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport,
                base_url="http://sandbox",
                headers=self.headers,
                timeout=self.timeout,
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a path."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to a path."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """PUT to a path."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE a path."""
        return self.request("DELETE", path, **kwargs)
