"""The page words the command line's advice for the page; the workbook keeps the CLI's words."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from test_web import job_url, many_rows, upload, wait_finished
from test_web_sandbox_resume import SLOW, stop_midway

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.models import RowResult, Status
from batchprov.order.rows import NO_MATCH_HINT, NOT_REACHED, RUN_AGAIN
from batchprov.web import create_app
from batchprov.web.views import page_words, row_view

#: Command-line advice a page must not give: the page has no commands.
CLI_ADVICE = re.compile(r"--[a-z]|same command|run again")


def result(error: str, *warns: str) -> RowResult:
    return RowResult(index=0, excel_row=2, status=Status.FAILED, error=error, warnings=list(warns))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            f"Not sent: the run was stopped before this row's turn. {NOT_REACHED}",
            "Finish the order",
        ),
        (f"No answer. {RUN_AGAIN}.", "Finish the order"),
        (f"No number matched.\n{NO_MATCH_HINT}", "upload the file again"),
        ("HTTP 400: no stock (from an earlier run; use --retry-failed to try again)", "upload"),
        ("Not bought after 4 attempts. Try again later with --retry-failed; last answer: x", "ask"),
        (
            "not ordered: this run's cap of 3 number(s) was reached (--max-numbers / --max-cost);"
            " raise it and run the same command again",
            "order form",
        ),
        (
            "These numbers were bought from several APIs (http://a/v3/api, http://b/v3/api); "
            "release them one API at a time with --api-url.",
            "whoever runs batchprov",
        ),
    ],
)
def test_a_row_or_message_says_what_to_do_on_the_page(text: str, says: str) -> None:
    """Every CLI hint a row or a message can carry is worded for the page."""
    shown = row_view(result(text))["error"]
    assert says in shown and not CLI_ADVICE.search(shown.replace("(--retry-failed)", ""))
    assert page_words(text) == shown


def test_a_found_row_s_warning_drops_the_cli_option() -> None:
    """ "found in the account" keeps its facts, without "(--existing order buys another)"."""
    warning = (
        "found in the account: number 8660466 in group 11623282 already has this name; "
        "not bought now (--existing order buys another)"
    )
    shown = row_view(result("", warning))["warnings"]
    assert shown.endswith("not bought now") and "--" not in shown


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        data_dir=tmp_path / "data", sandbox=True, api_url=None, auth=None, sandbox_config=SLOW
    )
    with TestClient(app) as test_client:
        yield test_client


def test_a_stopped_order_says_to_press_finish_the_workbook_keeps_its_words(
    client: TestClient, tmp_path: Path
) -> None:
    """Rows a Stop left: the page says to press "Finish the order"; the workbook the CLI's."""
    url = job_url(upload(client, many_rows(tmp_path / "many.xlsx", 60)))
    stop_midway(client, url)
    assert wait_finished(client, url)["status"] == "done"
    page = client.get(url).text
    assert "Press “Finish the order” on this page to order it." in page
    assert "Run the same command" not in page and "--retry-failed" not in page
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{url}/results.xlsx").content))
    cells = {str(c) for row in book.worksheets[0].iter_rows(values_only=True) for c in row}
    assert any(NOT_REACHED in c for c in cells)
