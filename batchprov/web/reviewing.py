"""Routes of the review: a job's page, fixing cells in place, the checked and corrected files."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchprov.errors import BatchprovError
from batchprov.pipeline import check_file, plan_run, validate_file
from batchprov.web import jobs, releases, views
from batchprov.web.edits import apply_edits, edits_from_form
from batchprov.web.jobs import Job
from batchprov.web.orderform import OrderOptions
from batchprov.web.pages import Pages, download
from batchprov.web.security import CSRF_FIELD, csrf_ok, download_name

#: A fix form holds one field per cell with a problem on the page.
_FIX_FIELDS = 20_000


class Reviewing(Pages):
    """A job's page (review, progress or results) and the fixes made on the review."""

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
                text = views.scrub(str(exc), job)
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
            review = views.review_view(checked, plan)
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

    async def download_check(self, request: Request) -> Response:
        job = self.job_or_404(request)
        path = job.check_path
        if path is None or not path.exists():
            path = self.s.results / f"{job.id}.checked.xlsx"
            await run_in_threadpool(
                validate_file, job.input_path, path, config=jobs.job_config(job)
            )
            self.s.store.update(job.id, check_path=path)
        return download(path, download_name(job.original_name, ".checked.xlsx"))

    async def download_corrected(self, request: Request) -> Response:
        """The user's own file with the cells fixed on the page (same format, nothing added)."""
        job = self.job_or_404(request)
        if job.edits == 0 or not job.input_path.exists():
            raise HTTPException(404, "No cell of this file has been fixed on the page.")
        suffix = job.input_path.suffix.lower()
        return download(
            job.input_path, download_name(job.original_name, f".corrected{suffix}"), suffix
        )
