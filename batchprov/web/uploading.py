"""Routes of the upload: the form, storing and checking an uploaded sheet, the template."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchprov.config import RunConfig
from batchprov.errors import BatchprovError
from batchprov.pipeline import check_file, plan_run
from batchprov.web import jobs, views
from batchprov.web.pages import Pages, download, too_large_page
from batchprov.web.security import (
    ALLOWED_SUFFIXES,
    CSRF_FIELD,
    UploadRejected,
    csrf_ok,
    display_name,
    sniff_upload,
    suffix_of,
)

log = logging.getLogger("batchprov.web")

_CHUNK = 1 << 20


class Uploading(Pages):
    """Upload a sheet: it is stored under a random name, sniffed, checked, then reviewed."""

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
        except HTTPException as exc:  # Starlette's answer to a form past its limits
            if "Too many files" not in str(exc.detail):
                raise
            return self.upload_form(request, 400, "Upload one file at a time.")

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
                return too_large_page(self.t, request, self.s.max_upload)
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
            text = views.scrub(str(exc)).replace(stored.name, shown)
            return self.upload_form(request, 400, text)
        except Exception:
            log.exception("could not check an upload")
            stored.unlink(missing_ok=True)
            text = f"“{shown}” could not be read. Open it in Excel, save it as .xlsx and retry."
            return self.upload_form(request, 400, text)
        plan = await run_in_threadpool(plan_run, checked, config=config, api=self.s.planning_api())
        review = views.review_view(checked, plan)
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
        return download(path, "advertisers_template.xlsx")


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
