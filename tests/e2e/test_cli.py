"""The command line: help, exit codes, messages, summary and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", cli.list_commands(click.Context(cli)))
def test_every_command_has_help(name: str) -> None:
    """Every command (the lazily loaded ones too) explains itself, and every option has help."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.help, f"{name} has no help"
    for param in command.params:
        if param.param_type_name == "option":
            assert getattr(param, "help", None), f"{name} {param.name} has no help"
    code, out, _ = invoke(name, "--help")
    assert code == 0
    assert "Usage:" in out


def test_version() -> None:
    """--version prints the tool's version."""
    code, out, _ = invoke("--version")
    assert code == 0
    assert "batchprov" in out


def test_missing_file_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    """A missing input gives one line on stderr, exit 2, and no output file."""
    code, out, err = invoke("validate", str(tmp_path / "nope.xlsx"))
    assert code == 2
    assert err.startswith("Error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_missing_required_column_names_found_and_closest(tmp_path: Path) -> None:
    """A sheet without a required column exits 2 naming the columns found."""
    path = tmp_path / "in.csv"
    path.write_text("Advertiser,Group,Phone\nSmile Dental,11623282,4165551234\n")
    code, _, err = invoke("validate", str(path))
    assert code == 2
    assert "termination_number" in err
    assert "Advertiser" in err and "Phone" in err
    assert not (tmp_path / "in.results.xlsx").exists()


def test_validate_good_example_exits_0(tmp_path: Path) -> None:
    """The shipped example validates cleanly."""
    out = tmp_path / "out.xlsx"
    code, stdout, _ = invoke("validate", str(EXAMPLES / "advertisers.xlsx"), "-o", str(out))
    assert code == 0, stdout
    assert "valid" in stdout
    assert f"Output: {out}" in stdout
    assert out.exists()


def test_validate_needs_fixing_exits_1_with_json(tmp_path: Path) -> None:
    """The sheet with planted mistakes exits 1; --json prints one object with the counts."""
    out = tmp_path / "out.xlsx"
    code, stdout, _ = invoke(
        "validate", str(EXAMPLES / "needs_fixing.xlsx"), "-o", str(out), "--json"
    )
    assert code == 1
    summary = json.loads(stdout)
    assert summary["counts"]["invalid"] > 0
    assert summary["exit_code"] == 1
    assert summary["output"] == str(out)


def test_template_command_writes_the_template(tmp_path: Path) -> None:
    """`batchprov template OUT` writes a workbook with plain-word headers."""
    out = tmp_path / "t.xlsx"
    code, stdout, _ = invoke("template", str(out))
    assert code == 0
    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert sheet["A1"].value == "Advertiser"
    assert str(out) in stdout


def test_run_against_real_api_without_token_exits_2(tmp_path: Path) -> None:
    """Ordering from the real API without TELMETRICS_TOKEN stops before anything is sent."""
    code, _, err = invoke(
        "run", str(EXAMPLES / "advertisers.csv"), "-o", str(tmp_path / "o.xlsx"), "--yes"
    )
    assert code == 2
    assert "TELMETRICS_TOKEN" in err


def run_at(
    url: str, tmp: Path, *extra: str, source: Path = EXAMPLES / "advertisers.csv"
) -> tuple[int, str, str]:
    """``batchprov run`` of ``source`` against ``url``, its output and journal in ``tmp``."""
    out, journal = str(tmp / "o.xlsx"), str(tmp / "j.sqlite")
    return invoke("run", str(source), *extra, "-o", out, "--api-url", url, "--journal", journal)


def test_run_refuses_without_terminal_or_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal and without --yes, a real-API run exits 2 having sent nothing."""
    monkeypatch.setenv("TELMETRICS_TOKEN", "secret-token-value")
    with serve_in_thread(SandboxConfig(token="secret-token-value")) as server:  # a "real" API
        code, out, err = run_at(server.url, tmp_path)
        assert [] == server.state.ledger()
    assert code == 2
    assert "--yes" in err
    assert "secret-token-value" not in out + err
    assert not (tmp_path / "o.xlsx").exists()


def test_a_rejected_token_says_to_check_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose token is refused stops (exit 3) and tells the user to check the token."""
    monkeypatch.setenv("TELMETRICS_TOKEN", "a-mistyped-token-value")
    with serve_in_thread(SandboxConfig(token="secret-token-value")) as server:
        code, out, err = run_at(server.url, tmp_path, "-y")
        assert [] == server.state.ledger()
    assert code == 3
    assert "Check the token (TELMETRICS_TOKEN), then run the same command again" in out + err
    assert "a-mistyped-token-value" not in out + err


def test_a_possible_second_purchase_is_said_on_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost answer the listing never shows, then a suffixed resend: a yellow line names it."""
    monkeypatch.setenv("TELMETRICS_TOKEN", "secret-token-value")
    rows = "name,group_id,match_type,termination_number\nLag Co,11623282,tollfree,4165551234\n"
    (tmp_path / "in.csv").write_text(rows)
    faults = Faults(list_lag_ms=600_000, script=("drop_after",))
    with serve_in_thread(SandboxConfig(token="secret-token-value", faults=faults)) as server:
        code, out, err = run_at(server.url, tmp_path, "-y", source=tmp_path / "in.csv")
        assert 2 == len(server.state.ledger())  # the listing hid the first: bought twice
    assert code == 0
    assert "1 row(s) may have been bought twice (rows 2)" in out + err


def test_dry_run_plans_every_valid_row(tmp_path: Path) -> None:
    """--dry-run marks valid rows planned, writes each JSON body, and sends nothing."""
    out = tmp_path / "o.xlsx"
    code, stdout, _ = invoke(
        "run", str(EXAMPLES / "advertisers.xlsx"), "--dry-run", "-o", str(out), "--json"
    )
    assert code == 0
    summary = json.loads(stdout)
    assert set(summary["counts"]) == {"planned"}
    sheet = openpyxl.load_workbook(out).worksheets[0]
    headers = [c.value for c in next(sheet.iter_rows(max_row=sheet.max_row))]
    assert "Request Body" in headers


def test_run_sandbox_provisions_every_row(tmp_path: Path) -> None:
    """`run --sandbox` orders every row of the example and exits 0."""
    out = tmp_path / "o.xlsx"
    code, stdout, _ = invoke("run", str(EXAMPLES / "advertisers.xlsx"), "--sandbox", "-o", str(out))
    assert code == 0, stdout
    assert "SANDBOX" in stdout
    assert "provisioned" in stdout
