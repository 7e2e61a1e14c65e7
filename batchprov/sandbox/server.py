"""Serving the sandbox under uvicorn: in a background thread (tests, `run --sandbox`) or in
the foreground (`batchprov sandbox`)."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from batchprov.config import Api
from batchprov.sandbox.app import API, SandboxApp, create_app
from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.service import Sandbox

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class RunningSandbox:
    """A sandbox being served: where to reach it and its state, for direct inspection."""

    url: str  # the API base, e.g. http://127.0.0.1:54321/v3/api
    state: Sandbox
    app: SandboxApp
    host: str
    port: int
    token: str = "sandbox"

    def api(self) -> Api:
        """The `Api` that reaches this sandbox, for `pipeline.run_file`."""
        return Api(url=self.url, token=self.token, sandbox=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), bound before uvicorn starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections (it checks
    # the protocol number); without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def uvicorn_server(app: SandboxApp) -> uvicorn.Server:
    """A quiet uvicorn server: no access log, no lifespan, a short graceful shutdown."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


def api_url(host: str, port: int) -> str:
    """The API base URL of a sandbox listening at host:port."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{API}"


@contextlib.contextmanager
def serve_in_thread(
    config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningSandbox]:
    """Serve a sandbox on loopback from a daemon thread for the duration of the block."""
    app = create_app(config)
    sock = bind(host, port)
    server = uvicorn_server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="batchprov-sandbox", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        bound_port = sock.getsockname()[1]
        url = api_url(host, bound_port)
        yield RunningSandbox(url, app.sandbox, app, host, bound_port, token=config.token)
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT)
        sock.close()
        app.sandbox.close()


@dataclass(frozen=True, slots=True)
class SandboxSession:
    """A served sandbox with a journal that lives exactly as long as its numbers do."""

    server: RunningSandbox
    journal: Path

    @property
    def api(self) -> Api:
        return self.server.api()


@contextlib.contextmanager
def sandbox_session(config: SandboxConfig | None = None) -> Iterator[SandboxSession]:
    """A fresh sandbox on loopback and a fresh journal, both gone when the block ends.

    What `run --sandbox` and the web page's sandbox jobs use: two sessions never mix, so
    running the demo twice orders twice from two fresh sandboxes.
    """
    with (
        serve_in_thread(config or SandboxConfig()) as server,
        tempfile.TemporaryDirectory(prefix="batchprov-sandbox-") as folder,
    ):
        yield SandboxSession(server, Path(folder) / "journal.sqlite")


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)


def serve_forever(
    config: SandboxConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    announce: Callable[[str], object] = print,
) -> None:
    """Serve a sandbox in the foreground until Ctrl-C; `announce` gets the API URL first."""
    app = create_app(config)
    sock = bind(host, port)
    try:
        announce(api_url(host, sock.getsockname()[1]))
        uvicorn_server(app).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; stopping is what was asked
    finally:
        sock.close()
        app.sandbox.close()
