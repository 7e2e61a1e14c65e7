"""The whole job as plain functions: `validate_file`, `plan_run` and `run_file`.

read → map columns → check → (plan → confirm → order) → write the annotated output → Report.
The CLI and the web page are thin shells over these: they build a `config.RunConfig` and a
`config.Api` once, start a sandbox when asked, and show what comes back.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from batchprov._version import __version__
from batchprov.check.checker import check_table
from batchprov.clock import now_iso
from batchprov.config import DEFAULT_API_URL, Api, Environment, RunConfig
from batchprov.errors import (
    CapExceeded,
    ConfigError,
    ConfirmationRefused,
    RunAborted,
    os_error_text,
    translated,
)
from batchprov.models import CheckedRow, Issue, PreviousResult, RowResult, Severity, Status, Table
from batchprov.numbering.area import locality_of
from batchprov.numbering.fallback import with_fallbacks
from batchprov.plan import Plan
from batchprov.read.files import read_table, sha256_of
from batchprov.read.headers import ColumnMap, map_columns
from batchprov.report import Report, RunInfo
from batchprov.wording import api_words
from batchprov.write.atomic import same_file
from batchprov.write.columns import check_attention_room, check_output, check_room, sheet_title
from batchprov.write.overwrite import check_overwrite, lost_numbers, overwrite_refused

if TYPE_CHECKING:  # ordering is imported by the functions that order: `validate` needs none of it
    from batchprov.change.apply import ChangeOutcome, ChangeTask
    from batchprov.change.update import Held, UpdatePlan
    from batchprov.order.changes import Change
    from batchprov.order.client import Number
    from batchprov.order.journal import Item
    from batchprov.order.runlog import RunMeta
    from batchprov.order.runner import OrderOutcome, Progress, RunOptions
    from batchprov.survey import Survey

__all__ = ["Checked", "check_file", "default_output", "plan_run", "run_file", "validate_file"]

ConfirmFn = Callable[[Plan], bool]
PlanFn = Callable[[Plan], None]
ProgressFn = Callable[["Progress"], None]
#: Result columns beyond the standard ones, per mode.
_CHECK_COLUMNS = ("Expected Area",)
_DRY_RUN_COLUMNS = ("Expected Area", "Request Body")
_DEFAULTS = RunConfig()
#: Seconds the plan's listing of a group may serve as the run's baseline of it (a prompt
#: answered later gets a listing of its own).
_FRESH_LISTING = 10.0


@dataclass(frozen=True, slots=True)
class Checked:
    """A read and checked input, ready to plan or order."""

    table: Table
    columns: ColumnMap
    rows: tuple[CheckedRow, ...]
    issues: tuple[Issue, ...]
    sha256: str
    input_name: str
    #: The issues of each Excel row, so a row's problems are found without a scan.
    by_row: Mapping[int, tuple[Issue, ...]]


#: What each command's default output holds, as its file name says.
OUTPUT_KINDS = {"validate": "checked", "dry-run": "plan", "run": "results"}
_OUR_SUFFIXES = re.compile(r"(\.(sandbox|checked|plan|results))+$")


def default_output(path: Path, *, mode: str = "run", sandbox: bool = False) -> Path:
    """Beside the input, named for what it holds: ``<stem>.checked.xlsx`` (validate),
    ``<stem>.plan.xlsx`` (dry run), ``<stem>.results.xlsx`` (run), with ``sandbox`` before the
    kind for a sandbox API (``<stem>.sandbox.results.xlsx``).

    An input that is itself an output (``advertisers.checked.xlsx``) gives the same names as
    the original input; when that name is the input's own, its full stem is kept instead.
    """
    kind = ("sandbox." if sandbox else "") + OUTPUT_KINDS[mode]
    stem = _OUR_SUFFIXES.sub("", path.stem) or path.stem
    out = path.with_name(f"{stem}.{kind}.xlsx")
    return out if out.name != path.name else path.with_name(f"{path.stem}.{kind}.xlsx")


def check_file(path: str | Path, *, config: RunConfig = _DEFAULTS) -> Checked:
    """Read and check a file without writing anything (``config``: sheet, group, name)."""
    source = Path(path)
    table = read_table(source, sheet=config.sheet, include_hidden=config.include_hidden)
    if table.format == "csv" and config.input_name:  # stored under another name (the page)
        table = replace(table, sheet=sheet_title(Path(config.input_name).stem))
    group_id = config.group_id
    columns = map_columns(table.headers, group_id_given=group_id is not None, columns=table.columns)
    outcome = check_table(table, columns.fields, default_group_id=group_id)
    previous = _previous_results(table, columns)
    rows = tuple(replace(r, previous=previous[r.index]) for r in outcome.rows)
    rows = with_fallbacks(rows, config.fallback)
    name = config.input_name or source.name
    issues = _relevant_issues(outcome.issues, rows, columns)
    by_row: dict[int, list[Issue]] = defaultdict(list)
    for issue in issues:
        by_row[issue.row].append(issue)
    grouped = {row: tuple(found) for row, found in by_row.items()}
    return Checked(table, columns, rows, issues, sha256_of(source), name, grouped)


#: Columns that only say how to buy a number: moot on a row that already has one.
_ORDERING_ONLY = (
    "match_type",
    "local_to_number",
    "city",
    "state",
    "number_match_filter",
    "fallback",
)


def _relevant_issues(
    issues: Sequence[Issue], rows: Sequence[CheckedRow], columns: ColumnMap
) -> tuple[Issue, ...]:
    """The issues, less those about how to buy on rows that already own a number (an export
    leaves match_type blank: its rows are never bought, and their route is still checked)."""
    owned = {r.excel_row for r in rows if r.owned}
    if not owned:
        return tuple(issues)
    moot = {columns.fields.get(f, f) for f in _ORDERING_ONLY}
    return tuple(i for i in issues if not (i.row in owned and i.column in moot))


def validate_file(
    path: str | Path,
    output: str | Path | None = None,
    *,
    config: RunConfig = _DEFAULTS,
    write: bool = True,
    failed_only: str | Path | None = None,
) -> Report:
    """Check every row and write the annotated output with status `valid` or `invalid`.

    ``failed_only``: also write the invalid rows alone there, in the input's layout
    (`.csv` or `.xlsx`), to fix and check again.
    """
    with translated():
        started = now_iso()
        checked = check_file(path, config=config)
        results = [_check_result(row, checked, Status.VALID) for row in checked.rows]
        info = _info("validate", checked, api=None, started=started)
        out = _output_path(output, path, mode="validate") if write else None
        also = Path(failed_only) if failed_only is not None else None
        if out is not None:
            _guard(out, checked, config, command="check", failed_only=also)
        return _finish(checked, results, info, out, extra_columns=_CHECK_COLUMNS, failed_only=also)


def plan_run(checked: Checked, *, config: RunConfig = _DEFAULTS, api: Api | None = None) -> Plan:
    """The plan of a run: what will be ordered, counted the way the user confirms it.

    The CLI, `run_file` and the web page all build their plan here (`survey.survey_run`), so
    their counts agree. Lists the account unless ``config`` is an offline dry run.
    """
    api = _offline_api(api)
    return _survey(checked, config, api, _journal_to_read(config, api)).plan


def run_file(
    path: str | Path,
    output: str | Path | None = None,
    *,
    config: RunConfig = _DEFAULTS,
    api: Api | None = None,
    confirm: ConfirmFn | None = None,
    on_plan: PlanFn | None = None,
    on_progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    failed_only: str | Path | None = None,
) -> Report:
    """Check every row, order a number for each valid one, and write the annotated output.

    ``api`` defaults to the real API from the environment (`Api.from_environment`); a dry run
    needs no token. Against a real API the order goes ahead only when ``confirm(plan)``
    returns True; without ``confirm`` nothing is bought. ``on_plan(plan)`` sees the plan
    first, dry runs included. A sandbox `Api` (see `batchprov.sandbox.sandbox_session`)
    orders without confirmation. ``failed_only``: also write the invalid and failed rows
    alone there, in the input's layout (`.csv` or `.xlsx`), to fix and run again.
    """
    with translated(journal=config.journal):
        started = now_iso()
        checked = check_file(path, config=config)
        also = Path(failed_only) if failed_only is not None else None
        if config.dry_run:
            sandbox = api is not None and api.sandbox
            out = _output_path(output, path, mode="dry-run", sandbox=sandbox)
            _guard(
                out, checked, config, command="dry run", columns=_DRY_RUN_COLUMNS, failed_only=also
            )
            return _dry_run(checked, config, api, out, started, on_plan, stop, failed_only=also)
        api = api or Api.from_environment()
        out = _output_path(output, path, mode="run", sandbox=api.sandbox)
        bought = _journal_numbers(config, api, out)
        # Numbers the output shows that neither the input nor the journal holds may be found
        # in the account (a run with another journal found them): the survey decides.
        lists = config.lists_account and bool(api.token)
        unconfirmed = _guard(
            out, checked, config, command="run", also=bought, failed_only=also, defer=lists
        )
        from batchprov.survey import check_can_write

        check_can_write(checked.table, out, journal=_journal_to_read(config, api))
        run = _Order(checked, config, api, out, started, failed_only=also, unconfirmed=unconfirmed)
        return run.go(confirm=confirm, on_plan=on_plan, on_progress=on_progress, stop=stop)


def _dry_run(
    checked: Checked,
    config: RunConfig,
    api: Api | None,
    out: Path,
    started: str,
    on_plan: PlanFn | None,
    stop: threading.Event | None,
    *,
    failed_only: Path | None = None,
) -> Report:
    """Plan, show the plan, and write every row as `planned` with its request body."""
    from batchprov.order.account import ListingInterrupted

    where = _offline_api(api)
    journal = _journal_to_read(config, where)
    try:
        survey = _survey(checked, config, where, journal, stop=stop)
    except ListingInterrupted:
        raise RunAborted(f"Interrupted: {_INTERRUPTED_PLAN}; no output was written.") from None
    released = _journal_released(checked, where, journal) if journal is not None else {}
    plan = _counting_released(survey.plan, released)
    if on_plan is not None:
        on_plan(plan)
    results = [
        (_released_result(row, released[row.index]) if row.index in released else None)
        or survey.settled(row)
        or _reported_again(row, checked, survey)
        or _check_result(row, checked, Status.PLANNED)
        for row in checked.rows
    ]
    info = _info("dry-run", checked, api=_offline_api(api), started=started)
    info = replace(info, plan=plan)
    report = _finish(
        checked, results, info, out, extra_columns=_DRY_RUN_COLUMNS, failed_only=failed_only
    )
    return replace(report, extra={"plan": plan})


@dataclass(frozen=True, slots=True)
class _Order:
    """One run: survey the account, plan, confirm, order what is to order, merge and write."""

    checked: Checked
    config: RunConfig
    api: Api
    out: Path
    started: str
    failed_only: Path | None = None
    #: Bought numbers the output shows that only the account can say this run carries over.
    unconfirmed: frozenset[str] = frozenset()

    def go(
        self,
        *,
        confirm: ConfirmFn | None,
        on_plan: PlanFn | None,
        on_progress: ProgressFn | None,
        stop: threading.Event | None,
    ) -> Report:
        from batchprov.order.account import ListingInterrupted
        from batchprov.order.client import ListingFailed, TokenRejected

        with self._account(), self._journal() as journal:
            try:
                survey = _survey(self.checked, self.config, self.api, journal, stop=stop)
            except ListingInterrupted:
                return self._cut_short(f"interrupted: {_INTERRUPTED_PLAN}", journal)
            except (TokenRejected, ListingFailed) as exc:
                return self._cut_short(_listing_stop(exc), journal)
            self._check_carried(survey)
            released = _journal_released(self.checked, self.api, journal)
            try:
                updates = self._compare(survey, journal, stop, released=released)
            except ListingInterrupted:
                return self._cut_short(f"interrupted: {_INTERRUPTED_PLAN}", journal)
            plan = replace(
                _counting_released(survey.plan, released),
                to_update=len(updates.tasks),
                update_lines=tuple(updates.lines()),
                not_updated=len(updates.failures),
            )
            if stop is not None and stop.is_set():  # Ctrl-C as the listing ended
                return self._cut_short(f"interrupted: {_INTERRUPTED_PLAN}", journal)
            if on_plan is not None:
                on_plan(plan)
            over = plan.over_cap()
            if over:
                raise CapExceeded(f"Nothing was ordered: {over}.")
            held = self.config.strict and plan.invalid > 0
            engine = [] if held else survey.engine_rows(self.checked.rows)
            sending = (plan.to_order > 0 or bool(updates.tasks)) and not held
            if sending and not self.api.sandbox and not (confirm and confirm(plan)):
                raise ConfirmationRefused("Nothing was ordered: the order was not confirmed.")
            outcome = (
                self._order(engine, journal, plan, survey, on_progress, stop) if engine else None
            )
            stopped = outcome.stopped_reason if outcome else None
            changed: dict[int, ChangeOutcome] = {}
            if sending and updates.tasks and stopped is None:
                changed, stopped = self._update(journal, survey, updates)
        return self._write(
            survey,
            plan,
            outcome,
            held=held,
            updates=updates,
            changed=changed,
            stopped=stopped,
            released=released,
        )

    def _compare(
        self,
        survey: Survey,
        journal: Path,
        stop: threading.Event | None = None,
        *,
        released: Mapping[int, Change] | None = None,
    ) -> UpdatePlan:
        """The rows that have a number (workbook, journal or account), compared with it; with
        ``--update`` a row whose name several numbers share is not changed, and says why."""
        from batchprov.change.update import survey_updates

        held = [
            h
            for h in _held(self.checked, self.config, self.api, journal, survey=survey)
            if h.row.index not in (released or {})
        ]
        updates = survey_updates(
            held,
            api=self.api,
            update=self.config.update,
            listings=survey.listings,
            timeout=self.config.options.timeout,
            stop=stop,
        )
        if not self.config.update:
            return updates
        several = {r.index: survey.several(r) for r in self.checked.rows}
        unclear = {index: _unclear(numbers) for index, numbers in several.items() if numbers}
        return replace(updates, failures={**updates.failures, **unclear}) if unclear else updates

    def _write(
        self,
        survey: Survey,
        plan: Plan,
        outcome: OrderOutcome | None,
        *,
        held: bool,
        updates: UpdatePlan | None = None,
        changed: Mapping[int, ChangeOutcome] | None = None,
        stopped: str | None = None,
        released: Mapping[int, Change] | None = None,
    ) -> Report:
        from batchprov.change.update import UpdatePlan

        ordered = {r.index: r for r in outcome.results} if outcome else {}
        gone = {
            r.index: _released_result(r, c)
            for r in self.checked.rows
            if (c := (released or {}).get(r.index)) is not None
        }
        updates = updates or UpdatePlan()
        planned = {t.index: t for t in updates.tasks}
        unsent = _unsent(stopped, held=held, invalid=plan.invalid)
        results = [
            _updated(
                gone.get(row.index)
                or survey.settled(row, compared=row.index in updates.compared)
                or _run_result(row, self.checked, ordered, held=held, invalid=plan.invalid),
                updates,
                (changed or {}).get(row.index),
                planned=planned.get(row.index),
                unsent=unsent,
            )
            for row in self.checked.rows
        ]
        info = _info("run", self.checked, api=self.api, started=self.started)
        info = replace(info, stopped_reason=stopped, plan=plan)
        try:
            report = _finish(
                self.checked,
                results,
                info,
                self.out,
                extra_columns=_CHECK_COLUMNS,
                failed_only=self.failed_only,
            )
        except OSError as exc:
            if outcome is None and not changed:
                raise
            raise RunAborted(
                f"The numbers were ordered and are in the journal, but the output could not be "
                f"written ({os_error_text(exc)}). Fix that and run the same command again: "
                "nothing will be bought twice."
            ) from None
        return replace(report, extra={"plan": plan})

    def _check_carried(self, survey: Survey) -> None:
        """Refuse, before anything is sent, to replace an output showing numbers that neither
        the input, the journal nor the account gives this run to show again."""
        found = {n.phone_number for row in self.checked.rows if (n := survey.found(row))}
        lost = self.unconfirmed - found
        if lost:
            raise overwrite_refused(self.out, len(lost), command="run")

    def _cut_short(self, reason: str, journal: Path) -> Report:
        """The account could not be listed: nothing is sent, the output says why (exit 3).

        Rows the journal shows bought keep their numbers: the output may replace an earlier
        one that showed them (the overwrite check counted on the journal's numbers). One
        showing numbers only the account could vouch for is left as it is.
        """
        bought = _journal_bought(self.checked, self.api, journal)
        results = [
            bought.get(row.index) or _run_result(row, self.checked, {}, held=False, invalid=0)
            for row in self.checked.rows
        ]
        out: Path | None = self.out
        if self.unconfirmed:
            out = None
            count = len(self.unconfirmed)
            reason = (
                f"{reason}; {self.out} was left as it was: it shows {count} bought number(s) "
                "that only the account can say this run would carry over"
            )
        info = _info("run", self.checked, api=self.api, started=self.started)
        info = replace(info, stopped_reason=reason)
        return _finish(
            self.checked,
            results,
            info,
            out,
            extra_columns=_CHECK_COLUMNS,
            failed_only=self.failed_only,
        )

    def _order(
        self,
        rows: Sequence[CheckedRow],
        journal: Path,
        plan: Plan,
        survey: Survey,
        on_progress: ProgressFn | None,
        stop: threading.Event | None,
    ) -> OrderOutcome:
        options = replace(self.config.options, max_purchases=plan.purchase_cap)
        ahead = _WriterAhead(self.checked.table, self.out)
        try:
            return self._send(rows, journal, options, survey, ahead.progress(on_progress), stop)
        finally:
            ahead.wait()

    def _send(
        self,
        rows: Sequence[CheckedRow],
        journal: Path,
        options: RunOptions,
        survey: Survey,
        on_progress: ProgressFn,
        stop: threading.Event | None,
    ) -> OrderOutcome:
        from batchprov.order.runner import order_rows

        return order_rows(
            rows,
            api_url=self.api.url,
            key_url=self.api.key_url,
            token=self.api.token,
            journal_path=journal,
            options=options,
            transport=self.api.transport,
            on_progress=on_progress,
            stop=stop,
            meta=self._meta(survey, rows),
            listings=survey.fresh_listings(within=_FRESH_LISTING),
        )

    def _update(
        self, journal: Path, survey: Survey, updates: UpdatePlan
    ) -> tuple[dict[int, ChangeOutcome], str | None]:
        """Send the planned PUTs, journaled as a run of their own (kind ``update``)."""
        from batchprov.change.update import apply_updates

        meta = replace(self._meta(survey, self.checked.rows), kind="update", skipped={})
        return apply_updates(
            updates, api=self.api, journal=journal, meta=meta, timeout=self.config.options.timeout
        )

    def _meta(self, survey: Survey, engine: Sequence[CheckedRow]) -> RunMeta:
        """What the journal records about this run (`batchprov history`): who, what input,
        which API, and the rows per status that never reach the run engine."""
        from batchprov.order.runlog import RunMeta

        sent = {r.index for r in engine}
        skipped: Counter[str] = Counter()
        for row in self.checked.rows:
            if row.index not in sent:
                result = survey.settled(row) or _run_result(
                    row, self.checked, {}, held=False, invalid=0
                )
                skipped[result.status.value] += 1
        return RunMeta(
            kind="run",
            os_user=Environment.read().os_user,
            input_name=self.checked.input_name,
            input_sha256=self.checked.sha256,
            api_url=self.api.key_url,
            skipped=dict(skipped),
        )

    def _account(self) -> contextlib.AbstractContextManager[None]:
        """The account's lock: a sandbox's numbers are its own, so it needs none."""
        from batchprov.order.account_lock import account_lock

        if self.api.sandbox:
            return contextlib.nullcontext()
        return account_lock(self.api.key_url, token=self.api.token)

    @contextlib.contextmanager
    def _journal(self) -> Iterator[Path]:
        """The journal: given, or for a sandbox one that lives no longer than this call."""
        if self.config.journal is not None:
            yield self.config.journal
        elif self.api.sandbox:
            with tempfile.TemporaryDirectory(prefix="batchprov-sandbox-") as folder:
                yield Path(folder) / "journal.sqlite"
        else:
            yield Environment.read().default_journal()


def _survey(
    checked: Checked,
    config: RunConfig,
    api: Api,
    journal: Path | None,
    *,
    stop: threading.Event | None = None,
) -> Survey:
    from batchprov.survey import survey_run

    hidden = len(checked.table.hidden_rows)
    return survey_run(
        checked.rows, config=config, api=api, journal=journal, hidden=hidden, stop=stop
    )


#: Why a run stopped by Ctrl-C while its plan was being made bought nothing.
_INTERRUPTED_PLAN = "stopped while the account was being checked; nothing was ordered"


def _listing_stop(exc: Exception) -> str:
    from batchprov.order.client import TokenRejected

    if isinstance(exc, TokenRejected):
        return f"token rejected ({exc}); nothing was ordered"
    return f"API unavailable: {str(exc).rstrip('. ')}; nothing was ordered"


def _journal_to_read(config: RunConfig, api: Api) -> Path | None:
    """The journal a plan reads: the configured one (a sandbox's default is always new)."""
    if config.journal is not None:
        return config.journal
    return None if api.sandbox else Environment.read().default_journal()


def _held(
    checked: Checked,
    config: RunConfig,
    api: Api,
    journal: Path | None,
    *,
    survey: Survey | None = None,
) -> list[Held]:
    """Rows that already have a number (their own result columns, the journal, or the one
    number of the account with their name), with the route they ask for."""
    from batchprov.change.update import Held, route_request
    from batchprov.order.journal import State, item_key, peek_items

    held: dict[int, Held] = {}
    for row in checked.rows:
        number = survey.found(row) if survey is not None else None
        if number is not None:
            held[row.index] = Held(row, number.id, number.phone_number, row.order)
    for row in checked.rows:
        prev = row.previous
        if prev is None or not prev.owned or not prev.number_id:
            continue
        order = row.order or route_request(_cells(checked, row), default_group=config.group_id)
        errors = [i for i in checked.by_row.get(row.excel_row, ()) if i.severity is Severity.ERROR]
        if order is not None and not errors:
            held[row.index] = Held(row, prev.number_id, prev.tracking_number or "", order)
    if journal is None:
        return list(held.values())
    open_rows = [r for r in checked.rows if r.order is not None and r.index not in held]
    keys = {item_key(api.key_url, r.order.group_id, r.order.name): r for r in open_rows if r.order}
    for key, item in peek_items(journal, keys).items():
        if item.state is State.DONE and item.number_id:
            row = keys[key]
            held[row.index] = Held(row, item.number_id, item.phone or "", row.order)
    return sorted(held.values(), key=lambda h: h.row.index)


def _journal_bought(checked: Checked, api: Api, journal: Path) -> dict[int, RowResult]:
    """The results of the rows whose numbers the journal holds (DONE), by row index."""
    from batchprov.order.journal import State, item_key, peek_items

    open_rows = [r for r in checked.rows if r.order is not None and not r.owned]
    keys = {item_key(api.key_url, r.order.group_id, r.order.name): r for r in open_rows if r.order}
    results: dict[int, RowResult] = {}
    for key, item in peek_items(journal, keys).items():
        if item.state is not State.DONE or not item.number_id:
            continue
        row = keys[key]
        results[row.index] = _journal_owned(row, checked, item)
    return results


def _journal_owned(row: CheckedRow, checked: Checked, item: Item) -> RowResult:
    """A row whose number the journal holds: already provisioned with it."""
    return replace(
        _check_result(row, checked, Status.ALREADY_PROVISIONED),
        tracking_number=item.phone,
        number_id=item.number_id,
        route_id=item.route_id,
        assigned_name=item.actual_name,
        provisioned_at=item.provisioned_at,
    )


def _reported_again(row: CheckedRow, checked: Checked, survey: Survey) -> RowResult | None:
    """What a run would report, unsent, for a row the journal settled in an earlier run:
    its number, or the failure or review it was left with (a dry run says the same)."""
    from batchprov.order.account import Standing
    from batchprov.order.rows import earlier_failure_text, earlier_review_text

    holding = survey.holdings.get(row.index)
    item = holding.item if holding is not None else None
    if holding is None or item is None:
        return None
    if holding.standing is Standing.IN_JOURNAL and item.number_id:
        return _journal_owned(row, checked, item)
    if holding.standing is Standing.TO_REVIEW:
        text = earlier_review_text(item)
    elif holding.standing is Standing.FAILED_BEFORE:
        text = earlier_failure_text(item)
    else:
        return None
    return replace(_check_result(row, checked, Status.FAILED), error=text)


def _journal_released(checked: Checked, api: Api, journal: Path) -> dict[int, Change]:
    """Rows whose own columns show a number this journal has released since, by row index
    (a results workbook from before the release, run again)."""
    from batchprov.order.journal import peek_releases

    shown = {
        r.previous.number_id: r
        for r in checked.rows
        if r.previous is not None and r.previous.owned and r.previous.number_id
    }
    found = peek_releases(journal, api.key_url, list(shown))
    return {shown[n].index: change for n, change in found.items()}


def _counting_released(plan: Plan, released: Mapping[int, Change]) -> Plan:
    """The plan with the rows the journal released counted as released, not as held."""
    count = len(released)
    return replace(plan, already=plan.already - count, released=plan.released + count)


def _released_result(row: CheckedRow, change: Change) -> RowResult:
    """A row showing a number the journal released: released, and said so."""
    when = change.finished_at or "earlier"
    return replace(
        _previous_result(row),
        status=Status.RELEASED,
        warnings=(f"its number was released on {when} (the journal says so); not bought again",),
    )


def _cells(checked: Checked, row: CheckedRow) -> dict[str, str]:
    """A row's cells by field name."""
    frame = checked.table.frame
    return {f: str(frame[h].iloc[row.index]) for f, h in checked.columns.fields.items()}


def _unclear(numbers: Sequence[Number]) -> str:
    return (
        f"not updated either: {len(numbers)} numbers have this name, and --update changes a "
        "number only when exactly one has it (rename or release the others, then run again)"
    )


def _unsent(stopped: str | None, *, held: bool, invalid: int) -> str:
    """Why a planned update has no outcome: the run stopped first, or held everything."""
    if held:
        return f"not updated: --strict is set and {invalid} row(s) are invalid"
    if stopped is None:
        return "not updated: it was not sent"
    why = "interrupted" if stopped == "interrupted" else f"stopped ({stopped})"
    return f"not updated: the run was {why} before this update was sent"


def _updated(
    result: RowResult,
    updates: UpdatePlan,
    change: ChangeOutcome | None,
    *,
    planned: ChangeTask | None,
    unsent: str,
) -> RowResult:
    """A row's result after comparing with the account: `updated` with what changed, or why
    it was not (an error, and the row counts as failed: exit 1), or what differs (a warning)."""
    from batchprov.change.update import change_text

    index = result.index
    if change is not None and change.done:
        what = change_text(change.task.fields)
        note = f"updated: {what}" + (f" ({change.text})" if change.text else "")
        return replace(result, status=Status.UPDATED, warnings=(*result.warnings, note))
    if change is not None:
        return _change_failed(
            result, f"not updated ({change_text(change.task.fields)}): {change.text}"
        )
    if planned is not None:
        return _change_failed(result, f"{unsent} ({change_text(planned.fields)})")
    if index in updates.failures:
        return _change_failed(result, updates.failures[index])
    warnings = updates.warnings.get(index, ())
    return replace(result, warnings=result.warnings + warnings) if warnings else result


def _change_failed(result: RowResult, error: str) -> RowResult:
    text = f"{result.error}\n{error}" if result.error else error
    return replace(result, error=text, change_failed=True)


def _offline_api(api: Api | None) -> Api:
    """Where a dry run says it would order: the given API, else the configured one (no token
    needed, nothing is sent)."""
    return api or Api(url=Environment.read().api_url or DEFAULT_API_URL, token="")


def _output_path(
    output: str | Path | None, source: str | Path, *, mode: str, sandbox: bool = False
) -> Path:
    return Path(output) if output else default_output(Path(source), mode=mode, sandbox=sandbox)


def _guard(
    out: Path,
    checked: Checked,
    config: RunConfig,
    *,
    command: str,
    also: frozenset[str] = frozenset(),
    columns: Sequence[str] = _CHECK_COLUMNS,
    failed_only: Path | None = None,
    defer: bool = False,
) -> frozenset[str]:
    """Refuse, before anything is sent or written, to replace a file showing bought numbers
    that the new output would not show again (the input's own, or the journal's for a run),
    or to write rows or result columns that would not fit in the sheets. The ``failed_only``
    file shows no bought number: it may replace none, nor the input, nor the output.

    ``defer``: return the numbers that would be lost instead of refusing (a run that lists
    the account checks them against what it finds there).
    """
    check_room(checked.table, out, extra_columns=columns, purchases=command == "run")
    shown = (r.previous.tracking_number for r in checked.rows if r.owned and r.previous)
    carried = {n for n in shown if n} | also
    lost = lost_numbers(out, carried=carried, sheet=config.sheet)
    if lost and not defer:
        raise overwrite_refused(out, len(lost), command=command)
    if failed_only is not None:
        if same_file(failed_only, out):
            raise ConfigError(
                f"--failed-only {failed_only} is the output file too; give it a name of its own."
            )
        check_output(checked.table, failed_only)
        check_attention_room(
            checked.table,
            failed_only,
            extra_columns=columns,
            purchases=command == "run",
            failed_only=True,
        )
        check_overwrite(failed_only, carried=(), command=command)
    return lost


def _journal_numbers(config: RunConfig, api: Api, out: Path) -> frozenset[str]:
    """The numbers the run's journal holds as bought from its API: a run shows them again.

    Read only when there is an output to protect and a journal that outlives the run.
    """
    path = config.journal
    if path is None and not api.sandbox:
        path = Environment.read().default_journal()
    if path is None or not path.is_file() or not out.is_file():
        return frozenset()
    from batchprov.order.journal import Journal, State

    with Journal.open(path) as journal:
        items = journal.items(api_url=api.key_url)
    return frozenset(i.phone for i in items if i.state is State.DONE and i.phone)


def _row_issues(checked: Checked, excel_row: int) -> tuple[Issue, ...]:
    return checked.by_row.get(excel_row, ())


def _messages(issues: Sequence[Issue], severity: Severity) -> list[str]:
    return [f"{i.column}: {i.message}" for i in issues if i.severity is severity]


def _check_result(row: CheckedRow, checked: Checked, ok: Status) -> RowResult:
    """The result of a row that is only checked (validate, dry run)."""
    if row.owned:
        return _previous_result(row)
    issues = _row_issues(checked, row.excel_row)
    errors = _messages(issues, Severity.ERROR)
    body = row.order.body_json() if row.order and ok is Status.PLANNED else None
    area = locality_of(row.order).text() if row.order else None
    return RowResult(
        index=row.index,
        excel_row=row.excel_row,
        status=ok if row.order else Status.INVALID,
        match_type=row.match_type.value if row.match_type else None,
        error="\n".join(errors) or None,
        warnings=tuple(_messages(issues, Severity.WARNING)),
        request_body=body,
        expected_area=area,
    )


def _previous_result(row: CheckedRow) -> RowResult:
    """A row whose own result columns already show its number: kept, never re-sent."""
    prev = row.previous
    assert prev is not None
    return RowResult(
        index=row.index,
        excel_row=row.excel_row,
        status=Status.RELEASED if prev.released else Status.ALREADY_PROVISIONED,
        match_type=row.match_type.value if row.match_type else None,
        tracking_number=prev.tracking_number,
        number_id=prev.number_id,
        route_id=prev.route_id,
        assigned_name=prev.assigned_name,
        provisioned_at=prev.provisioned_at,
    )


def _run_result(
    row: CheckedRow, checked: Checked, ordered: dict[int, RowResult], *, held: bool, invalid: int
) -> RowResult:
    """Merge a row's check result with what the order produced."""
    if row.owned:
        return _previous_result(row)
    base = _check_result(row, checked, Status.NOT_ATTEMPTED)
    if row.order is None:
        return base
    if held:
        why = f"not ordered: --strict is set and {invalid} row(s) are invalid"
        return replace(base, error=why)
    result = ordered.get(row.index)
    if result is None:
        return replace(base, error="not ordered")
    return replace(
        result, warnings=base.warnings + result.warnings, expected_area=base.expected_area
    )


def _in_plain_words(result: RowResult) -> RowResult:
    """A row's error as people read it (the API's answers quoted, not its status lines)."""
    if not result.error:
        return result
    error = api_words(result.error)
    return result if error == result.error else replace(result, error=error)


def _finish(
    checked: Checked,
    results: list[RowResult],
    info: RunInfo,
    out: Path | None,
    *,
    extra_columns: Sequence[str] = (),
    failed_only: Path | None = None,
) -> Report:
    """Write the annotated output (when asked), the rows needing attention alone (when asked)
    and build the report."""
    from batchprov.write.output import write_failed_only, write_output

    results = [_in_plain_words(r) for r in results]
    info = replace(info, ended_at=now_iso())
    table, issues = checked.table, checked.issues
    if out is not None:
        write_output(table, results, issues, info, out, extra_columns=extra_columns)
    if failed_only is not None:
        write_failed_only(table, results, issues, info, failed_only, extra_columns=extra_columns)
    return Report(
        info=info,
        results=tuple(results),
        issues=issues,
        output_path=out,
        failed_only_path=failed_only,
    )


class _WriterAhead:
    """Prepares the output's writing in the background once the first row is final: imports
    the workbook writer (openpyxl) and opens the workbook (`write.ahead.open_ahead`).

    The run mostly waits on the network then, and the output is written right after the last
    answer: this no longer adds to the user's wait. Not sooner: an import holds the
    interpreter for long stretches, and while the first orders went out it delayed the first
    send by about 0.15 s.
    """

    def __init__(self, table: Table, out: Path) -> None:
        self._table = table
        self._out = out
        self._thread: threading.Thread | None = None

    def progress(self, on_progress: ProgressFn | None) -> ProgressFn:
        """``on_progress``, which also starts the preparing at the first final row."""

        def progress(update: Progress) -> None:
            if update.last is not None and self._thread is None:
                self._thread = threading.Thread(
                    target=self._prepare, name="writer-ahead", daemon=True
                )
                self._thread.start()
            if on_progress is not None:
                on_progress(update)

        return progress

    def wait(self) -> None:
        """Until the preparing is done (a write meanwhile would open the workbook twice)."""
        if self._thread is not None:
            self._thread.join(_AHEAD_WAIT)

    def _prepare(self) -> None:
        import batchprov.write.output  # noqa: F401  - the write's own modules, loaded meanwhile
        from batchprov.write.ahead import open_ahead

        open_ahead(self._table, self._out)


#: The longest a write waits for its workbook to be opened ahead; then it opens its own.
_AHEAD_WAIT = 60.0


def _info(mode: str, checked: Checked, *, api: Api | None, started: str) -> RunInfo:
    sandbox = api is not None and api.sandbox
    return RunInfo(
        mode=mode,
        input_name=checked.input_name,
        input_sha256=checked.sha256,
        api_url=None if api is None or sandbox else api.key_url,
        sandbox=sandbox,
        started_at=started,
        ended_at=started,
        tool_version=__version__,
    )


def _previous_results(table: Table, columns: ColumnMap) -> list[PreviousResult | None]:
    """What the input's own result columns (a re-run output workbook) say about each row."""
    if "Status" not in columns.results:
        return [None] * len(table)
    frame = table.frame

    def col(header: str) -> pd.Series:
        name = columns.results.get(header)
        return frame[name] if name else pd.Series([""] * len(frame), dtype=object)

    fields = zip(
        col("Status"),
        col("Tracking Number"),
        col("Number ID"),
        col("Route ID"),
        col("Assigned Name"),
        col("Provisioned At"),
        strict=True,
    )
    return [
        PreviousResult(st.strip(), tn or None, ni or None, ri or None, an or None, pa or None)
        if st.strip()
        else None
        for st, tn, ni, ri, an, pa in fields
    ]
