"""Routes after an order: the results download, releasing the numbers, the jobs and history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from batchprov.errors import BatchprovError
from batchprov.web import releases, views
from batchprov.web.pages import Pages, download
from batchprov.web.security import CSRF_FIELD, csrf_ok, download_name


class Results(Pages):
    """What a finished job offers, and the list of every job and run."""

    async def job_list(self, request: Request) -> Response:
        runs = await run_in_threadpool(releases.history, self.s.journals())
        every = self.s.store.all()
        names = {job.id: job.original_name for job in every}
        history = [replace(run, input_name=_shown_name(run.input_name, names)) for run in runs]
        return self.page(request, "jobs.html", jobs=every, history=history)

    async def download_result(self, request: Request) -> Response:
        job = self.job_or_404(request)
        if job.output_path is None or not job.output_path.exists():
            raise HTTPException(404, "The results of this job are not ready.")
        return download(job.output_path, download_name(job.original_name, ".results.xlsx"))

    async def release_page(self, request: Request) -> Response:
        """The numbers a release would give back, and the question."""
        job = self.job_or_404(request)
        if not releases.can_release(job):
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        try:
            plan = await run_in_threadpool(releases.release_view, job)
        except BatchprovError as exc:
            return self.message(request, 409, "Cannot release", views.scrub(str(exc), job))
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
            return self.message(request, 409, "Cannot release", views.scrub(str(exc), job))
        result = {**job.result, **views.result_view(report, job)}
        output = report.output_path or job.output_path
        self.s.store.update(job.id, counts=report.counts(), result=result, output_path=output)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")


def _shown_name(name: str | None, originals: Mapping[str, str]) -> str | None:
    """A run's input as its job's user knows it: a workbook this server keeps under the job's
    id (``<id>.results.xlsx``, released from the page) is named after the uploaded file."""
    job_id, dot, rest = (name or "").partition(".")
    if not dot or job_id not in originals:
        return name
    return download_name(originals[job_id], f".{rest}")
