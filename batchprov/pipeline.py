"""The whole job as two plain functions: `validate_file` and `run_file`.

read → map columns → check → (plan → confirm → order) → write the annotated output → Report.
The CLI and the web page are thin shells over these.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from platformdirs import user_data_path

from batchprov._version import __version__
from batchprov.check.checker import check_table
from batchprov.errors import ConfirmationRefused, NoTokenError
from batchprov.models import CheckedRow, Issue, PreviousResult, RowResult, Severity, Status, Table
from batchprov.numbering.area import locality_of
from batchprov.numbering.fallback import parse_run_fallback, with_fallbacks
from batchprov.order.runner import OrderOutcome, Progress, RunOptions, order_rows
from batchprov.plan import Plan, make_plan
from batchprov.read.files import read_table, sha256_of
from batchprov.read.headers import ColumnMap, map_columns
from batchprov.report import Report, RunInfo
from batchprov.write.output import write_output

if TYPE_CHECKING:
    from batchprov.sandbox import SandboxConfig

DEFAULT_API_URL = "https://api.telmetrics.com/v3/api"

ConfirmFn = Callable[[Plan], bool]
PlanFn = Callable[[Plan], None]
ProgressFn = Callable[[Progress], None]
#: Result columns beyond the standard ones, per mode.
_CHECK_COLUMNS = ("Expected Area",)
_DRY_RUN_COLUMNS = ("Expected Area", "Request Body")


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


def default_output(path: Path) -> Path:
    """`<input stem>.results.xlsx` beside the input."""
    return path.with_name(f"{path.stem}.results.xlsx")


def default_journal() -> Path:
    """The journal in the user's data directory, unless BATCHPROV_JOURNAL says otherwise."""
    env = os.environ.get("BATCHPROV_JOURNAL")
    return Path(env) if env else user_data_path("batchprov") / "journal.sqlite"


def check_file(
    path: str | Path,
    *,
    sheet: str | None = None,
    group_id: int | None = None,
    input_name: str | None = None,
) -> Checked:
    """Read and check a file without writing anything.

    ``input_name`` is the name to report (e.g. an upload's original name); default the file's.
    """
    source = Path(path)
    table = read_table(source, sheet=sheet)
    columns = map_columns(table.headers, group_id_given=group_id is not None)
    outcome = check_table(table, columns.fields, default_group_id=group_id)
    previous = _previous_results(table, columns)
    rows = tuple(replace(r, previous=previous[r.index]) for r in outcome.rows)
    name = input_name or source.name
    by_row: dict[int, list[Issue]] = defaultdict(list)
    for issue in outcome.issues:
        by_row[issue.row].append(issue)
    grouped = {row: tuple(found) for row, found in by_row.items()}
    return Checked(table, columns, rows, outcome.issues, sha256_of(source), name, grouped)


def validate_file(
    path: str | Path,
    *,
    output: str | Path | None = None,
    sheet: str | None = None,
    group_id: int | None = None,
    write: bool = True,
    input_name: str | None = None,
) -> Report:
    """Check every row and write the annotated output with status `valid` or `invalid`."""
    started = _now()
    checked = check_file(path, sheet=sheet, group_id=group_id, input_name=input_name)
    results = [_check_result(row, checked, Status.VALID) for row in checked.rows]
    info = _info("validate", checked, api_url=None, sandbox=False, started=started)
    return _finish(checked, results, info, output, path, extra_columns=_CHECK_COLUMNS, write=write)


def run_file(
    path: str | Path,
    *,
    output: str | Path | None = None,
    sheet: str | None = None,
    group_id: int | None = None,
    dry_run: bool = False,
    sandbox: bool = False,
    api_url: str | None = None,
    token: str | None = None,
    journal: str | Path | None = None,
    options: RunOptions | None = None,
    strict: bool = False,
    confirm: ConfirmFn | None = None,
    on_progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
    sandbox_config: SandboxConfig | None = None,
    input_name: str | None = None,
    fallback: str | Sequence[str] | None = None,
    price_per_number: float | None = None,
    on_plan: PlanFn | None = None,
) -> Report:
    """Check every row, order a number for each valid one, and write the annotated output.

    Against a real API the order goes ahead only when ``confirm(plan)`` returns True; without
    ``confirm`` nothing is bought. ``on_plan(plan)`` sees the plan first, dry runs included.
    ``fallback`` (``"drop_filter,overlay,tollfree"`` or a list of those words) applies to
    rows whose own ``fallback`` cell is blank. ``token`` defaults to ``TELMETRICS_TOKEN``;
    ``api_url`` to ``TELMETRICS_API_URL`` and then the public API.
    """
    started = _now()
    options = options or RunOptions()
    default_fallback = parse_run_fallback(fallback)
    checked = check_file(path, sheet=sheet, group_id=group_id, input_name=input_name)
    checked = replace(checked, rows=with_fallbacks(checked.rows, default_fallback))
    url = api_url or os.environ.get("TELMETRICS_API_URL") or DEFAULT_API_URL
    if dry_run:
        plan = _make_plan(checked, url, sandbox, options, price_per_number, dry_run=True)
        if on_plan is not None:
            on_plan(plan)
        results = [_check_result(row, checked, Status.PLANNED) for row in checked.rows]
        shown = None if sandbox else url
        info = _info("dry-run", checked, api_url=shown, sandbox=sandbox, started=started)
        info = replace(info, plan=plan)
        report = _finish(checked, results, info, output, path, extra_columns=_DRY_RUN_COLUMNS)
        return replace(report, extra={"plan": plan})
    token = token if token is not None else os.environ.get("TELMETRICS_TOKEN")
    if not sandbox and not token:
        raise NoTokenError(
            "No API token: set TELMETRICS_TOKEN (or use --sandbox to try batchprov without one)."
        )
    with _api(sandbox, url, token or "", journal, sandbox_config) as (target, secret, jpath):
        return _order(
            checked,
            path=path,
            output=output,
            api_url=target,
            token=secret,
            journal_path=jpath,
            sandbox=sandbox,
            options=options,
            strict=strict,
            confirm=confirm,
            on_progress=on_progress,
            stop=stop,
            started=started,
            plan=_make_plan(checked, target, sandbox, options, price_per_number),
            on_plan=on_plan,
        )


