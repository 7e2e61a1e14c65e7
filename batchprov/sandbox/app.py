"""The sandbox's HTTP face: Starlette routes under /v3/api, plus /_sandbox helpers.

`SandboxApp` wraps the routes in a thin ASGI layer that counts every answer and carries out
the "drop" fault: the number is created, then the connection closes without a response.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.errors import ApiError
from batchprov.sandbox.faults import Faults, Outcome
from batchprov.sandbox.schema import parse_json
from batchprov.sandbox.service import Sandbox

API = "/v3/api"
_DROP = "batchprov.sandbox.drop"  # scope key: answer nothing, close the connection
_CONVERTOR = re.compile(r":\w+}")

Handler = Callable[[Request, Sandbox], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """A sandbox ASGI application; its state is `app.state.sandbox` (also `app.sandbox`)."""
    return SandboxApp(Sandbox(config or SandboxConfig()))


class SandboxApp:
    """The ASGI application: routes, answer counting, and connection drops."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state = State({"sandbox": sandbox})
        self._starlette = Starlette(routes=_routes())
        self._starlette.state.sandbox = sandbox

    def close(self) -> None:
        """Release the sandbox's state file (if any)."""
        self.sandbox.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._starlette(scope, receive, send)
            return
        status = "500"  # what an escaping exception turns into

        async def send_unless_dropped(message: Message) -> None:
            nonlocal status
            if scope.get(_DROP):
                return
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self._starlette(scope, receive, send_unless_dropped)
        finally:
            outcome = "dropped" if scope.get(_DROP) else status
            self.sandbox.count(f"{scope['method']} {_route_path(scope)} {outcome}")
        if scope.get(_DROP):
            await _drop_connection(send)


async def _drop_connection(send: Send) -> None:
    """Close the client's connection without a byte of response.

    Under uvicorn, `send` is bound to the request cycle, which holds the socket's transport:
    closing it is a real drop (the client sees "Server disconnected"). Elsewhere (httpx's
    ASGITransport in-process) the client gets the exception that a real drop raises.
    """
    cycle = getattr(send, "__self__", None)
    close = getattr(getattr(cycle, "transport", None), "close", None)  # asyncio or uvloop
    if not callable(close):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    close()
    for _ in range(100):  # until uvicorn notices, so it does not answer 500 itself
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return _CONVERTOR.sub("}", path) if isinstance(path, str) else "<unmatched>"


# -- API endpoints -------------------------------------------------------------------------


def _api(handler: Handler) -> Endpoint:
    """Latency, token check and rate limit around a handler; ApiError becomes the answer."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        try:
            delay = sandbox.injector.delay_seconds()
            if delay:
                await asyncio.sleep(delay)
            sandbox.check_token(request.headers.get("x-organization-token"))
            wait = sandbox.injector.retry_after()
            if wait is not None:
                message = "Too Many Requests: rate limit exceeded"
                raise ApiError(429, message, {"Retry-After": str(wait)})
            return await handler(request, sandbox)
        except ApiError as error:
            return PlainTextResponse(error.message, error.status, headers=error.headers)

    return endpoint


async def _create(request: Request, sandbox: Sandbox) -> Response:
    outcome = sandbox.injector.outcome()  # one draw per create, whatever follows
    if outcome is Outcome.UNAVAILABLE:
        raise ApiError(503, "Service Unavailable", {"Retry-After": "1"})
    body = parse_json(await request.body())
    number = sandbox.create_number(request.path_params["group_id"], body)
    if outcome is Outcome.ERROR_AFTER_CREATE:
        raise ApiError(500, "Internal Server Error")
    if outcome is Outcome.DROP_AFTER_CREATE:
        request.scope[_DROP] = True
        return Response(status_code=500)  # swallowed: the connection closes instead
    if outcome is Outcome.LATE_AFTER_CREATE:
        await asyncio.sleep(sandbox.faults.late_seconds)
    return JSONResponse(number)


async def _list_group(request: Request, sandbox: Sandbox) -> Response:
    size, number = _paging(request)
    return JSONResponse(sandbox.list_numbers(request.path_params["group_id"], size, number))


async def _list_all(request: Request, sandbox: Sandbox) -> Response:
    size, number = _paging(request)
    return JSONResponse(sandbox.list_numbers(None, size, number))


async def _get(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(sandbox.get_number(request.path_params["number_id"]))


async def _put(request: Request, sandbox: Sandbox) -> Response:
    body = parse_json(await request.body())
    return JSONResponse(sandbox.update_number(request.path_params["number_id"], body))


async def _delete(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(sandbox.delete_number(request.path_params["number_id"]))


def _paging(request: Request) -> tuple[int | None, int]:
    """`pagesize` and `pagenumber` in any casing (the docs and clients disagree)."""
    params = {key.casefold(): value for key, value in request.query_params.items()}
    return _positive(params, "pagesize"), _positive(params, "pagenumber") or 1


def _positive(params: dict[str, str], key: str) -> int | None:
    text = params.get(key)
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) < 1:
        raise ApiError(400, f"{key}: '{text}' is not a positive whole number")
    return int(text)


# -- sandbox-only endpoints ------------------------------------------------------------------


async def _ledger(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    return JSONResponse(sandbox.ledger())


async def _stats(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    return JSONResponse(dict(sorted(sandbox.stats.items())))


async def _faults(request: Request) -> Response:
    """GET shows the faults in force; PUT replaces them (fields of `Faults`, JSON)."""
    sandbox: Sandbox = request.app.state.sandbox
    if request.method == "PUT":
        try:
            body: Any = parse_json(await request.body())
            sandbox.set_faults(Faults(**body))
        except ApiError as error:
            return PlainTextResponse(error.message, error.status)
        except (TypeError, ValueError) as error:
            return PlainTextResponse(f"faults: {error}", 400)
    return JSONResponse(dataclasses.asdict(sandbox.faults))


def _routes() -> list[Route]:
    numbers = f"{API}/groups/{{group_id:int}}/numbers"
    number = f"{API}/numbers/{{number_id:int}}"
    return [
        Route(numbers, _api(_create), methods=["POST"]),
        Route(numbers, _api(_list_group), methods=["GET"]),
        Route(f"{API}/numbers", _api(_list_all), methods=["GET"]),
        Route(number, _api(_get), methods=["GET"]),
        Route(number, _api(_put), methods=["PUT"]),
        Route(number, _api(_delete), methods=["DELETE"]),
        Route("/_sandbox/ledger", _ledger, methods=["GET"]),
        Route("/_sandbox/stats", _stats, methods=["GET"]),
        Route("/_sandbox/faults", _faults, methods=["GET", "PUT"]),
    ]
