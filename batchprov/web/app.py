"""`batchprov serve`: upload a sheet, review it, order its numbers, download the results.

Server-rendered pages (Starlette + Jinja2) over `batchprov.pipeline`; the ordering itself runs
in `jobs.JobRunner`. Every defence lives in `security.py`; every page escapes what it shows.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from batchprov._version import __version__
from batchprov.config import DEFAULT_API_URL, Api, Environment, RunConfig
from batchprov.errors import BatchprovError
from batchprov.pipeline import check_file, plan_run, validate_file
from batchprov.plan import Plan
from batchprov.redact import Redactor, ScrubbingFilter
from batchprov.sandbox import SandboxConfig
from batchprov.web import jobs, releases
from batchprov.web.edits import apply_edits, edits_from_form
from batchprov.web.jobs import Job, JobRunner, JobStore
from batchprov.web.orderform import FALLBACK_CHOICES, FALLBACK_FIELDS, OrderOptions, cap_problem
from batchprov.web.security import (
    ALLOWED_SUFFIXES,
    CSRF_FIELD,
    FORM_OVERHEAD,
    Credentials,
    SecurityMiddleware,
    UploadRejected,
    csrf_ok,
    csrf_token,
    display_name,
    download_name,
    sniff_upload,
    suffix_of,
)

log = logging.getLogger("batchprov.web")

HERE = Path(__file__).parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MEDIA = {
    ".xlsx": XLSX,
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
}
#: What `Pages._order` says when the plan it would order is not the one confirmed.
_REPLAN = "replan"
#: A fix form holds one field per cell with a problem on the page.
_FIX_FIELDS = 20_000
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_CHUNK = 1 << 20


class Settings:
    """The server's configuration and its shared objects (kept on `app.state.web`)."""

    def __init__(
        self,
        *,
        data_dir: Path,
        sandbox: bool,
        api_url: str | None,
        max_upload: int,
        sandbox_config: SandboxConfig | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.sandbox = sandbox
        self.api_url = api_url
        self.max_upload = max_upload
        self.env = Environment.read()
        self.uploads = data_dir / "uploads"
        self.results = data_dir / "results"
        for folder in (self.uploads, self.results, data_dir / "sandbox-journals"):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(data_dir / "jobs.sqlite")
        self.runner = JobRunner(self.store, self.results, sandbox_config)
        self.fixing = threading.Lock()  # one fix at a time: each rewrites a stored upload

    def journal_for(self, job_id: str) -> Path:
        """The default journal, shared with the command line, for every real-API job (never
        buy twice across jobs or tools).

        A sandbox forgets its numbers when it stops, so each sandbox job keeps its own.
        """
        if self.sandbox:
            return self.data_dir / "sandbox-journals" / f"{job_id}.sqlite"
        return self.env.default_journal()

    def journals(self) -> list[Path]:
        """The journals whose runs the jobs page lists: the shared one, or each sandbox job's."""
        if not self.sandbox:
            return [self.env.default_journal()]
        return sorted(self.data_dir.glob("sandbox-journals/*[0-9a-f].sqlite"))

    def planning_api(self) -> Api:
        """Where the plan says the orders go (nothing is sent while planning)."""
        url = self.api_url or DEFAULT_API_URL
        return Api(url=url, token="", sandbox=self.sandbox)

    def ordering_blocked(self) -> str | None:
        """Why this server cannot order from a real API, or None when it can."""
        if self.sandbox:
            return None
        if not self.api_url:
            return (
                "Ordering is switched off on this server: it was started without an API address. "
                "Ask whoever runs it to restart it with --api-url (or TELMETRICS_API_URL), "
                "or with --sandbox to try things out."
            )
        if not self.env.token:
            return (
                "Ordering is switched off on this server: it has no API token. Ask whoever runs "
                "it to set TELMETRICS_TOKEN and restart it."
            )
        return None


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
    templates = _templates(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.runner.start()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(settings.runner.close)

    async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = _too_large_page(templates, Request(scope, receive), settings.max_upload)
        await response(scope, receive, send)

    async def unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(
            "Please sign in to use batchprov.",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="batchprov", charset="UTF-8"'},
        )
        await response(scope, receive, send)

    security = Middleware(
        SecurityMiddleware,
        credentials=Credentials.parse(auth) if auth else None,
        max_body=max_upload + FORM_OVERHEAD,
        too_large=too_large,
        unauthorized=unauthorized,
        hosts=hosts,
    )
    pages = Pages(settings, templates)
    app = Starlette(
        routes=pages.routes(),
        middleware=[security],
        lifespan=lifespan,
        exception_handlers={HTTPException: pages.http_error, 500: pages.server_error},
    )
    app.state.web = settings
    return app


def _scrub_logs(api_url: str | None) -> None:
    """Keep the token and URL credentials out of the web log (messages and tracebacks)."""
    for old in [f for f in log.filters if isinstance(f, ScrubbingFilter)]:
        log.removeFilter(old)
    log.addFilter(ScrubbingFilter(Redactor.of(Environment.read().token, api_url)))


def _templates(settings: Settings) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every cell value is shown as text, never as markup
        undefined=jinja2.StrictUndefined,
    )
    env.filters["status_class"] = status_class
    env.filters["public_url"] = jobs.public_url
    env.filters["size"] = size_text
    env.filters["when"] = when_text
    env.filters["estimate"] = jobs.estimate_text

    def common(request: Request) -> dict[str, Any]:
        return {
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request),
            "server_mode": _mode(settings),
            "server_api": jobs.public_url(settings.api_url),
            "version": __version__,
        }

    return Jinja2Templates(env=env, context_processors=[common])


