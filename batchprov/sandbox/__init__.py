"""A Telmetrics-compatible API simulator on real North American numbering-plan data.

`transport` gives an httpx transport to a sandbox in process (tests, library users);
`create_app` gives the ASGI application; `serve_in_thread` serves it on loopback for the
duration of a `with` block; the command `batchprov sandbox` serves it in the foreground.
`sandbox_session` gives a served sandbox with its `config.Api` and a journal that lives as
long: what `run --sandbox` uses.
"""

from __future__ import annotations

from batchprov.sandbox.app import SandboxApp, create_app
from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.errors import ApiError
from batchprov.sandbox.faults import Faults, ListOutcome, Outcome
from batchprov.sandbox.inprocess import SandboxTransport, transport
from batchprov.sandbox.server import (
    RunningSandbox,
    SandboxSession,
    sandbox_session,
    serve_forever,
    serve_in_thread,
)
from batchprov.sandbox.service import Sandbox

__all__ = [
    "ApiError",
    "Faults",
    "ListOutcome",
    "Outcome",
    "RunningSandbox",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxSession",
    "SandboxTransport",
    "create_app",
    "sandbox_session",
    "serve_forever",
    "serve_in_thread",
    "transport",
]
