"""The sandbox's HTTP face: Starlette routes under /v3/api, plus /_sandbox helpers.

`SandboxApp` wraps the routes in a thin ASGI layer that counts every answer and carries out
the connection faults (`Fate`): a connection dropped without a response, left unanswered
until the client gives up, or closed as if it never got through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.connection import EXTENSION, Fate
from batchprov.sandbox.errors import ApiError
from batchprov.sandbox.faults import Faults, ListOutcome, Outcome
from batchprov.sandbox.schema import parse_json
from batchprov.sandbox.service import Clock, Sandbox, Sleep

API = "/v3/api"
_FATE = "batchprov.sandbox.fate"  # scope key: answer nothing; do this to the connection
_CONVERTOR = re.compile(r":\w+}")

Handler = Callable[[Request, Sandbox], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]

#: Scripted error answers as (status, text, headers); each raise builds a fresh ApiError.
Answer = tuple[int, str, dict[str, str]]
_THROTTLED: Answer = (429, "Too Many Requests: rate limit exceeded", {"Retry-After": "1"})
_UNAVAILABLE: Answer = (503, "Service Unavailable", {"Retry-After": "1"})
_SERVER_ERROR: Answer = (500, "Internal Server Error", {})
#: Scripted create answers that create nothing (404 is built per group).
_REFUSALS: dict[Outcome, Answer] = {
    Outcome.UNAVAILABLE: _UNAVAILABLE,
    Outcome.THROTTLED: _THROTTLED,
    Outcome.BAD_REQUEST: (400, "Bad Request: the request was refused (scripted fault)", {}),
    Outcome.UNAUTHORIZED: (401, "Unauthorized: the x-organization-token is not valid", {}),
}
_LIST_ERRORS: dict[ListOutcome, Answer] = {
    ListOutcome.THROTTLED: _THROTTLED,
    ListOutcome.ERROR: _SERVER_ERROR,
    ListOutcome.UNAVAILABLE: _UNAVAILABLE,
}
_LIST_FATES = {
    ListOutcome.DROP: Fate.DROP,
    ListOutcome.TIMEOUT: Fate.HANG,
    ListOutcome.CONNECT_ERROR: Fate.REFUSE,
}


def create_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> SandboxApp:
    """A sandbox ASGI application; its state is `app.state.sandbox` (also `app.sandbox`).

    ``clock`` and ``sleep`` are the sandbox's time (see `Sandbox`).
    """
    return SandboxApp(Sandbox(config or SandboxConfig(), clock=clock, sleep=sleep))


class SandboxApp:
    """The ASGI application: routes, answer counting, and connection faults."""

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

        async def send_unless_severed(message: Message) -> None:
            nonlocal status
            if scope.get(_FATE):
                return
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self._starlette(scope, receive, send_unless_severed)
        finally:
            fate: Fate | None = scope.get(_FATE)
            outcome = fate.value if fate else status
            self.sandbox.count(f"{scope['method']} {_route_path(scope)} {outcome}")
        if fate:
            await _sever(fate, receive, send)


async def _sever(fate: Fate, receive: Receive, send: Send) -> None:
    """Carry out a connection fault on the client's connection.

    Under uvicorn, `send` is bound to the request cycle, which holds the socket's transport:
    closing it is a real drop (the client sees "Server disconnected"), and a hanging request
    waits for the client to give up. Elsewhere (in process) there is no socket: the client
    gets the exception that the fate raises on a real connection.
    """
    cycle = getattr(send, "__self__", None)
    close = getattr(getattr(cycle, "transport", None), "close", None)  # asyncio or uvloop
    if not callable(close):
        raise fate.error()
    if fate is Fate.HANG:
        while (await receive())["type"] != "http.disconnect":
            pass  # the body was read already; wait for the client to go away
    close()
    for _ in range(100):  # until uvicorn notices, so it does not answer 500 itself
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.001)


def _route_path(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return _CONVERTOR.sub("}", path) if isinstance(path, str) else "<unmatched>"


def _severed(request: Request, fate: Fate) -> Response:
    """Mark the request for a connection fault; the placeholder response is never sent."""
    request.scope[_FATE] = fate
    return Response(status_code=500)


def _client_read_timeout(request: Request) -> float | None:
    """The read timeout of an in-process client (None when unknown, e.g. over a socket)."""
    client = request.scope.get("extensions", {}).get(EXTENSION) or {}
    timeout = client.get("read_timeout")
    return float(timeout) if isinstance(timeout, int | float) else None


# -- API endpoints -------------------------------------------------------------------------


def _api(handler: Handler, *, create: bool = False) -> Endpoint:
    """Latency, token check and rate limit around a handler; ApiError becomes the answer."""

    async def endpoint(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        try:
            delay = sandbox.injector.delay_seconds()
            if delay:
                await sandbox.sleep(delay)
            if create:
                sandbox.injector.received_create()
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
    group_id = request.path_params["group_id"]

    async def create() -> dict[str, Any]:
        return sandbox.create_number(group_id, parse_json(await request.body()))

    return await _faulted(request, sandbox, create, f"Group {group_id} not found")


async def _faulted(
    request: Request,
    sandbox: Sandbox,
    change: Callable[[], Awaitable[dict[str, Any]]],
    not_found: str,
) -> Response:
    """A create, update or release under the fault drawn for it (one per request): refused
    or unanswered before the change, or the change made and then the answer lost or late."""
    outcome = sandbox.injector.outcome()  # one per request, whatever follows
    if outcome in _REFUSALS:
        raise ApiError(*_REFUSALS[outcome])
    if outcome is Outcome.NOT_FOUND:
        raise ApiError(404, not_found)
    if outcome is Outcome.CONNECT_ERROR:
        return _severed(request, Fate.REFUSE)
    if outcome is Outcome.TIMEOUT_BEFORE_CREATE:
        await request.body()
        return _severed(request, Fate.HANG)
    number = await change()
    if outcome is Outcome.ERROR_AFTER_CREATE:
        raise ApiError(*_SERVER_ERROR)
    if outcome is Outcome.DROP_AFTER_CREATE:
        return _severed(request, Fate.DROP)
    if outcome is Outcome.TIMEOUT_AFTER_CREATE:
        return _severed(request, Fate.HANG)
    if outcome is Outcome.GARBLED_AFTER_CREATE:
        return _garbled(number)
    if outcome is Outcome.LATE_AFTER_CREATE:
        late = sandbox.injector.faults.late_seconds
        timeout = _client_read_timeout(request)
        if timeout is not None and late >= timeout:
            return _severed(request, Fate.HANG)  # the client would give up first: at once
        await sandbox.sleep(late)
    return JSONResponse(number)


def _garbled(data: Any) -> Response:
    """A 200 whose JSON body is cut off half way, as a broken proxy might pass it on."""
    text = json.dumps(data)
    return Response(text[: len(text) // 2], 200, media_type="application/json")


async def _listing(request: Request, sandbox: Sandbox, group_id: int | None) -> Response:
    outcome = sandbox.injector.list_outcome()
    if outcome in _LIST_ERRORS:
        raise ApiError(*_LIST_ERRORS[outcome])
    if outcome in _LIST_FATES:
        return _severed(request, _LIST_FATES[outcome])
    size, number = _paging(request)
    page = sandbox.list_numbers(group_id, size, number)
    return _garbled(page) if outcome is ListOutcome.GARBLED else JSONResponse(page)


async def _list_group(request: Request, sandbox: Sandbox) -> Response:
    return await _listing(request, sandbox, request.path_params["group_id"])


async def _list_all(request: Request, sandbox: Sandbox) -> Response:
    return await _listing(request, sandbox, None)


async def _get(request: Request, sandbox: Sandbox) -> Response:
    return JSONResponse(sandbox.get_number(request.path_params["number_id"]))


async def _put(request: Request, sandbox: Sandbox) -> Response:
    number_id = request.path_params["number_id"]

    async def update() -> dict[str, Any]:
        return sandbox.update_number(number_id, parse_json(await request.body()))

    return await _faulted(request, sandbox, update, f"Number {number_id} not found")


async def _delete(request: Request, sandbox: Sandbox) -> Response:
    number_id = request.path_params["number_id"]

    async def release() -> dict[str, Any]:
        return sandbox.delete_number(number_id)

    return await _faulted(request, sandbox, release, f"Number {number_id} not found")


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
        Route(numbers, _api(_create, create=True), methods=["POST"]),
        Route(numbers, _api(_list_group), methods=["GET"]),
        Route(f"{API}/numbers", _api(_list_all), methods=["GET"]),
        Route(number, _api(_get), methods=["GET"]),
        Route(number, _api(_put), methods=["PUT"]),
        Route(number, _api(_delete), methods=["DELETE"]),
        Route("/_sandbox/ledger", _ledger, methods=["GET"]),
        Route("/_sandbox/stats", _stats, methods=["GET"]),
        Route("/_sandbox/faults", _faults, methods=["GET", "PUT"]),
    ]