def _mode(settings: Settings) -> str:
    """The banner on every page: `sandbox`, `live` or `off` (checking only)."""
    if settings.sandbox:
        return "sandbox"
    return "off" if settings.ordering_blocked() else "live"


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


class Pages:
    """The route handlers."""

    def __init__(self, settings: Settings, templates: Jinja2Templates) -> None:
        self.s = settings
        self.t = templates

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

    # --- helpers -----------------------------------------------------------------------------

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

    # --- upload ------------------------------------------------------------------------------

    async def upload_page(self, request: Request) -> Response:
        return self.upload_form(request)

    def upload_form(self, request: Request, status: int = 200, error: str = "") -> Response:
        return self.page(
            request,
            "upload.html",
            status,
            error=error,
            accept=",".join(ALLOWED_SUFFIXES),
            max_upload=self.s.max_upload,
            recent=self.s.store.all(limit=5),
        )

    async def upload(self, request: Request) -> Response:
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                if not csrf_ok(request, form.get(CSRF_FIELD)):
                    return self.forbidden(request)
                return await self._accept(request, form)
        except MultiPartException:
            return self.upload_form(request, 400, "The upload was incomplete; please try again.")

    async def _accept(self, request: Request, form: FormData) -> Response:
        """Store, sniff and check an uploaded file, then show its review."""
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self.upload_form(request, 400, "Choose a spreadsheet to upload first.")
        shown = display_name(upload.filename)
        group_id, group_error = _group_id(form.get("group_id"))
        if group_error:
            return self.upload_form(request, 400, group_error)
        job_id = jobs.new_id()
        part = self.s.uploads / f"{job_id}.part"
        try:
            if not await _save(upload, part, self.s.max_upload):
                return _too_large_page(self.t, request, self.s.max_upload)
            kind = sniff_upload(part, suffix_of(shown), shown)
            stored = part.rename(self.s.uploads / f"{job_id}.{kind}")
        except UploadRejected as exc:
            return self.upload_form(request, 400, str(exc))
        finally:
            part.unlink(missing_ok=True)
        return await self._check(request, job_id, shown, stored, group_id)

    async def _check(
        self, request: Request, job_id: str, shown: str, stored: Path, group_id: int | None
    ) -> Response:
        try:
            config = RunConfig(group_id=group_id, input_name=shown)
            checked = await run_in_threadpool(check_file, stored, config=config)
        except BatchprovError as exc:
            stored.unlink(missing_ok=True)
            text = jobs.scrub(str(exc)).replace(stored.name, shown)
            return self.upload_form(request, 400, text)
        except Exception:
            log.exception("could not check an upload")
            stored.unlink(missing_ok=True)
            text = f"“{shown}” could not be read. Open it in Excel, save it as .xlsx and retry."
            return self.upload_form(request, 400, text)
        plan = await run_in_threadpool(plan_run, checked, config=config, api=self.s.planning_api())
        review = jobs.review_view(checked, plan)
        job = jobs.new_job(
            job_id=job_id,
            original_name=shown,
            input_path=stored,
            group_id=group_id,
            sandbox=self.s.sandbox,
            api_url=self.s.api_url,
            journal_path=self.s.journal_for(job_id),
            review=review,
        )
        self.s.store.add(job)
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    async def template(self, request: Request) -> Response:
        from batchprov.write.template import write_template

        path = self.s.data_dir / "advertisers_template.xlsx"
        if not path.exists():
            await run_in_threadpool(write_template, path)
        return _download(path, "advertisers_template.xlsx")

    # --- jobs --------------------------------------------------------------------------------

    async def job_list(self, request: Request) -> Response:
        history = await run_in_threadpool(releases.history, self.s.journals())
        return self.page(request, "jobs.html", jobs=self.s.store.all(), history=history)

    async def job_page(self, request: Request) -> Response:
        job = self.job_or_404(request)
        if job.status == jobs.CHECKED:
            fixed = request.query_params.get("fixed", "")
            return self.review(
                request,
                job,
                OrderOptions.from_json(job.options),
                fixed=int(fixed) if fixed.isdigit() and len(fixed) < 7 else 0,
            )
        if job.status in jobs.ACTIVE:
            live = self.s.runner.progress(job)
            return self.page(request, "progress.html", job=job, live=live)
        blocked = self.blocked(job) if job.resumable else None
        releasable = releases.can_release(job) and self.s.ordering_blocked() is None
        return self.page(
            request, "result.html", job=job, r=job.result, blocked=blocked, releasable=releasable
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

    async def confirm_page(self, request: Request) -> Response:
        """The plan of the order about to be placed (`pipeline.plan_run`), and one button."""
        job = self.job_or_404(request)
        if not self.orderable(job) or self.blocked(job):
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        given = dict(request.query_params) or OrderOptions.from_json(job.options).fields()
        options, errors = OrderOptions.parse(given)
        if errors:
            if job.status != jobs.CHECKED:
                return self.message(request, 400, "Check the order form", " ".join(errors.values()))
            return self.review(request, job, options, status=400, form=given, errors=errors)
        plan = await self.plan_of(job, options)
        if plan is None:
            return self.unplannable(request, job)
        return self.page(
            request,
            "confirm.html",
            job=job,
            plan=plan,
            options=options,
            hidden=options.fields(),
            over_cap=cap_problem(plan),
            fallback_choices=dict(FALLBACK_CHOICES),
        )

    async def plan_of(self, job: Job, options: OrderOptions) -> Plan | None:
        """The job's plan with these options (None when its file cannot be read any more)."""
        try:
            return await run_in_threadpool(jobs.job_plan, job, options)
        except BatchprovError as exc:
            log.warning("job %s: cannot plan: %s", job.id, jobs.scrub(str(exc), job))
            return None

    def unplannable(self, request: Request, job: Job) -> Response:
        return self.message(
            request,
            409,
            "This file cannot be read any more",
            f"“{job.original_name}” could not be checked again. Upload it again to order it.",
        )

    async def order(self, request: Request) -> Response:
        """Queue the order the confirm page showed; anything else goes back to that page."""
        job = self.job_or_404(request)
        async with request.form(max_files=0, max_fields=20) as form:
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return self.forbidden(request)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        blocked = self.blocked(job) if self.orderable(job) else None
        if blocked:
            return self.message(request, 409, "Cannot order", blocked)
        if not self.orderable(job):  # a double click: the job is already on its way
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        options, errors = OrderOptions.parse(fields)
        again = f"/jobs/{job.id}/confirm?{urlencode(options.fields())}"
        if errors or fields.get("confirm") != "yes":
            return RedirectResponse(again, status_code=303)
        try:
            refused = await run_in_threadpool(self._order, job, options, fields.get("count"))
        except BatchprovError as exc:
            log.warning("job %s: cannot plan: %s", job.id, jobs.scrub(str(exc), job))
            return self.unplannable(request, job)
        if refused == _REPLAN:
            # The sheet changed since the user saw the plan: show them the new one.
            return RedirectResponse(again, status_code=303)
        if refused:
            return self.message(request, 409, "Over your cap", refused)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def _order(self, job: Job, options: OrderOptions, count: str | None) -> str | None:
        """Queue the job when its plan still counts ``count`` and keeps to its caps; else why
        not (`_REPLAN`, or the cap it breaks). Fixes wait meanwhile: the file is the plan's."""
        with self.s.fixing:
            current = self.s.store.get(job.id) or job  # as the last fix left it
            plan = jobs.job_plan(current, options)
            if count != str(plan.to_order):
                return _REPLAN
            over = cap_problem(plan)
            if over:
                return over
            self.s.store.update(job.id, options=options.as_json())
            self.s.runner.submit(current)  # False on a double click: it is already on its way
            return None

    async def fix(self, request: Request) -> Response:
        """Apply the cells changed on the review page to the stored file, and check it again."""
        job = self.job_or_404(request)
        try:
            async with request.form(max_files=0, max_fields=_FIX_FIELDS) as form:
                if not csrf_ok(request, form.get(CSRF_FIELD)):
                    return self.forbidden(request)
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
        except MultiPartException:
            return self.message(request, 400, "Too many changes", "Fix fewer cells at a time.")
        changed = None
        if job.status == jobs.CHECKED:
            try:
                changed = await run_in_threadpool(self._fix, job, fields)
            except BatchprovError as exc:
                text = jobs.scrub(str(exc), job)
                return self.message(request, 400, "The changes could not be checked", text)
        if changed is None:
            return self.message(
                request,
                409,
                "This file is already being ordered",
                "Cells can be fixed before the order only. Download the results workbook, fix it "
                "and upload it again: numbers already bought are never bought twice.",
            )
        target = f"/jobs/{job.id}?fixed={changed}#rows" if changed else f"/jobs/{job.id}#rows"
        return RedirectResponse(target, status_code=303)

    def _fix(self, job: Job, fields: dict[str, str]) -> int | None:
        """Edit, re-check and re-plan the job's file (one fix at a time, never while an order
        is being queued); the cells changed, None when the order has started."""
        with self.s.fixing:
            current = self.s.store.get(job.id) or job
            if current.status != jobs.CHECKED:
                return None  # the order started meanwhile
            config = jobs.job_config(current)
            table = check_file(current.input_path, config=config).table
            edits = edits_from_form(fields, table)
            if not edits:
                return 0
            stored = apply_edits(current.input_path, table, edits)
            checked = check_file(stored, config=config)
            plan = plan_run(checked, config=config, api=self.s.planning_api())
            review = jobs.review_view(checked, plan)
            if current.check_path is not None:
                current.check_path.unlink(missing_ok=True)
            self.s.store.update(
                job.id,
                input_path=stored,
                review=review,
                counts=dict(review.get("counts", {})),
                check_path=None,
                edits=current.edits + len(edits),
            )
            return len(edits)

    async def stop(self, request: Request) -> Response:
        job = self.job_or_404(request)
        async with request.form(max_files=0, max_fields=10) as form:
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return self.forbidden(request)
        self.s.runner.stop(job.id)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def release_page(self, request: Request) -> Response:
        """The numbers a release would give back, and the question."""
        job = self.job_or_404(request)
        if not releases.can_release(job):
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        try:
            plan = await run_in_threadpool(releases.release_view, job)
        except BatchprovError as exc:
            return self.message(request, 409, "Cannot release", jobs.scrub(str(exc), job))
        return self.page(request, "release.html", job=job, plan=plan)

    async def release(self, request: Request) -> Response:
        job = self.job_or_404(request)
        async with request.form(max_files=0, max_fields=10) as form:
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return self.forbidden(request)
            confirmed = form.get("confirm") == "yes"
        blocked = self.s.ordering_blocked()
        if blocked or not releases.can_release(job):
            text = blocked or "This job has no numbers to release."
            return self.message(request, 409, "Cannot release", text)
        if not confirmed:
            return RedirectResponse(f"/jobs/{job.id}/release", status_code=303)
        try:
            report = await run_in_threadpool(releases.release_job, job, self.s.results)
        except BatchprovError as exc:
            return self.message(request, 409, "Cannot release", jobs.scrub(str(exc), job))
        result = {**job.result, **jobs.result_view(report, job)}
        output = report.output_path or job.output_path
        self.s.store.update(job.id, counts=report.counts(), result=result, output_path=output)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def progress(self, request: Request) -> Response:
        job = self.job_or_404(request)
        data = self.s.runner.progress(job)
        data.update(status=job.status, finished=job.status not in jobs.ACTIVE)
        return JSONResponse(data, headers={"cache-control": "no-store"})

    async def download_check(self, request: Request) -> Response:
        job = self.job_or_404(request)
        path = job.check_path
        if path is None or not path.exists():
            path = self.s.results / f"{job.id}.checked.xlsx"
            await run_in_threadpool(
                validate_file, job.input_path, path, config=jobs.job_config(job)
            )
            self.s.store.update(job.id, check_path=path)
        return _download(path, download_name(job.original_name, ".checked.xlsx"))

    async def download_corrected(self, request: Request) -> Response:
        """The user's own file with the cells fixed on the page (same format, nothing added)."""
        job = self.job_or_404(request)
        if job.edits == 0 or not job.input_path.exists():
            raise HTTPException(404, "No cell of this file has been fixed on the page.")
        suffix = job.input_path.suffix.lower()
        return _download(
            job.input_path, download_name(job.original_name, f".corrected{suffix}"), suffix
        )

    async def download_result(self, request: Request) -> Response:
        job = self.job_or_404(request)
        if job.output_path is None or not job.output_path.exists():
            raise HTTPException(404, "The results of this job are not ready.")
        return _download(job.output_path, download_name(job.original_name, ".results.xlsx"))

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")


async def _save(upload: UploadFile, target: Path, limit: int) -> bool:
    """Copy an upload to `target`; False (and nothing kept) when it exceeds `limit` bytes."""
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                return False
            out.write(chunk)
    return True


def _group_id(raw: object) -> tuple[int | None, str]:
    """The optional default group id of the upload form."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None, ""
    if text.isdigit() and int(text) > 0:
        return int(text), ""
    return None, "The default group id must be a whole number above 0, such as 11623282."


def _download(path: Path, filename: str, suffix: str = ".xlsx") -> Response:
    return FileResponse(
        path,
        media_type=_MEDIA.get(suffix, "application/octet-stream"),
        filename=filename,
        content_disposition_type="attachment",
        headers={"cache-control": "no-store"},
    )


def _too_large_page(templates: Jinja2Templates, request: Request, limit: int) -> Response:
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
