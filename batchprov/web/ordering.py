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
from batchprov.web.checks import FIRST_WAIT, ORDER_WITHIN, Check, Confirmed, same_plan
from batchprov.web.jobs import Job
from batchprov.web.orderform import FALLBACK_CHOICES, OrderOptions, cap_problem
from batchprov.web.pages import Pages
from batchprov.web.security import CSRF_FIELD, csrf_ok

log = logging.getLogger("batchprov.web")

#: What `Ordering._order` says when the plan it would order is not the one confirmed: the
#: plan changed, or the confirmation is too old (or forgotten by a restart) to tell.
_CHANGED, _EXPIRED = "changed", "expired"
#: What the confirm page says above a plan checked again after a refused "Yes, order".
NOTICES = {
    _CHANGED: "The account was checked again and the plan changed: please confirm again.",
    _EXPIRED: (
        "That confirmation had expired (it was more than 15 minutes old, or the server was "
        "restarted since), so the account was checked again: please look at the plan and "
        "confirm again."
    ),
}


class Ordering(Pages):
    """Confirm, order, stop: the plan shown is the one the order keeps to."""

    async def confirm_page(self, request: Request) -> Response:
        """The plan of the order about to be placed, with the account listed (as the command
        line plans it), and one button; "Checking the account…" while it is being listed."""
        job = self.job_or_404(request)
        if not self.orderable(job) or self.blocked(job):
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        given = {k: v for k, v in request.query_params.items() if k not in ("check", "notice")}
        given = given or OrderOptions.from_json(job.options).fields()
        options, errors = OrderOptions.parse(given)
        if errors:
            if job.status != jobs.CHECKED:
                return self.message(request, 400, "Check the order form", " ".join(errors.values()))
            return self.review(request, job, options, status=400, form=given, errors=errors)
        notice = request.query_params.get("notice", "")
        notice = notice if notice in NOTICES else ""
        check = self.s.checks.for_page(job, options, request.query_params.get("check", ""))
        check = await run_in_threadpool(self.s.checks.wait, check, FIRST_WAIT)
        if not check.done:
            keep = {"check": check.id, **({"notice": notice} if notice else {})}
            again = f"/jobs/{job.id}/confirm?{urlencode({**options.fields(), **keep})}"
            return self.page(request, "checking.html", 202, job=job, again=again)
        if check.unreadable:
            return self.unplannable(request, job)
        if check.problem is not None or check.plan is None:
            retry = f"/jobs/{job.id}/confirm?{urlencode(options.fields())}"
            return self.page(
                request, "unchecked.html", 503, job=job, text=check.problem, retry=retry
            )
        return self.confirmation(request, job, check.plan, options, check.id, NOTICES.get(notice))

    def confirmation(
        self,
        request: Request,
        job: Job,
        plan: Plan,
        options: OrderOptions,
        check_id: str,
        notice: str | None = None,
    ) -> Response:
        """The confirm page of an account-checked plan (``notice``: why it is shown again)."""
        return self.page(
            request,
            "confirm.html",
            job=job,
            plan=plan,
            options=options,
            hidden={**options.fields(), "check": check_id},
            over_cap=cap_problem(plan),
            fallback_choices=dict(FALLBACK_CHOICES),
            notice=notice,
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
        if refused in NOTICES:
            # The plan changed since the user saw it, or it is too old to tell: show them a
            # new one, checked against the account again, and say why.
            return RedirectResponse(f"{again}&{urlencode({'notice': refused})}", status_code=303)
        if refused:
            return self.message(request, 409, "Over your cap", refused)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def _order(
        self, job: Job, options: OrderOptions, check: Check | None, count: str | None
    ) -> str | None:
        """Queue the job for the plan of ``check``, counting ``count``, when it is still the
        plan of its file as it is now, with these options (`_still_holds`), and within its
        caps; else why not (`_CHANGED`, `_EXPIRED`, or the cap it breaks). Fixes wait
        meanwhile: the file is the plan's."""
        with self.s.fixing:
            current = self.s.store.get(job.id) or job  # as the last fix left it
            if not self.orderable(current):  # a confirm from another view came first
                return None
            plan, refused = self._still_holds(current, options, check, count)
            if plan is None:
                return refused
            over = cap_problem(plan)
            if over:
                return over
            confirmed = Confirmed.of(plan).as_json()
            self.s.store.update(job.id, options=options.as_json(), confirmed=confirmed)
            self.s.runner.submit(current)  # False on a double click: it is already on its way
            return None

    def _still_holds(
        self, job: Job, options: OrderOptions, check: Check | None, count: str | None
    ) -> tuple[Plan | None, str]:
        """The plan to order when the one confirmed (``check``'s, counting ``count``) still
        holds: that check if it is of the job as it is now, with these options and recent;
        else the job's newest check if it is, and plans exactly the same (another view of the
        confirm page checked the account since). Else None and why not."""
        if check is None or check.plan is None:
            return None, _EXPIRED
        if count != str(check.plan.to_order):
            return None, _CHANGED
        if check.fits(job, options, within=ORDER_WITHIN):
            return check.plan, ""
        newest = self.s.checks.newest_done(job.id)
        if (
            newest is None
            or newest.plan is None
            or not newest.fits(job, options, within=ORDER_WITHIN)
        ):
            expired = (check.version, check.options) == (job.version, options)
            return None, _EXPIRED if expired else _CHANGED
        if same_plan(newest.plan, check.plan):
            return newest.plan, ""
        return None, _CHANGED

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
