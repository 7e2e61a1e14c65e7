"""A Telmetrics-compatible API simulator on real North American numbering-plan data.

`create_app` gives the ASGI application (use it in-process through `httpx.ASGITransport`);
`serve_in_thread` serves it on loopback for the duration of a `with` block; the command
`batchprov sandbox` serves it in the foreground. `sandbox_session` gives a served sandbox with
its `config.Api` and a journal that lives as long: what `run --sandbox` uses.
"""

from __future__ import annotations

from batchprov.sandbox.app import SandboxApp, create_app
from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.errors import ApiError
from batchprov.sandbox.faults import Faults
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
    "RunningSandbox",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxSession",
    "create_app",
    "sandbox_session",
    "serve_forever",
    "serve_in_thread",
]
