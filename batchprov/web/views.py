"""What the pages show of a job: its review, its live rows, its results, as JSON-ready data.

Every text that reaches a page goes through `scrub` first: no API token, no URL credentials,
no stored file names, and no command-line advice (`page_words`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

from batchprov.config import Environment
from batchprov.models import CheckedRow, Issue, RowResult, Severity, Status
from batchprov.numbering.area import locality_of
from batchprov.order.rows import NOT_REACHED
from batchprov.pipeline import Checked
from batchprov.plan import Plan, format_duration
from batchprov.redact import Redactor, display_url
from batchprov.report import Report

if TYPE_CHECKING:
    from batchprov.web.jobs import Job

#: How much of a sheet is kept for display; the annotated workbook always holds everything.
#: The review table shows the first PREVIEW_ROWS rows and every row with a problem, up to
#: MAX_REVIEW_ROWS rows in all.
PREVIEW_ROWS = 100
MAX_REVIEW_ROWS = 500
MAX_ISSUES_SHOWN = 1000
MAX_RESULT_ROWS = 1000


#: The command line's advice in the texts a run, a plan or a release makes, and what the page
#: says instead: the button to press or what to do, since the page has no commands to run. The
#: texts themselves (and the workbook, the CLI's output) keep their own words; this is the one
#: place the page rewords them, after the rules that chose them.
PAGE_WORDS: tuple[tuple[str, str], ...] = (
    (NOT_REACHED, "Press “Finish the order” on this page to order it."),
    (
        "Run the same command again: batchprov first looks",
        "Press “Finish the order” on this page (or upload the file again): batchprov first looks",
    ),
    (
        "then run again with --retry-failed",
        "then upload the file again: a row you changed is ordered again",
    ),
    (" (--existing order buys another)", ""),
    (
        "use --retry-failed to try again",
        "change the row and upload the file again to try it again",
    ),
    (
        "Try again later with --retry-failed;",
        "To try it again, change the row and upload the file again, or ask whoever runs "
        "batchprov to retry it (--retry-failed);",
    ),
    (
        "release them one API at a time with --api-url.",
        "ask whoever runs batchprov to release them one API at a time from the command line.",
    ),
    (
        "(--max-numbers / --max-cost); raise it and run the same command again",
        "(the order form's caps); raise it on the order form and order again",
    ),
    ("; run the same command again", "; try again from this page"),
)


def page_words(text: str) -> str:
    """A text made for the command line, worded for the page (`PAGE_WORDS`)."""
    for cli, page in PAGE_WORDS:
        text = text.replace(cli, page)
    return text


def scrub(message: str, job: Job | None = None) -> str:
    """A message fit for the page: no API token or URL credentials, no stored file names, and
    the page's words for the command line's advice (`page_words`)."""
    redactor = Redactor.of(Environment.read().token, job.api_url if job else None)
    message = page_words(redactor.scrub(message))
    if job is not None:
        message = message.replace(str(job.journal_path), "the journal")
        message = message.replace(str(job.input_path), job.original_name)
        message = message.replace(job.input_path.name, job.original_name)
    return message


def public_url(url: str | None) -> str | None:
    """An API URL without any user:password part, for display."""
    return display_url(url) if url else url


def review_view(checked: Checked, plan: Plan) -> dict[str, Any]:
    """Everything the review page shows about a checked file and its plan, as JSON-ready data."""
    statuses = [_check_status(row) for row in checked.rows]
    kinds = [row.match_type.value if row.match_type else "unknown" for row in checked.rows]
    errors = [i for i in checked.issues if i.severity is Severity.ERROR]
    warnings = [i for i in checked.issues if i.severity is Severity.WARNING]
    names, numbers = _names(checked), _column_numbers(checked)
    preview = _preview(checked, statuses)
    # A problem links to its cell only when the cell is in the review table on the page.
    on_page = {row["excel_row"] for row in preview["rows"]}
    return {
        "rows": len(checked.rows),
        "sheet": checked.table.sheet,
        "counts": dict(Counter(statuses)),
        "matrix": _matrix(kinds, statuses),
        "plan": {
            "to_order": plan.to_order,
            "already": plan.already,
            "invalid": plan.invalid,
            "per_group": [list(g) for g in plan.per_group],
            "estimate": estimate_text(plan.estimated_seconds),
        },
        "errors": [_issue_view(i, names, numbers, on_page) for i in errors[:MAX_ISSUES_SHOWN]],
        "errors_total": len(errors),
        "warnings": [_issue_view(i, names, numbers, on_page) for i in warnings[:MAX_ISSUES_SHOWN]],
        "warnings_total": len(warnings),
        "preview": preview,
    }


def estimate_text(seconds: float) -> str:
    """`about 3 min 5 s`; short runs are not worth a number."""
    return "a few seconds" if seconds < 10 else f"about {format_duration(seconds)}"


def _check_status(row: CheckedRow) -> str:
    if row.previous is not None and row.previous.released and not row.previous.owned:
        return Status.RELEASED.value  # skipped like a row with a number, but it has none
    if row.owned:
        return Status.ALREADY_PROVISIONED.value
    return Status.VALID.value if row.order is not None else Status.INVALID.value


def _matrix(kinds: Sequence[str], statuses: Sequence[str]) -> list[dict[str, Any]]:
    """Rows per match type and status, for the review's summary table."""
    counts = Counter(zip(kinds, statuses, strict=True))
    order = ["localtonumber", "localtocity", "tollfree", "unknown"]
    lines = []
    for kind in order:
        per = {s: counts[(kind, s)] for s in ("valid", "invalid", "already provisioned")}
        per["already provisioned"] += counts[(kind, Status.RELEASED.value)]  # skipped as well
        if any(per.values()):
            lines.append({"match_type": kind, **per, "total": sum(per.values())})
    return lines