def _make_plan(
    checked: Checked,
    api_url: str,
    sandbox: bool,
    options: RunOptions,
    price_per_number: float | None,
    *,
    dry_run: bool = False,
) -> Plan:
    """The plan of the rows to order: valid rows that do not own a number yet."""
    to_order = [r for r in checked.rows if r.order and not _owned(r)]
    return make_plan(
        [r.order for r in to_order if r.order],
        api_url=api_url,
        sandbox=sandbox,
        already=sum(1 for r in checked.rows if _owned(r)),
        invalid=sum(1 for r in checked.rows if r.order is None and not _owned(r)),
        rate=options.rate,
        rows=to_order,
        price_per_number=price_per_number,
        dry_run=dry_run,
    )


def _order(
    checked: Checked,
    *,
    path: str | Path,
    output: str | Path | None,
    api_url: str,
    token: str,
    journal_path: Path,
    sandbox: bool,
    options: RunOptions,
    strict: bool,
    confirm: ConfirmFn | None,
    on_progress: ProgressFn | None,
    stop: threading.Event | None,
    started: str,
    plan: Plan,
    on_plan: PlanFn | None,
) -> Report:
    """Show the plan, confirm, order the valid rows, and merge every row's result."""
    if on_plan is not None:
        on_plan(plan)
    to_order = [r for r in checked.rows if r.order and not _owned(r)]
    invalid = plan.invalid
    held = strict and invalid > 0
    if to_order and not held and not sandbox and not (confirm and confirm(plan)):
        raise ConfirmationRefused("Nothing was ordered: the order was not confirmed.")
    ordered: dict[int, RowResult] = {}
    stopped: str | None = None
    if to_order and not held:
        outcome: OrderOutcome = order_rows(
            to_order,
            api_url=api_url,
            token=token,
            journal_path=journal_path,
            options=options,
            on_progress=on_progress,
            stop=stop,
        )
        ordered = {r.index: r for r in outcome.results}
        stopped = outcome.stopped_reason
    results = [
        _run_result(row, checked, ordered, held=held, invalid=invalid) for row in checked.rows
    ]
    info = _info(
        "run", checked, api_url=None if sandbox else api_url, sandbox=sandbox, started=started
    )
    info = replace(info, stopped_reason=stopped, plan=plan)
    report = _finish(checked, results, info, output, path, extra_columns=_CHECK_COLUMNS)
    return replace(report, extra={"plan": plan})


@contextlib.contextmanager
def _api(
    sandbox: bool,
    url: str,
    token: str,
    journal: str | Path | None,
    sandbox_config: SandboxConfig | None,
) -> Iterator[tuple[str, str, Path]]:
    """The API to order from, its token and the journal: a fresh sandbox when asked.

    A sandbox's numbers live only as long as the sandbox, so its default journal does too.
    """
    if not sandbox:
        yield url, token, Path(journal) if journal else default_journal()
        return
    from batchprov.sandbox import SandboxConfig, serve_in_thread

    config = sandbox_config or SandboxConfig()
    with serve_in_thread(config) as server, tempfile.TemporaryDirectory() as tmp:
        jpath = Path(journal) if journal else Path(tmp) / "journal.sqlite"
        yield server.url, config.token, jpath


def _owned(row: CheckedRow) -> bool:
    return row.previous is not None and row.previous.owned


def _row_issues(checked: Checked, excel_row: int) -> tuple[Issue, ...]:
    return checked.by_row.get(excel_row, ())


def _messages(issues: Sequence[Issue], severity: Severity) -> list[str]:
    return [f"{i.column}: {i.message}" for i in issues if i.severity is severity]


def _check_result(row: CheckedRow, checked: Checked, ok: Status) -> RowResult:
    """The result of a row that is only checked (validate, dry run)."""
    if _owned(row):
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
        status=Status.ALREADY_PROVISIONED,
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
    if _owned(row):
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


def _finish(
    checked: Checked,
    results: list[RowResult],
    info: RunInfo,
    output: str | Path | None,
    source: str | Path,
    *,
    extra_columns: Sequence[str] = (),
    write: bool = True,
) -> Report:
    """Write the annotated output (when asked) and build the report."""
    info = replace(info, ended_at=_now())
    out: Path | None = None
    if write:
        out = Path(output) if output else default_output(Path(source))
        write_output(checked.table, results, checked.issues, info, out, extra_columns=extra_columns)
    return Report(info=info, results=tuple(results), issues=checked.issues, output_path=out)


def _info(
    mode: str, checked: Checked, *, api_url: str | None, sandbox: bool, started: str
) -> RunInfo:
    return RunInfo(
        mode=mode,
        input_name=checked.input_name,
        input_sha256=checked.sha256,
        api_url=api_url,
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
