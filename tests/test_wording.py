"""Plain words: what a person reads never speaks the API's language.

A representative run (invalid rows, warnings, fallbacks that buy and fallbacks that fail, a
run stopped before its last rows) is made through the command line against a sandbox played
as a real API; its terminal, its workbook (result columns, comments, Summary, Needs attention,
Errors) and its plan are swept for API and developer words. Request bodies and ``--json`` keep
the API's values, and are left out of the sweep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.models import CheckedRow, Fallback, MatchType, OrderRequest
from batchprov.numbering.fallback import fallback_notes, parse_fallback, with_fallbacks
from batchprov.order.journal import Item, State
from batchprov.order.rows import (
    RowState,
    fallback_text,
    refused_text,
    review_text,
    stopped_result,
    unknown_text,
)
from batchprov.read.headers import OPTIONAL_RESULT_HEADERS, RESULT_HEADERS
from batchprov.sandbox import SandboxConfig, serve_in_thread
from batchprov.wording import api_words

TOKEN = "wording-test-token"
#: Words of the API, of Python or of the code that no message may show.
JARGON = re.compile(
    r"\b(localtonumber|localtocity|tollfree|drop_filter|number_match_filter|termination_number"
    r"|local_to_number|phone_number_request|call_routes|group_id|match_type|npa|nxx|reconcile"
    r"|Traceback|None|True|False)\b"
    r"|(?:^|\n|: )HTTP \d{3}",
    re.IGNORECASE,
)
_CASED = {"none", "true", "false"}  # plain English in lower case ("or none"), Python's cased

ROWS = """\
Advertiser,Group,Match Type,Local To,City,Province,Area Code,Ring To,Fallback
Burlington One,11623282,Local to number,9056372046,,,289,4165551234,overlay
Burlington Two,11623282,Local to number,9056372046,,,289,4165551234,"overlay, toll-free"
Burlington Three,11623282,Local to number,9056372046,,,289,4165551234,none
Burlington Four,11623282,Local to number,9056372046,,,289,4165551234,drop-filter
Free Calls,11623282,Toll-free,,,,,4165551234,toll-free
Typo City,11623282,Local to city,,Missisauga,ON,,4165551234,
Bad Fallback,11623282,Local to number,9056372046,,,,4165551234,cheapest
Service Code,11623282,Local to number,9056372046,,,,411,
Short Number,11623282,Local to number,9056372046,,,,5551234,
Bad Province,11623282,Local to city,,Calgary,Albertaa,,4165551234,
Bad Group,abc,Local to number,9056372046,,,,4165551234,
Bad Type,11623282,local-ish,9056372046,,,,4165551234,
Wrong Filter,11623282,Local to number,9056372046,,,212,4165551234,
"""


def offending(text: str) -> list[str]:
    """The jargon found in ``text`` (lower-case none/true/false are plain English)."""
    found = [m.group(0) for m in JARGON.finditer(text)]
    return [w for w in found if not (w.strip().lower() in _CASED and w.strip().islower())]


def sweep(where: str, texts: Iterator[str] | list[str]) -> list[str]:
    """Every text of ``texts`` holding jargon, as ``where: text``."""
    return [f"{where}: {t}" for t in texts if t and offending(t)]


def workbook_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) of every cell a person reads as batchprov's words: result columns but the
    request body, comments, and the Summary, Needs attention and Errors sheets."""
    ours = set(RESULT_HEADERS) | set(OPTIONAL_RESULT_HEADERS)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        header_row = next((r for r in range(1, 6) if any(c.value == "Status" for c in ws[r])), None)
        headers = {c.column: c.value for c in ws[header_row]} if header_row else {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.comment is not None and cell.comment.author == "batchprov":
                    yield f"{ws.title}!{cell.coordinate} comment", cell.comment.text
                if not isinstance(cell.value, str):
                    continue
                header = headers.get(cell.column)
                if ws.title == "Errors":
                    keep = cell.column == 4  # the message; the others quote the user's sheet
                elif header_row is not None:
                    keep = header in ours and header != "Request Body" or cell.row < header_row
                else:
                    keep = True
                if keep:
                    yield f"{ws.title}!{cell.coordinate}", cell.value


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "advertisers.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def run_cli(*args: str, url: str) -> tuple[int, str, str]:
    env = {"TELMETRICS_TOKEN": TOKEN, "TELMETRICS_API_URL": url}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_representative_run_reads_in_plain_words(source: Path, tmp_path: Path) -> None:
    """Validate, dry run and run (one 289 number for four rows, fallbacks, invalid rows): no
    API word in the terminal, the plan or the workbooks, except in request bodies and JSON."""
    found: list[str] = []
    journal = str(tmp_path / "journal.sqlite")
    with serve_in_thread(SandboxConfig(seed=1, stock=1, token=TOKEN)) as server:
        outputs = {
            "validate": tmp_path / "a.checked.xlsx",
            "dry-run": tmp_path / "a.plan.xlsx",
            "run": tmp_path / "a.results.xlsx",
        }
        commands = {
            "validate": ["validate", str(source), "-o", str(outputs["validate"])],
            "dry-run": ["run", str(source), "--dry-run", "-o", str(outputs["dry-run"])],
            "run": ["run", str(source), "--yes", "--journal", journal, "-o", str(outputs["run"])],
        }
        for mode, args in commands.items():
            code, out, err = run_cli(*args, url=server.url)
            assert code == 1, (mode, out, err)
            found += sweep(f"{mode} terminal", out.splitlines() + err.splitlines())
            found += [f"{w}: {t}" for w, t in workbook_texts(outputs[mode]) if offending(t)]
        _, out, _ = run_cli(*commands["run"][:-2], "-o", str(tmp_path / "b.xlsx"), "--json",
                            url=server.url)  # fmt: skip
    summary = json.loads(out)
    assert any(r["match_type"] == "localtonumber" for r in summary["results"])  # API values
    messages = [r["error"] or "" for r in summary["results"]] + [
        w for r in summary["results"] for w in r["warnings"]
    ]
    found += sweep("json messages", messages + [i["message"] for i in summary["issues"]])
    assert any("ordered instead" in m or "nor a number" in m for m in messages), messages
    assert found == []


def _row(*kinds: Fallback, filter_: str | None = "289") -> RowState:
    order = OrderRequest(
        group_id=1,
        name="A",
        match_type=MatchType.LOCAL_TO_NUMBER,
        termination_number="4165551234",
        local_to_number="9056372046",
        number_match_filter=filter_,
    )
    (row,) = with_fallbacks([CheckedRow(0, 2, order, fallback=kinds)], ())
    return RowState(row=row, order=order, key="k")


def _review_item(numbers: str) -> Item:
    """A journal item waiting for a person, without a recorded reason."""
    return Item(
        *("k", "https://api", 1, "A", "{}", State.REVIEW, None, None, 2, None, None, None),
        *(None, None, None, None, numbers),
    )


def test_the_message_catalogue_reads_in_plain_words() -> None:
    """Each message builder of ordering and fallbacks, in each of its forms, says no API word."""
    texts = [
        parse_fallback("cheapest").problem,
        fallback_notes((Fallback.DROP_FILTER, Fallback.OVERLAY), MatchType.LOCAL_TO_CITY, ""),
        fallback_notes((Fallback.TOLLFREE,), MatchType.TOLLFREE, "888"),
        unknown_text("timed out after 30 s"),
        unknown_text("HTTP 503: busy", "HTTP 500: down"),
        review_text(_review_item("1, 2")),
    ]
    chain = _row(Fallback.OVERLAY, Fallback.DROP_FILTER, Fallback.TOLLFREE)
    for _ in chain.row.fallbacks:
        chain.advance()
        texts += [
            fallback_text(chain),
            refused_text(chain, "HTTP 400: No numbers available", no_match=True),
            refused_text(chain, "HTTP 400: name is too long", no_match=False),
        ]
    for halt in ("interrupted", "API unavailable: HTTP 503: busy", None):
        texts.append(stopped_result(_row(), None, halt).error or "")
    found = sweep("catalogue", [api_words(t) for t in texts])
    assert found == []
    assert all(t for t in texts)


@pytest.mark.parametrize(
    "text",
    [
        "HTTP 400: name is required",
        "unknown match type; use localtocity",
        "sent with fallback tollfree",
        "npa 411 is reserved",
        "error: None",
        "outcome unknown; run again to reconcile",
    ],
)
def test_the_sweep_catches_api_words(text: str) -> None:
    """The sweep itself finds each kind of jargon (so a clean sweep means something)."""
    assert offending(text)


def test_a_row_without_a_match_says_what_to_do() -> None:
    """No number matched and no fallback was left: the error says how to get one."""
    text = api_words(refused_text(_row(), "HTTP 400: No numbers available", no_match=True))
    assert text == (
        "The API refused this row: No numbers available (HTTP 400).\nChoose another area code "
        "(or none), or add a fallback, then run again with --retry-failed."
    )