def _names(checked: Checked) -> dict[int, str]:
    """Excel row → advertiser name, so that a problem names the advertiser it is about."""
    header = checked.columns.fields.get("name")
    if header is None:
        return {}
    column = checked.table.frame[header]
    return dict(zip(checked.table.excel_rows, map(str, column), strict=True))


def _column_numbers(checked: Checked) -> dict[str, int]:
    """Header → sheet column number: where an issue's cell is (absent columns have none)."""
    table = checked.table
    return dict(zip(table.headers, table.columns, strict=True))


def _issue_view(
    issue: Issue, names: Mapping[int, str], numbers: Mapping[str, int], on_page: Set[int]
) -> dict[str, Any]:
    return {
        "row": issue.row,
        "name": names.get(issue.row, ""),
        "column": issue.column,
        "col": numbers.get(issue.column) if issue.row in on_page else None,
        "value": issue.value,
        "message": issue.message,
        "severity": issue.severity.value,
        "suggestion": issue.suggestion or "",
    }


def _preview(checked: Checked, statuses: Sequence[str]) -> dict[str, Any]:
    """The rows the review table shows: the first ones and every row with a problem (up to a
    limit), each cell with its problems and what the checker suggests instead."""
    table = checked.table
    numbers = _column_numbers(checked)
    shown = [
        p for p in range(len(table)) if p < PREVIEW_ROWS or table.excel_rows[p] in checked.by_row
    ]
    shown = shown[:MAX_REVIEW_ROWS]
    rows = []
    for position in shown:
        excel_row = table.excel_rows[position]
        issues = checked.by_row.get(excel_row, ())
        cells = []
        for header, value in zip(table.headers, table.frame.iloc[position].tolist(), strict=True):
            found = [_cell_issue(i) for i in issues if i.column == header]
            level = _level(found)
            cells.append(
                {"value": str(value), "col": numbers[header], "issues": found, "level": level}
            )
        order = checked.rows[position].order
        rows.append(
            {
                "excel_row": excel_row,
                "status": statuses[position],
                "area": locality_of(order).text() if order else "",
                "cells": cells,
                "invalid": statuses[position] == Status.INVALID.value,
                # Where the row's problems are, for a table wider than the screen.
                "to_fix": [
                    {"col": c["col"], "header": h}
                    for c, h in zip(cells, table.headers, strict=True)
                    if c["level"] == "error"
                ],
            }
        )
    with_problems = sum(1 for p in range(len(table)) if table.excel_rows[p] in checked.by_row)
    return {
        "headers": list(table.headers),
        "rows": rows,
        "total": len(table),
        "with_problems": with_problems,
    }


def _cell_issue(issue: Issue) -> dict[str, str]:
    return {
        "message": issue.message,
        "severity": issue.severity.value,
        "suggestion": issue.suggestion or "",
    }


def _level(issues: Sequence[Mapping[str, str]]) -> str:
    """``error``, ``warning`` or '' for a cell: the worst of its problems."""
    severities = {i["severity"] for i in issues}
    if Severity.ERROR.value in severities:
        return "error"
    return "warning" if severities else ""


def result_view(report: Report, job: Job) -> dict[str, Any]:
    """What the result page shows after a run."""
    info = report.info
    rows = sorted(report.results, key=_problem_first)
    return {
        "rows": len(report.results),
        "counts": report.counts(),
        "sandbox": info.sandbox,
        "api_url": public_url(info.api_url),
        "started": info.started_at,
        "ended": info.ended_at,
        "exit_code": report.exit_code,
        "issues": len(report.issues),
        "results": [row_view(r, job) for r in rows[:MAX_RESULT_ROWS]],
    }


def _problem_first(result: RowResult) -> tuple[int, int]:
    rank = {Status.FAILED: 0, Status.INVALID: 1, Status.NOT_ATTEMPTED: 2}
    return rank.get(result.status, 3), result.excel_row


def row_view(result: RowResult, job: Job | None = None) -> dict[str, Any]:
    """One row's outcome for the pages."""
    error = scrub(result.error, job) if result.error else ""
    return {
        "excel_row": result.excel_row,
        "status": result.status.value,
        "match_type": result.match_type or "",
        "tracking_number": result.tracking_number or "",
        "assigned_name": result.assigned_name or "",
        "error": error,
        "warnings": page_words(" ".join(result.warnings)),
    }
