"""`release`: give numbers back to the account (``DELETE /numbers/{id}``), exactly once.

The numbers are those a results workbook shows as bought (or those a journal run bought,
``run_id``). Only numbers this journal bought are released unless ``include_foreign``. The
plan (count, names, numbers) is shown and must be confirmed; then each release is journaled
like a purchase (`change.apply`), and the workbook is written again with those rows `released`.

Releasing is final: the number leaves the account, calls to it stop ringing through, and it
may not be bought back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from batchprov._version import __version__
from batchprov.change.apply import ChangeOutcome, ChangeTask, apply_changes
from batchprov.clock import now_iso
from batchprov.config import DEFAULT_API_URL, Api, Environment
from batchprov.errors import ConfigError, ConfirmationRefused, OptionError, translated
from batchprov.models import OWNED, RowResult, Status
from batchprov.order.changes import ChangeState
from batchprov.order.journal import Journal
from batchprov.order.runlog import RunMeta
from batchprov.pipeline import Checked, check_file
from batchprov.report import Report, RunInfo
from batchprov.urls import normalise_url
from batchprov.wording import MATCH_TYPE_WORDS, SANDBOX_MARK
from batchprov.write.output import check_room, write_output

__all__ = ["ReleasePlan", "default_release_output", "plan_release", "release_numbers"]

#: Lines of the plan the terminal shows.
SHOWN = 20


@dataclass(frozen=True, slots=True)
class Candidate:
    """A number a workbook row (or a journal run) shows as bought."""

    index: int
    number_id: str
    phone: str
    name: str
    group_id: int | None
    ours: bool
    released: bool  # released already (by this journal)
    item_key: str | None = None
    #: Why the row's number id is not the number the row shows (an edited or moved cell):
    #: the journal bought that id as another number. Such a row is never released.
    mismatch: str | None = None


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """What a release is about to do, shown before anything is sent."""

    api_url: str
    to_release: tuple[Candidate, ...]
    foreign: int  # bought elsewhere: left alone without --include-foreign
    already: int  # released before
    #: Rows whose number id the journal bought as another number: left alone, on review.
    mismatched: tuple[Candidate, ...] = ()

    def describe(self) -> str:
        """The plan for the terminal: count, then name and number of each."""
        count = len(self.to_release)
        lines = [f"About to release {count} number(s) from {self.api_url}"]
        for c in self.to_release[:SHOWN]:
            lines.append(f"  {c.phone:<12} {c.name}  (group {c.group_id or '?'}, id {c.number_id})")
        if count > SHOWN:
            lines.append(f"  … and {count - SHOWN} more")
        if self.already:
            lines.append(f"  {self.already} number(s) were released before and are skipped")
        for c in self.mismatched[:SHOWN]:
            lines.append(f"  not released: {c.name} (id {c.number_id}): {c.mismatch}")
        if len(self.mismatched) > SHOWN:
            lines.append(f"  … and {len(self.mismatched) - SHOWN} more not released")
        if self.foreign:
            lines.append(
                f"  {self.foreign} number(s) were not bought through this journal and are left "
                "alone (--include-foreign releases them too)"
            )
        if count:
            lines.append(
                "Released numbers leave the account: calls to them stop, and they may not be "
                "bought back."
            )
        return "\n".join(lines)


ConfirmFn = Callable[[ReleasePlan], bool]


def default_release_output(results: Path) -> Path:
    """``<stem>.released.xlsx`` beside the workbook (``x.results.xlsx`` → ``x.released.xlsx``)."""
    stem = results.stem.removesuffix(".results")
    return results.with_name(
        f"{stem}.released{results.suffix if results.suffix == '.csv' else '.xlsx'}"
    )


def plan_release(
    results: str | Path | None,
    *,
    run_id: str | None = None,
    include_foreign: bool = False,
    journal: str | Path | None = None,
    api: Api | None = None,
) -> ReleasePlan:
    """What `release_numbers` would release, without sending anything (the web page's view)."""
    env = Environment.read()
    path = Path(journal) if journal else env.default_journal()
    with translated(journal=path):
        checked = _checked(results, run_id)
        with Journal.open(path) as jr:
            return _plan(jr, api, checked, run_id, env, include_foreign=include_foreign)[0]


def release_numbers(
    results: str | Path | None,
    output: str | Path | None = None,
    *,
    run_id: str | None = None,
    include_foreign: bool = False,
    journal: str | Path | None = None,
    api: Api | None = None,
    confirm: ConfirmFn | None = None,
    on_plan: Callable[[ReleasePlan], None] | None = None,
    stop: threading.Event | None = None,
    timeout: float = 30.0,
) -> Report:
    """Release the numbers of ``results`` (and/or of journal run ``run_id``) after confirming.

    ``api`` defaults to the API the journal bought them from (token from the environment).
    Nothing is sent unless ``confirm(plan)`` returns True (`ConfirmationRefused` otherwise).
    """
    env = Environment.read()
    path = Path(journal) if journal else env.default_journal()
    with translated(journal=path):
        started = now_iso()
        checked = _checked(results, run_id)
        out = _output(results, output)
        if checked is not None and out is not None:
            check_room(checked.table, out)  # refused before anything is released
        with Journal.open(path) as jr:
            plan, candidates = _plan(jr, api, checked, run_id, env, include_foreign=include_foreign)
            if on_plan is not None:
                on_plan(plan)
            outcomes: list[ChangeOutcome] = []
            stopped = None
            release_run = ""
            if plan.to_release:
                target = api or _api_for(plan.api_url, env)  # no token: stop before asking
                if not (confirm and confirm(plan)):
                    raise ConfirmationRefused("Nothing was released: it was not confirmed.")
                meta = RunMeta(
                    kind="release",
                    os_user=env.os_user,
                    input_name=checked.input_name if checked else f"run {run_id}",
                    input_sha256=checked.sha256 if checked else None,
                    api_url=plan.api_url,
                )
                release_run = jr.start_run(__version__, meta)
                tasks = [_task(c) for c in plan.to_release]
                outcomes, stopped = apply_changes(
                    tasks,
                    api=target,
                    journal=jr,
                    run_id=release_run,
                    timeout=timeout,
                    stop=stop,
                    key_url=plan.api_url,
                )
                counts = {
                    "released": sum(o.done for o in outcomes),
                    "failed": sum(not o.done for o in outcomes),
                }
                jr.end_run(release_run, stopped or "finished", counts=counts)
        info = RunInfo(
            mode="release",
            input_name=checked.input_name if checked else f"run {run_id}",
            input_sha256=checked.sha256 if checked else "",
            api_url=plan.api_url,
            sandbox=api is not None and api.sandbox,
            started_at=started,
            ended_at=now_iso(),
            tool_version=__version__,
            stopped_reason=stopped,
        )
        rows = _results(checked, candidates, outcomes, plan.to_release)
        written = None
        if (
            checked is not None
            and out is not None
            and (plan.to_release or plan.already or plan.mismatched)
        ):
            # A run's Expected Area column is kept when the workbook has it.
            extra = [h for h in ("Expected Area",) if h in checked.columns.results]
            write_output(checked.table, rows, checked.issues, info, out, extra_columns=extra)
            written = out
        elif checked is None and out is not None and release_run:
            # No workbook to mark (--run alone): the release's own audit workbook.
            from batchprov.lifecycle.history import write_audit

            written = write_audit(release_run, out, journal=path)
        report = Report(info=info, results=tuple(rows), issues=(), output_path=written)
        return replace(report, extra={"plan": plan, "run_id": release_run})


def _checked(results: str | Path | None, run_id: str | None) -> Checked | None:
    if results is None and run_id is None:
        raise OptionError("Name a results workbook, or a run with --run, to release.")
    if results is None:
        return None
    checked = check_file(results)
    require_results(checked)
    return checked


def _plan(
    jr: Journal,
    api: Api | None,
    checked: Checked | None,
    run_id: str | None,
    env: Environment,
    *,
    include_foreign: bool,
) -> tuple[ReleasePlan, list[Candidate]]:
    url = _api_url(api, jr, checked, run_id, env)
    candidates = _candidates(jr, url, checked, run_id, sandbox=api is not None and api.sandbox)
    wanted = [
        c
        for c in candidates
        if not c.released and c.mismatch is None and (c.ours or include_foreign)
    ]
    chosen = tuple({c.number_id: c for c in reversed(wanted)}[n] for n in _unique(wanted))
    plan = ReleasePlan(
        api_url=url,
        to_release=chosen,
        foreign=len(_unique(c for c in candidates if not c.ours and not c.released)),
        already=len(_unique(c for c in candidates if c.released)),
        mismatched=tuple(c for c in candidates if c.mismatch is not None and not c.released),
    )
    return plan, candidates


def _unique(candidates: Iterable[Candidate]) -> list[str]:
    """The number ids, each once, in order: two rows showing one number release it once."""
    return list(dict.fromkeys(c.number_id for c in candidates))


def _output(results: str | Path | None, output: str | Path | None) -> Path | None:
    if output:
        return Path(output)
    return default_release_output(Path(results)) if results is not None else None


def _api_url(
    api: Api | None, jr: Journal, checked: Checked | None, run_id: str | None, env: Environment
) -> str:
    """The API the numbers belong to: given, else the journal's, else the configured one.

    A sandbox served again has a new port but the same numbers: the journal's URL names it.
    """
    if api is not None and not api.sandbox:
        return api.key_url
    urls: set[str] = set()
    if run_id is not None:
        runs = jr.runs(run_id)
        if len(runs) != 1:
            raise OptionError(_run_text(run_id, len(runs)))
        if runs[0].api_url:
            urls.add(runs[0].api_url)
    if checked is not None:
        for _, number_id in _workbook_numbers(checked, sandbox=api is not None and api.sandbox):
            urls |= jr.item_urls(number_id)
    if len(urls) > 1:
        raise OptionError(
            "These numbers were bought from several APIs (" + ", ".join(sorted(urls)) + "); "
            "release them one API at a time with --api-url."
        )
    if urls:
        return urls.pop()
    return api.key_url if api is not None else normalise_url(env.api_url or DEFAULT_API_URL)


def _api_for(url: str, env: Environment) -> Api:
    """The token from the environment; the configured URL (with its credentials) when it is
    the same API, since the journal keeps URLs without credentials."""
    configured = env.api_url
    same = configured is not None and normalise_url(configured) == url
    return Api.from_environment(url=configured if same else url, env=env)


def _run_text(run_id: str, found: int) -> str:
    if found == 0:
        return f"The journal has no run {run_id!r} (see batchprov history)."
    return f"{found} runs start with {run_id!r}; give more of the run id."


def _workbook_numbers(checked: Checked, *, sandbox: bool = False) -> list[tuple[int, str]]:
    """(row index, number id) of each row the workbook shows as owning a number (for a
    sandbox, also the rows whose Status says the number came from the sandbox)."""
    owned = {s.value for s in OWNED}
    if sandbox:
        owned |= {text + SANDBOX_MARK for text in owned}
    found = []
    for row in checked.rows:
        prev = row.previous
        if prev is not None and prev.status in owned and prev.number_id:
            found.append((row.index, prev.number_id))
    return found


def _candidates(
    jr: Journal, url: str, checked: Checked | None, run_id: str | None, *, sandbox: bool
) -> list[Candidate]:
    run_numbers = _run_numbers(jr, run_id) if run_id is not None else None
    found: list[Candidate] = []
    if checked is not None:
        frame = checked.table.frame
        name_col = checked.columns.fields.get("name")
        group_col = checked.columns.fields.get("group_id")
        by_index = {r.index: r for r in checked.rows}
        for index, number_id in _workbook_numbers(checked, sandbox=sandbox):
            if run_numbers is not None and number_id not in run_numbers:
                continue
            prev = by_index[index].previous
            assert prev is not None
            name = prev.assigned_name or (str(frame[name_col].iloc[index]) if name_col else "")
            group = str(frame[group_col].iloc[index]).strip() if group_col else ""
            found.append(
                _candidate(jr, url, index, number_id, prev.tracking_number or "", name, group)
            )
        return found
    assert run_numbers is not None
    for index, (number_id, (phone, name, gid)) in enumerate(sorted(run_numbers.items())):
        found.append(_candidate(jr, url, index, number_id, phone, name, str(gid)))
    return found


def _candidate(
    jr: Journal, url: str, index: int, number_id: str, phone: str, name: str, group: str
) -> Candidate:
    owner = jr.owner_of(url, number_id)
    release = jr.get_change(_release_key(url, number_id))
    released = release is not None and release.state is ChangeState.DONE
    ours = owner is not None or (release is not None)
    known = owner.phone if owner is not None else release.phone if release is not None else None
    mismatch = None
    if known and phone and _digits(known) != _digits(phone):
        mismatch = (
            f"the row shows number {phone}, but number id {number_id} is {known} in the "
            "journal; check the row's Tracking Number and Number ID"
        )
    return Candidate(
        index=index,
        number_id=number_id,
        phone=phone,
        name=name,
        group_id=int(group) if group.isdigit() else None,
        ours=ours,
        released=released,
        item_key=owner.key if owner else None,
        mismatch=mismatch,
    )


def _digits(phone: str) -> str:
    """A phone number's last ten digits, however it is written (``+1 905…``, ``905.…``)."""
    return "".join(ch for ch in phone if ch.isdigit())[-10:]


def _release_key(url: str, number_id: str) -> str:
    from batchprov.order.changes import change_key

    return change_key("release", url, number_id)


def _run_numbers(jr: Journal, run_id: str) -> dict[str, tuple[str, str, int]]:
    """number id → (phone, name, group) of each number the run bought (released since or not).

    A number is the one the run's own attempt bought: after a release, a later run may have
    bought the row a new number, which is that run's, not this one's.
    """
    runs = jr.runs(run_id)
    if len(runs) != 1:
        raise OptionError(_run_text(run_id, len(runs)))
    bought: dict[str, tuple[str, str, int]] = {}
    for item, number_id in jr.run_purchases(runs[0].run_id):
        if number_id is None:  # an older journal cannot tell which number it was
            continue
        name = item.actual_name or item.name
        if item.number_id == number_id:
            bought[number_id] = (item.phone or "", name, item.group_id)
            continue
        change = jr.get_change(_release_key(item.api_url, number_id))
        if change is not None:  # released since: its number is in the release's record
            bought[number_id] = (change.phone or "", change.name or name, item.group_id)
        else:
            bought[number_id] = ("", name, item.group_id)
    return bought


def _task(c: Candidate) -> ChangeTask:
    return ChangeTask(
        kind="release",
        number_id=c.number_id,
        index=c.index,
        group_id=c.group_id,
        name=c.name,
        phone=c.phone,
        item_key=c.item_key,
    )


def _results(
    checked: Checked | None,
    candidates: Sequence[Candidate],
    outcomes: Sequence[ChangeOutcome],
    chosen: Sequence[Candidate],
) -> list[RowResult]:
    """The workbook's rows as they stand now: released ones marked, the others as they were.

    Rows showing one number share its outcome (it is released once).
    """
    by_number = {o.task.number_id: o for o in outcomes}
    wanted = {c.number_id for c in chosen}
    if checked is None:
        return [_line(c, by_number.get(c.number_id), c.number_id in wanted) for c in candidates]
    shown = {c.index: c for c in candidates}
    rows = earlier_results(checked)
    for i, row in enumerate(rows):
        c = shown.get(row.index)
        if c is None:
            continue
        outcome = by_number.get(c.number_id) if c.number_id in wanted else None
        if c.released:
            rows[i] = replace(row, status=Status.RELEASED, error=None, warnings=())
        elif c.mismatch is not None:
            rows[i] = replace(row, error=f"not released: {c.mismatch}", change_failed=True)
        elif outcome is not None and outcome.done:
            note = (outcome.text,) if outcome.earlier else ()
            rows[i] = replace(row, status=Status.RELEASED, error=None, warnings=note)
        elif outcome is not None:
            rows[i] = replace(row, error=f"not released: {outcome.text}", change_failed=True)
        elif c.number_id in wanted:
            why = "not released: the release stopped before this row"
            rows[i] = replace(row, error=why, change_failed=True)
    return rows


def _line(c: Candidate, outcome: ChangeOutcome | None, wanted: bool) -> RowResult:
    """A released number's line when there is no workbook (``--run`` only)."""
    done = outcome is not None and outcome.done
    error = (
        None if done or not wanted else f"not released: {outcome.text if outcome else 'stopped'}"
    )
    return RowResult(
        index=c.index,
        excel_row=c.index + 2,
        status=Status.RELEASED if done or c.released else Status.PROVISIONED,
        tracking_number=c.phone,
        number_id=c.number_id,
        assigned_name=c.name,
        error=error,
        change_failed=error is not None,
    )


def earlier_results(checked: Checked) -> list[RowResult]:
    """Each row's result as the workbook's own result columns show it."""
    frame, cols = checked.table.frame, checked.columns.results

    def col(header: str) -> list[str]:
        name = cols.get(header)
        values = frame[name] if name else pd.Series([""] * len(frame), dtype=object)
        return [str(v).strip() for v in values]

    status, number, nid, route, assigned, error, warn, tries, at, area = (
        col(h)
        for h in (
            "Status",
            "Tracking Number",
            "Number ID",
            "Route ID",
            "Assigned Name",
            "Error",
            "Warnings",
            "Attempts",
            "Provisioned At",
            "Expected Area",
        )
    )
    # "Ordered As" holds the match type in words; outputs of earlier versions, "Match Type".
    kind = col("Ordered As" if "Ordered As" in cols else "Match Type")
    values = {words: value for value, words in MATCH_TYPE_WORDS.items()}
    known = {s.value: s for s in Status}
    results = []
    for row in checked.rows:
        i = row.index
        results.append(
            RowResult(
                index=i,
                excel_row=row.excel_row,
                status=known.get(status[i].removesuffix(SANDBOX_MARK), Status.NOT_ATTEMPTED),
                match_type=values.get(kind[i], kind[i]) or None,
                tracking_number=number[i] or None,
                number_id=nid[i] or None,
                route_id=route[i] or None,
                assigned_name=assigned[i] or None,
                error=error[i] or None,
                warnings=tuple(w for w in warn[i].splitlines() if w),
                attempts=int(tries[i]) if tries[i].isdigit() else 0,
                provisioned_at=at[i] or None,
                expected_area=area[i] or None,
            )
        )
    return results


def require_results(checked: Checked) -> None:
    """A workbook without result columns cannot show bought numbers."""
    if "Status" not in checked.columns.results:
        raise ConfigError(
            f"{checked.input_name} has no result columns (Status, Tracking Number, …): "
            "give the results workbook of a run."
        )
