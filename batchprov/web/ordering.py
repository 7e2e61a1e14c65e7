"""Routes of the order: the confirmation, queueing the order, stopping it, its progress.

The confirmation shows the account-checked plan of `checks.AccountChecks`; the order button
queues exactly that plan (`checks.Confirmed`), which the run is then held to.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from batchprov.plan import Plan
from batchprov.web import jobs
from batchprov.web.checks import FIRST_WAIT, ORDER_WITHIN, Check, Confirmed
from batchprov.web.jobs import Job
from batchprov.web.orderform import FALLBACK_CHOICES, OrderOptions, cap_problem
from batchprov.web.pages import Pages
from batchprov.web.security import CSRF_FIELD, csrf_ok

log = logging.getLogger("batchprov.web")

#: What `Ordering._order` says when the plan it would order is not the one confirmed.
_REPLAN = "replan"


class Ordering(Pages):
    """Confirm, order, stop: the plan shown is the one the order keeps to."""

    async def confirm_page(self, request: Request) -> Response:
        """The plan of the order about to be placed, with the account listed (as the command
        line plans it), and one button; "Checking the account…" while it is being listed."""
        job = self.job_or_404(request)
        if not self.orderable(job) or self.blocked(job):
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        given = {k: v for k, v in request.query_params.items() if k != "check"}
        given = given or OrderOptions.from_json(job.options).fields()
        options, errors = OrderOptions.parse(given)
        if errors:
            if job.status != jobs.CHECKED:
                return self.message(request, 400, "Check the order form", " ".join(errors.values()))
            return self.review(request, job, options, status=400, form=given, errors=errors)
        check = self.s.checks.for_page(job, options, request.query_params.get("check", ""))
        check = await run_in_threadpool(self.s.checks.wait, check, FIRST_WAIT)
        if not check.done:
            again = f"/jobs/{job.id}/confirm?{urlencode({**options.fields(), 'check': check.id})}"
            return self.page(request, "checking.html", 202, job=job, again=again)
        if check.unreadable:
            return self.unplannable(request, job)
        if check.problem is not None or check.plan is None:
            retry = f"/jobs/{job.id}/confirm?{urlencode(options.fields())}"
            return self.page(
                request, "unchecked.html", 503, job=job, text=check.problem, retry=retry
            )
        return self.confirmation(request, job, check.plan, options, check.id)

    def confirmation(
        self, request: Request, job: Job, plan: Plan, options: OrderOptions, check_id: str
    ) -> Response:
        """The confirm page of an account-checked plan."""
        return self.page(
            request,
            "confirm.html",
            job=job,
            plan=plan,
            options=options,
            hidden={**options.fields(), "check": check_id},
            over_cap=cap_problem(plan),
            fallback_choices=dict(FALLBACK_CHOICES),
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
        check = self.s.checks.get(job.id, fields.get("check"))
        refused = await run_in_threadpool(self._order, job, options, check, fields.get("count"))
        if refused == _REPLAN:
            # The sheet, the options or the time changed since the user saw the plan: show
            # them a new one, checked against the account again.
            return RedirectResponse(again, status_code=303)
        if refused:
            return self.message(request, 409, "Over your cap", refused)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def _order(
        self, job: Job, options: OrderOptions, check: Check | None, count: str | None
    ) -> str | None:
        """Queue the job when ``check`` is the plan of its file as it is now, with these
        options, recent, counting ``count`` and within its caps; else why not (`_REPLAN`, or
        the cap it breaks). Fixes wait meanwhile: the file is the plan's."""
        with self.s.fixing:
            current = self.s.store.get(job.id) or job  # as the last fix left it
            plan = check.plan if check is not None else None
            if (
                check is None
                or plan is None
                or not check.fits(current, options, within=ORDER_WITHIN)
            ):
                return _REPLAN
            if count != str(plan.to_order):
                return _REPLAN
            over = cap_problem(plan)
            if over:
                return over
            confirmed = Confirmed.of(plan).as_json()
            self.s.store.update(job.id, options=options.as_json(), confirmed=confirmed)
            self.s.runner.submit(current)  # False on a double click: it is already on its way
            return None

    async def stop(self, request: Request) -> Response:
        job = self.job_or_404(request)
        async with request.form(max_files=0, max_fields=10) as form:
            if not csrf_ok(request, form.get(CSRF_FIELD)):
                return self.forbidden(request)
        self.s.runner.stop(job.id)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    async def progress(self, request: Request) -> Response:
        job = self.job_or_404(request)
        data = self.s.runner.progress(job)
        data.update(status=job.status, finished=job.status not in jobs.ACTIVE)
        return JSONResponse(data, headers={"cache-control": "no-store"})
