"""What the terminal says: problems row by row, every result in --json, plain words, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchprov import cli as cli_module
from batchprov.cli import FINISH, SHOWN_PROBLEMS, cli
from batchprov.models import Status
from batchprov.wording import api_words, match_type_words, status_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HEADER = "Advertiser,Group ID,Match Type,Local To,City,Province,Forward To\n"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_validate_lists_each_problem_with_row_column_and_message(tmp_path: Path) -> None:
    """After validate the terminal names each problem: its row, its column, what to do."""
    code, out, _ = invoke(
        "validate", str(EXAMPLES / "needs_fixing.xlsx"), "-o", str(tmp_path / "o.xlsx")
    )
    assert code == 1
    assert "8 problems to fix:" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("row 13"))
    assert "Ring To" in line and "411 is a service code, like 911, not an area code" in line
    assert "more in the" not in out  # all eight are shown


def test_long_lists_stop_at_ten_and_point_to_the_workbook(tmp_path: Path) -> None:
    """Past ten problems the terminal says how many more there are and where."""
    source = tmp_path / "in.csv"
    count = SHOWN_PROBLEMS + 3
    rows = [f"Shop {i},11623282,localtocity,,Toronto,Q{i},4165551234\n" for i in range(count)]
    source.write_text(HEADER + "".join(rows))
    code, out, _ = invoke("validate", str(source), "-o", str(tmp_path / "o.xlsx"))
    assert code == 1
    assert sum(1 for x in out.splitlines() if x.strip().startswith("row ")) == SHOWN_PROBLEMS
    assert "… and 3 more in the Needs attention and Errors sheets." in out


def test_rows_sharing_a_problem_share_one_entry(tmp_path: Path) -> None:
    """One problem on 15 rows is said once, with its rows listed, not fifteen times."""
    source = tmp_path / "in.csv"
    rows = [f"Shop {i},11623282,tollfree,,,,411555{i:04d}\n" for i in range(15)]
    source.write_text(HEADER + "Odd One,11623282,tollfree,,,,4165551\n" + "".join(rows))
    code, out, _ = invoke("validate", str(source), "-o", str(tmp_path / "o.xlsx"))
    assert code == 1 and "16 problems to fix:" in out
    assert out.count("411 is a service code") == 1
    entry = next(x for x in out.splitlines() if "411 is a service code" in x)
    assert entry.strip().startswith("15 rows") and "Forward To" in entry
    assert "(rows 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 3 more)" in out
    assert next(x for x in out.splitlines() if "has 7 digits" in x).strip().startswith("row 2 ")
    assert "more in the" not in out  # every problem is on the screen


def test_json_carries_every_row_result_and_every_issue(tmp_path: Path) -> None:
    """--json holds one result per row and every issue, with the API's own match types."""
    out_path = tmp_path / "o.xlsx"
    code, out, _ = invoke(
        "validate", str(EXAMPLES / "needs_fixing.xlsx"), "-o", str(out_path), "--json"
    )
    assert code == 1
    summary = json.loads(out)
    assert len(summary["results"]) == summary["rows"] == 14
    assert {r["status"] for r in summary["results"]} == {"valid", "invalid"}
    assert {r["match_type"] for r in summary["results"]} <= {
        "localtonumber",
        "localtocity",
        "tollfree",
        None,
    }
    errors = [i for i in summary["issues"] if i["severity"] == "error"]
    assert len(errors) == summary["errors"] == 8
    ring_to = next(i for i in errors if i["row"] == 13)
    assert (ring_to["column"], ring_to["value"]) == ("Ring To", "4115551234")


def test_dry_run_json_carries_each_request_body(tmp_path: Path) -> None:
    """A dry run's JSON results hold the request body each row would send, as an object."""
    code, out, _ = invoke(
        "run", str(EXAMPLES / "advertisers.xlsx"), "--dry-run", "-o", str(tmp_path / "o.xlsx"),
        "--json",
    )  # fmt: skip
    assert code == 0
    first = json.loads(out)["results"][0]
    assert first["request_body"]["phone_number_request"]["match_type"] == first["match_type"]


def test_api_refusal_reads_in_plain_words() -> None:
    """An API answer becomes 'The API refused this row: <text> (HTTP 400).'"""
    assert api_words("HTTP 400: name is required") == (
        "The API refused this row: name is required (HTTP 400)."
    )
    assert api_words("HTTP 422: no numbers (when asked for a toll-free number instead)") == (
        "The API refused this row: no numbers (HTTP 422; when asked for a toll-free number "
        "instead)."
    )
    assert api_words("HTTP 503: busy").startswith("The API failed on this row: busy")
    assert api_words("outcome unknown (timeout)") == "outcome unknown (timeout)"
    assert api_words("none nor with fallback overlay; last answer: HTTP 404: gone") == (
        "none nor with fallback overlay; last answer: gone (HTTP 404)."
    )
    assert api_words("No clear answer came (HTTP 503: busy), so it may have been bought.") == (
        "No clear answer came (busy, HTTP 503), so it may have been bought."
    )


def test_plain_words_for_match_types_and_sandbox_statuses() -> None:
    """Match types read as people say them; sandbox numbers are marked as such."""
    assert [match_type_words(m) for m in ("localtonumber", "localtocity", "tollfree")] == [
        "Local to number",
        "Local to city",
        "Toll-free",
    ]
    assert status_text(Status.PROVISIONED, sandbox=True) == "provisioned (sandbox)"
    assert status_text(Status.INVALID, sandbox=True) == "invalid"


def test_sandbox_refusal_reaches_the_terminal_in_plain_words(tmp_path: Path) -> None:
    """A row the API refuses is listed with its text and '(HTTP 404)', never 'HTTP 404: …'."""
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "Nowhere Shop,999999999,tollfree,,,,4165551234\n")
    code, out, _ = invoke("run", str(source), "--sandbox", "-o", str(tmp_path / "o.xlsx"))
    assert code == 1
    line = next(x for x in out.splitlines() if x.strip().startswith("row 2"))
    assert "refused" in line and "Group 999999999 not found (HTTP 404)." in line
    assert "HTTP 404:" not in line


def test_ctrl_c_says_how_to_finish_and_a_second_prints_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """First Ctrl-C: stop, and run the same command again; second: one line, then exit 3."""
    exits: list[int] = []
    monkeypatch.setattr(cli_module.os, "_exit", exits.append)
    stop = threading.Event()
    with cli_module._interrupts(stop):
        os.kill(os.getpid(), signal.SIGINT)
        first = capsys.readouterr().err
        os.kill(os.getpid(), signal.SIGINT)
        second = capsys.readouterr().err
    assert stop.is_set()
    assert "Run the same command again to finish — nothing will be bought twice." in first
    assert FINISH in first and "Ctrl-C again" in first
    assert len(second.strip().splitlines()) == 1 and FINISH in second
    assert exits == [3]


def test_owned_texts_follow_the_models() -> None:
    """The wording's owned statuses are exactly models.OWNED."""
    from batchprov import wording
    from batchprov.models import OWNED

    assert {s.value for s in OWNED} == wording._OWNED_TEXTS
