"""Page rendering: the templates and their filters, and what every group of routes shares.

`Pages` holds the settings and templates; the route groups (`uploading`, `reviewing`,
`ordering`, `results`) build on it. Every page escapes what it shows and is never cached.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.templating import Jinja2Templates

from batchprov._version import __version__
from batchprov.web import jobs, views
from batchprov.web.jobs import Job
from batchprov.web.orderform import FALLBACK_CHOICES, FALLBACK_FIELDS, OrderOptions
from batchprov.web.security import CSRF_FIELD, csrf_token
from batchprov.web.settings import Settings
from batchprov.wording import match_type_words

HERE = Path(__file__).parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MEDIA = {
    ".xlsx": XLSX,
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
}
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def templates_for(settings: Settings) -> Jinja2Templates:
    """The page templates, with the filters they use and what every page shows."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every cell value is shown as text, never as markup
        undefined=jinja2.StrictUndefined,
    )
    env.filters["status_class"] = status_class
    env.filters["public_url"] = views.public_url
    env.filters["size"] = size_text
    env.filters["when"] = when_text
    env.filters["estimate"] = views.estimate_text
    env.filters["match_type"] = lambda value: match_type_words(value) or ""

    def common(request: Request) -> dict[str, Any]:
        return {
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request),
            "server_mode": settings.mode(),
            "server_api": views.public_url(settings.api_url),
            "version": __version__,
        }

    return Jinja2Templates(env=env, context_processors=[common])


def when_text(stamp: str | None) -> str:
    """`2026-11-27T12:53:27Z` → `2026-11-27 12:53 UTC`."""
    if not stamp:
        return ""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 else stamp


def size_text(size: int) -> str:
    """`20 MB`, `512 KB`."""
    if size >= 2**20:
        return f"{size / 2**20:.3g} MB"
    return f"{size / 2**10:.3g} KB"


def status_class(status: str) -> str:
    """The CSS class of a status, with the workbook's colours."""
    return "st-" + re.sub(r"[^a-z]+", "-", status.lower()).strip("-")


def download(path: Path, filename: str, suffix: str = ".xlsx") -> Response:
    """A file as an attachment, never cached."""
    return FileResponse(
        path,
        media_type=_MEDIA.get(suffix, "application/octet-stream"),
        filename=filename,
        content_disposition_type="attachment",
        headers={"cache-control": "no-store"},
    )


def too_large_page(templates: Jinja2Templates, request: Request, limit: int) -> Response:
    """The answer to an upload over the size limit."""
    return templates.TemplateResponse(
        request,
        "message.html",
        {
            "title": "This file is too large",
            "text": (
                f"Files up to {size_text(limit)} can be uploaded. Remove unused sheets, "
                "or split the advertisers into several files, and try again."
            ),
        },
        status_code=413,
    )


class Pages:
    """What the route groups share: the settings, the templates, and the common answers."""

    def __init__(self, settings: Settings, templates: Jinja2Templates) -> None:
        self.s = settings
        self.t = templates

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        response = self.t.TemplateResponse(request, name, context, status_code=status)
        response.headers["cache-control"] = "no-store"
        return response

    def message(self, request: Request, status: int, title: str, text: str) -> Response:
        """A plain page explaining what went wrong and what to do."""
        return self.page(request, "message.html", status, title=title, text=text)

    def job_or_404(self, request: Request) -> Job:
        job_id = request.path_params["job_id"]
        job = self.s.store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            raise HTTPException(404, "There is no such job. It may have been made elsewhere.")
        return job

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Not found", 405: "Not allowed"}
        title = titles.get(exc.status_code, "Something went wrong")
        detail = exc.detail if exc.status_code == 404 else "That page cannot be used this way."
        return self.message(request, exc.status_code, title, detail)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        return self.message(
            request,
            500,
            "Something went wrong on the server",
            "Try again in a moment (an order already started carries on, and nothing is ever "
            "bought twice). If it keeps happening, ask whoever runs batchprov to check its log.",
        )

    def forbidden(self, request: Request) -> Response:
        return self.message(
            request,
            403,
            "This form has expired",
            "For your safety the form could not be accepted (its security token was missing "
            "or out of date). Go back, reload the page and try again.",
        )

    def review(
        self,
        request: Request,
        job: Job,
        options: OrderOptions,
        *,
        status: int = 200,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        fixed: int = 0,
    ) -> Response:
        """The review page, its order form filled with ``form`` (else ``options``)."""
        return self.page(
            request,
            "review.html",
            status,
            job=job,
            r=job.review,
            blocked=self.blocked(job),
            form=form if form is not None else options.fields(),
            form_errors=errors or {},
            fallback_fields=FALLBACK_FIELDS,
            fallback_choices=FALLBACK_CHOICES,
            fixed=fixed,
        )

    def blocked(self, job: Job) -> str | None:
        """Why this job cannot be ordered, or None."""
        if (job.sandbox, job.api_url) != (self.s.sandbox, self.s.api_url):
            # Never order a file checked under another mode than the one the page now shows.
            return (
                "This file was checked while the server ordered from somewhere else "
                "(sandbox or another API). Upload it again to order it from here."
            )
        if job.to_order == 0 and not job.resumable:
            return "Nothing can be ordered yet: no row is ready. Fix the cells in red first."
        return self.s.ordering_blocked()

    def orderable(self, job: Job) -> bool:
        return job.status == jobs.CHECKED or job.resumable

    def unplannable(self, request: Request, job: Job) -> Response:
        return self.message(
            request,
            409,
            "This file cannot be read any more",
            f"“{job.original_name}” could not be checked again. Upload it again to order it.",
        )
