"""A hostile Telmetrics-like HTTP server for tests: real sockets, answers an attacker would give.

`HostileApi(mode)` serves ``/v3/api/groups/{id}/numbers`` on 127.0.0.1 (port 0) from a thread
of its own, and stops by itself after ``lifetime`` seconds even if a test forgets it. It buys
numbers like the API (a POST records one; a listing shows them) and then misbehaves as the
mode says. It counts what it bought per requested name, so a test can assert that nothing was
bought twice.

Modes: ``ok``; ``trickle`` (create answers sent a byte per half second), ``trickle_all``
(listings too); ``huge`` (100 MB create answers); ``huge_list``; ``endless`` (every page
announces more pages), ``too_many`` (a total of a billion), ``looping`` (every page repeats the
first); ``retry_after`` (429, ``Retry-After: 86400``), ``retry_date`` (an HTTP date in 2099),
``retry_600`` (a wait under the cap); ``phone_123``, ``formula``, ``other_group``,
``other_name``, ``missing_ids`` (a 2xx that bought, describing something else), ``bad_2xx``
(each of those in turn); ``token_echo`` (the token in names, error bodies and headers);
``token_escaped`` (400s whose JSON bodies echo the token encoded: `ESCAPES`, in turn).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

TOKEN = "Zq8vK3mW9xT2pL7nR4bY6cH1dF5gJ"
MODES = (
    "ok",
    "infinite_total",
    "absurd_total",
    "accepted",
    "trickle",
    "trickle_all",
    "huge",
    "huge_list",
    "endless",
    "too_many",
    "looping",
    "retry_after",
    "retry_date",
    "retry_600",
    "phone_123",
    "formula",
    "other_group",
    "other_name",
    "missing_ids",
    "bad_2xx",
    "token_echo",
    "token_escaped",
)
#: The 2xx modes ``bad_2xx`` gives in turn, by the last digit of the name ordered.
BAD_2XX = ("phone_123", "formula", "other_group", "other_name", "missing_ids")
#: How ``token_escaped`` writes the token in an error body, by the create's turn.
ESCAPES: dict[str, Callable[[str], str]] = {
    "php": lambda t: json.dumps(t)[1:-1].replace("/", "\\/"),  # PHP's json_encode: \/
    "unicode": lambda t: "".join(f"\\u{ord(c):04X}" for c in t),
    "unicode_lower": lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
    "percent": lambda t: quote(t, safe=""),
    "percent_lower": lambda t: "".join(f"%{b:02x}" for b in t.encode()),
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
}
_HUGE = 100 * 2**20
_CHUNK = 64 * 1024


class _Reply:
    def __init__(
        self,
        status: int,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        trickle: float | None = None,
        huge: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.trickle = trickle
        self.huge = huge


def _json(status: int, data: object, **kw: Any) -> _Reply:
    return _Reply(status, json.dumps(data).encode(), **kw)


class HostileApi:
    """The server; use as a context manager. ``url`` is the API base URL to order from."""

    def __init__(self, mode: str, *, token: str = TOKEN, lifetime: float = 90.0) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self.mode = mode
        self.token = token
        self.lifetime = lifetime
        self.port = 0
        self.numbers: list[dict[str, Any]] = []
        #: Numbers bought per requested name.
        self.bought: Counter[str] = Counter()
        self.posts = 0
        self.gets = 0
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hostile-api")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3/api"

    def __enter__(self) -> HostileApi:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    # serving -------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._loop.call_later(self.lifetime, self._stopped.set)  # stops by itself
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                reply = self._answer(*request)
                keep = await self._send(writer, reply)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, reply: _Reply) -> bool:
        headers = {"Content-Type": "application/json", **reply.headers}
        if self.mode == "token_echo":
            headers["X-Echo"] = self.token
        if reply.huge:
            headers["Connection"] = "close"  # the body runs until the connection closes
        else:
            headers["Content-Length"] = str(len(reply.body))
        head = f"HTTP/1.1 {reply.status} Whatever\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        await writer.drain()
        if reply.huge:
            filler = b" " * _CHUNK
            writer.write(reply.body)
            for _ in range(_HUGE // _CHUNK):
                writer.write(filler)
                await writer.drain()
            return False
        if reply.trickle is not None:
            for i in range(len(reply.body)):
                writer.write(reply.body[i : i + 1])
                await writer.drain()
                await asyncio.sleep(reply.trickle)
            return True
        writer.write(reply.body)
        await writer.drain()
        return True

    # the API -------------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        parts = urlsplit(target)
        segments = parts.path.strip("/").split("/")
        if "authorization" in headers:
            self.auth_headers.append(headers["authorization"])
        if headers.get("x-organization-token") != self.token:
            return _Reply(401, b"Unauthorized")
        if len(segments) == 4 and segments[2] == "numbers":  # GET/PUT/DELETE /numbers/{id}
            return self._one_number(int(segments[3]))
        if len(segments) != 5 or segments[2] != "groups" or segments[4] != "numbers":
            return _Reply(404, b"no such path")
        group = int(segments[3])
        with self._lock:
            if method == "GET":
                self.gets += 1
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                return self._list(
                    group, int(query.get("pagesize", 1000)), int(query.get("pagenumber", 1))
                )
            self.posts += 1
            return self._create(group, json.loads(body)["name"])

    def _one_number(self, number_id: int) -> _Reply:
        """One number, answered the hostile way of the mode (trickled or huge)."""
        number = _number(number_id, 5, "Dental")
        if self.mode in ("trickle", "trickle_all"):
            return _json(200, number, trickle=0.5)
        if self.mode == "huge":
            return _Reply(200, json.dumps(number).encode(), huge=True)
        return _json(200, number)

    def _list(self, group: int, size: int, page: int) -> _Reply:
        # An "accepted" purchase is made later, out of sight: no listing shows it yet.
        mine = [n for n in self.numbers if n["group_id"] == group and not n.get("later")]
        total = len(mine)
        trickle = 0.5 if self.mode == "trickle_all" else None
        if self.mode == "endless":  # always one more full page of new numbers
            results = [_number(10**6 + page * size + i, group, f"x{i}") for i in range(size)]
            return _json(200, {"results": results, "paging": _paging(page, size, page * size + 1)})
        if self.mode == "infinite_total":  # JSON's 1e400 is a float infinity
            return _json(
                200,
                {
                    "results": mine[:size],
                    "paging": _paging(page, size, 10) | {"total": float("inf")},
                },
            )
        if self.mode in ("too_many", "absurd_total"):
            total = 10**9 if self.mode == "too_many" else 10**400
            return _json(200, {"results": mine[:size], "paging": _paging(page, size, total)})
        if self.mode == "looping":
            results = [_number(10**6 + i, group, f"x{i}") for i in range(size)]
            return _json(200, {"results": results, "paging": _paging(page, size, 3 * size)})
        if self.mode == "huge_list":
            return _Reply(200, b"[", huge=True)
        start = (page - 1) * size
        results = mine[start : start + size]
        if self.mode == "token_echo":
            results = [
                {**n, "name": f"{n['name']} {self.token}"} if n.get("echo") else n for n in results
            ]
        return _json(
            200, {"results": results, "paging": _paging(page, size, total)}, trickle=trickle
        )

    def _create(self, group: int, name: str) -> _Reply:
        mode = self.mode
        if mode == "retry_after":
            return _Reply(429, b"slow down", headers={"Retry-After": "86400"})
        if mode == "retry_date":
            return _Reply(
                429, b"slow down", headers={"Retry-After": "Thu, 01 Jan 2099 00:00:00 GMT"}
            )
        if mode == "retry_600":
            return _Reply(429, b"slow down", headers={"Retry-After": "600"})
        if mode == "token_echo":
            return self._echo(group, name)
        if mode == "token_escaped":
            form = list(ESCAPES.values())[(self.posts - 1) % len(ESCAPES)](self.token)
            return _Reply(400, ('{"message": "your token is ' + form + '"}').encode())
        number = self._buy(group, name)
        if mode == "accepted":  # 202, no body: bought, and no listing shows it for now
            number["later"] = True
            return _Reply(202, b"")
        if mode == "bad_2xx":
            mode = BAD_2XX[int(name[-1]) % len(BAD_2XX)]
        if mode in ("trickle", "trickle_all"):
            return _json(201, number, trickle=0.5)
        if mode == "huge":
            return _Reply(200, json.dumps(number).encode(), huge=True)
        answers = {
            "phone_123": {**number, "phone_number": "123"},
            "formula": {**number, "phone_number": "=1+1", "name": '=HYPERLINK("http://x","y")'},
            "other_group": {**number, "group_id": group + 1},
            "other_name": {**number, "name": "Somebody Else"},
            "missing_ids": {"name": number["name"], "status": "Active"},
        }
        return _json(201, answers.get(mode, number))

    def _echo(self, group: int, name: str) -> _Reply:
        """The token everywhere: in a name, across an error text's cut, in a 500, in a 404."""
        turn = self.posts % 5
        if turn == 1:
            number = self._buy(group, name)
            number["echo"] = True  # its listing entry carries the token too
            return _json(201, {**number, "name": f"{number['name']} {self.token}"})
        if turn == 2:
            return _Reply(400, ("x" * 290 + self.token + " is not allowed").encode())
        if turn == 3:
            return _json(201, self._buy(group, name))
        if turn == 4:  # it bought: a reconcile finds it (under its name) and adopts it
            self._buy(group, name)
            return _Reply(500, f"internal error for token {self.token}".encode())
        return _Reply(404, (self.token * 3).encode())

    def _buy(self, group: int, name: str) -> dict[str, Any]:
        taken = {n["name"].casefold() for n in self.numbers if n["group_id"] == group}
        assigned, suffix = name, 1
        while assigned.casefold() in taken:
            suffix += 1
            assigned = f"{name} {suffix}"
        number = _number(7000 + len(self.numbers), group, assigned)
        self.numbers.append(number)
        self.bought[name] += 1
        return number


def _number(number_id: int, group: int, name: str) -> dict[str, Any]:
    return {
        "id": number_id,
        "name": name,
        "group_id": group,
        "status": "Active",
        "phone_number": f"289866{number_id % 10000:04d}",
        "created_datetime": "2026-01-02T03:04:05Z",
        "call_routes": {"route_type": "Basic", "route": {"id": 31000000 + number_id}},
    }


def _paging(page: int, size: int, total: int) -> dict[str, int]:
    return {"pageNumber": page, "pageSize": size, "total": total}


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body
