"""`batchprov serve`: upload a sheet, review it, order its numbers, download the results.

Server-rendered pages (Starlette + Jinja2) over `batchprov.pipeline`; the ordering itself runs
in `runner.JobRunner`. Every defence lives in `security.py`; every page escapes what it shows.
The routes are grouped by what they are about: `uploading`, `reviewing`, `ordering` and
`results`, all on `pages.Pages`; `settings.Settings` holds what they share.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from batchprov.config import Environment
from batchprov.redact import Redactor, ScrubbingFilter
from batchprov.sandbox import SandboxConfig
from batchprov.web.ordering import Ordering
from batchprov.web.pages import HERE, templates_for, too_large_page
from batchprov.web.results import Results
from batchprov.web.reviewing import Reviewing
from batchprov.web.security import FORM_OVERHEAD, Credentials, SecurityMiddleware
from batchprov.web.settings import Settings
from batchprov.web.uploading import Uploading

log = logging.getLogger("batchprov.web")


class Routes(Uploading, Reviewing, Ordering, Results):
    """Every route of the application."""

    def routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.upload_page, methods=["GET"]),
            Route("/upload", self.upload, methods=["POST"]),
            Route("/template.xlsx", self.template, methods=["GET"]),
            Route("/jobs", self.job_list, methods=["GET"]),
            Route("/jobs/{job_id}", self.job_page, methods=["GET"]),
            Route("/jobs/{job_id}/confirm", self.confirm_page, methods=["GET"]),
            Route("/jobs/{job_id}/order", self.order, methods=["POST"]),
            Route("/jobs/{job_id}/fix", self.fix, methods=["POST"]),
            Route("/jobs/{job_id}/corrected", self.download_corrected, methods=["GET"]),
            Route("/jobs/{job_id}/stop", self.stop, methods=["POST"]),
            Route("/jobs/{job_id}/release", self.release_page, methods=["GET"]),
            Route("/jobs/{job_id}/release", self.release, methods=["POST"]),
            Route("/jobs/{job_id}/progress.json", self.progress, methods=["GET"]),
            Route("/jobs/{job_id}/checked.xlsx", self.download_check, methods=["GET"]),
            Route("/jobs/{job_id}/results.xlsx", self.download_result, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


def create_app(
    *,
    data_dir: Path,
    sandbox: bool,
    api_url: str | None,
    auth: str | None,
    max_upload: int = 20 * 2**20,
    hosts: frozenset[str] | None = None,
    sandbox_config: SandboxConfig | None = None,
) -> Starlette:
    """The web application; `auth` is `user:password` or None for no login.

    ``hosts`` are the ``Host`` values it answers (`security.allowed_hosts`); None answers any.
    ``sandbox_config``: how the sandbox of each sandbox job behaves (e.g. its faults, in tests).
    """
    settings = Settings(
        data_dir=Path(data_dir),
        sandbox=sandbox,
        api_url=api_url,
        max_upload=max_upload,
        sandbox_config=sandbox_config,
    )
    _scrub_logs(api_url)
    templates = templates_for(settings)
    security = _security(settings, templates, auth=auth, hosts=hosts)
    routes = Routes(settings, templates)
    app = Starlette(
        routes=routes.routes(),
        middleware=[security],
        lifespan=_lifespan(settings),
        exception_handlers={HTTPException: routes.http_error, 500: routes.server_error},
    )
    app.state.web = settings
    return app


def _lifespan(settings: Settings) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start the job runner with the server (resuming cut-short jobs); stop it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.runner.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(settings.runner.close)

    return lifespan


def _security(
    settings: Settings,
    templates: Jinja2Templates,
    *,
    auth: str | None,
    hosts: frozenset[str] | None,
) -> Middleware:
    """The middleware of `security.py`, with this server's login, limits and hosts."""

    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = too_large_page(templates, Request(scope, receive), settings.max_upload)
        await response(scope, receive, send)

    return Middleware(
        SecurityMiddleware,
        credentials=Credentials.parse(auth) if auth else None,
        max_body=settings.max_upload + FORM_OVERHEAD,
        too_large=too_large,
        unauthorized=_unauthorized,
        hosts=hosts,
    )


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    response = PlainTextResponse(
        "Please sign in to use batchprov.",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="batchprov", charset="UTF-8"'},
    )
    await response(scope, receive, send)


def _scrub_logs(api_url: str | None) -> None:
    """Keep the token and URL credentials out of the web log (messages and tracebacks)."""
    for old in [f for f in log.filters if isinstance(f, ScrubbingFilter)]:
        log.removeFilter(old)
    log.addFilter(ScrubbingFilter(Redactor.of(Environment.read().token, api_url)))
