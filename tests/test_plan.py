"""The plan shown before anything is bought: terminal text, JSON, confirmation, Summary sheet."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import _confirmer, cli
from batchprov.config import Api, RunConfig
from batchprov.errors import ConfirmationRefused
from batchprov.order.rate import FIXED_HEADROOM
from batchprov.order.runner import RunOptions
from batchprov.pipeline import run_file
from batchprov.plan import Plan, make_plan
from batchprov.sandbox import SandboxConfig, serve_in_thread

ROWS = """\
name,group_id,match_type,local_to_number,city,state,number_match_filter,termination_number,fallback
Burlington Bakery,11623282,,9056372046,,,289,4165551234,
Wrong Area Code,11623282,,9056372046,,,212,4165551234,overlay
Typo City,11623282,,,Missisauga,ON,,4165551234,
Freephone,11623283,tollfree,,,,888,4165551234,
Broken,11623283,tollfree,,,,,411,
Toronto Tiles,11623282,,,Toronto,ON,,4165551234,none
"""

PLAN_TEXT = """\
Would order 5 number(s) from https://api.telmetrics.com/v3/api
  group 11623282   Local to city         2   area codes: 416/437/942, unknown
  group 11623282   Local to number       2   area codes: 212, 289
  group 11623283   Toll-free             1   area codes: 888
  the account was not checked (offline); --online lists the groups
  predicted to fail: 3 row(s)
    1 invalid row(s) will not be ordered
    2 row(s) will likely find no number, by the numbering-plan data (2 with a fallback):
    row 3: filter 212 is not an area code of Burlington, ON (289, 905) — if so, batchprov tries \
a number in overlay area code 905, then a number in overlay area code 289
    row 4: city 'Missisauga' not found in ON in the numbering-plan data (did you mean \
Mississauga?) — if so, batchprov tries a toll-free number
  3 row(s) have fallbacks if no number matches
  estimated time: 1 s at 5 requests/s
  estimated monthly cost: up to 15.00 (5 × 3.00)"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "plan.csv"
    path.write_text(ROWS, encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def dry_plan(source: Path, tmp_path: Path) -> Plan:
    """The plan of a dry run with --fallback tollfree, 5 requests/s and a price of 3."""
    report = run_file(
        source,
        output=tmp_path / "out.xlsx",
        config=RunConfig(
            dry_run=True, fallback="tollfree", price_per_number=3, options=RunOptions(rate=5)
        ),
    )
    plan = report.extra["plan"]
    assert isinstance(plan, Plan) and report.info.plan is plan
    return plan


def test_plan_counts_areas_risks_and_fallbacks(source: Path, tmp_path: Path) -> None:
    """Rows per group, match type and area code; rows likely to fail; fallbacks; estimates."""
    plan = dry_plan(source, tmp_path)
    assert plan.per_area == (
        (11623282, "localtocity", "416/437/942", 1),
        (11623282, "localtocity", "unknown", 1),
        (11623282, "localtonumber", "212", 1),
        (11623282, "localtonumber", "289", 1),
        (11623283, "tollfree", "888", 1),
    )
    assert [(row, fallbacks) for row, _, fallbacks in plan.at_risk] == [
        (3, "a number in overlay area code 905, then a number in overlay area code 289"),
        (4, "a toll-free number"),
    ]
    assert (plan.invalid, plan.predicted_failures, plan.rescued, plan.with_fallback) == (1, 3, 2, 3)
    assert plan.estimated_seconds == pytest.approx((5 + 2) / (5 * (1 - FIXED_HEADROOM)))
    assert plan.estimated_cost == pytest.approx(15.0)


def test_dry_run_prints_the_plan(source: Path, tmp_path: Path) -> None:
    """`run --dry-run` prints the plan on stdout, then the usual summary."""
    code, out, _ = invoke(
        "run", str(source), "--dry-run", "-o", str(tmp_path / "o.xlsx"), "--rate", "5",
        "--fallback", "tollfree", "--price-per-number", "3",
    )  # fmt: skip
    assert code == 1
    assert out.startswith(PLAN_TEXT + "\n\nbatchprov dry-run: 6 row(s) in plan.csv\n")


def test_json_summary_carries_the_plan(source: Path, tmp_path: Path) -> None:
    """--json prints only JSON, with the plan as an object."""
    code, out, _ = invoke("run", str(source), "--dry-run", "-o", str(tmp_path / "o.xlsx"), "--json")
    plan = json.loads(out)["plan"]
    assert (plan["to_order"], plan["invalid"], plan["predicted_failures"]) == (5, 1, 3)
    assert plan["at_risk"][0] == {
        "row": 3,
        "why": "filter 212 is not an area code of Burlington, ON (289, 905)",
        "fallbacks": "a number in overlay area code 905, then a number in overlay area code 289",
    }
    assert plan["estimated_monthly_cost"] is None


def test_a_strict_run_with_an_invalid_row_plans_nothing_to_order(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--strict with an invalid row: the plan orders 0 and says why, as the run buys none."""
    monkeypatch.setenv("TELMETRICS_TOKEN", "strict-token-0123456789")
    with serve_in_thread(SandboxConfig(token="strict-token-0123456789", seed=1)) as api:
        code, out, err = invoke(
            "run", str(source), "--strict", "--api-url", api.url, "--journal",
            str(tmp_path / "j.sqlite"), "-o", str(tmp_path / "o.xlsx"), "--yes", "--json",
        )  # fmt: skip
        plan = json.loads(out)["plan"]
        code, out, err = invoke(
            "run", str(source), "--strict", "--api-url", api.url, "--journal",
            str(tmp_path / "j.sqlite"), "-o", str(tmp_path / "o.xlsx"), "--yes",
        )  # fmt: skip
        bought = len(api.state.ledger())
    assert (plan["to_order"], plan["held_by_strict"], plan["invalid"]) == (0, 5, 1)
    assert bought == 0 and "About to order" not in out + err
    assert "5 valid row(s) not ordered: --strict is set and 1 row(s) are invalid" in out + err


def test_unknown_run_fallback_exits_2(source: Path, tmp_path: Path) -> None:
    """--fallback with an unknown word stops before anything is read or written."""
    out = tmp_path / "o.xlsx"
    code, _, err = invoke("run", str(source), "--dry-run", "-o", str(out), "--fallback", "cheap")
    assert code == 2
    assert "'cheap' is not a fallback" in err and "drop-filter, overlay, toll-free" in err
    assert not out.exists()


def test_sandbox_run_shows_the_plan_before_ordering(source: Path, tmp_path: Path) -> None:
    """A run prints the plan on stderr before it orders; --quiet keeps it quiet."""
    out = str(tmp_path / "o.xlsx")
    code, stdout, err = invoke("run", str(source), "--sandbox", "-o", out)
    assert code == 1
    assert err.startswith("About to order 5 number(s) from SANDBOX (simulated; nothing is bought)")
    assert "About to order" not in stdout
    _, _, quiet = invoke("run", str(source), "--sandbox", "-o", out, "--quiet")
    assert "About to order" not in quiet


def test_confirmation_is_asked_with_the_plan(source: Path, tmp_path: Path) -> None:
    """Against a real API, confirm() gets the plan; refusing buys nothing."""
    seen: list[Plan] = []

    def refuse(plan: Plan) -> bool:
        seen.append(plan)
        return False

    config = SandboxConfig(token="secret-token-value")
    with serve_in_thread(config) as server, pytest.raises(ConfirmationRefused):
        run_file(
            source,
            output=tmp_path / "o.xlsx",
            config=RunConfig(journal=tmp_path / "j.sqlite", price_per_number=2.5),
            api=Api(url=server.url, token="secret-token-value"),  # played as a real API
            confirm=refuse,
        )
    assert [] == server.state.ledger()
    (plan,) = seen
    assert plan.describe().startswith(f"About to order 5 number(s) from {server.url}")
    assert "estimated monthly cost: up to 12.50 (5 × 2.50)" in plan.describe()
    assert "assumed; --rate auto finds the API's own" in plan.describe()


class Terminal(io.StringIO):
    """Typed answers on a standard input that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("shown", [True, False])
def test_confirmation_prompt_shows_the_plan_once(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, shown: bool
) -> None:
    """The question comes with the plan, unless the run printed it just before; 'n' refuses."""
    plan = dry_plan(source, tmp_path)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert _confirmer(False, shown=shown)(plan) is False
    err = capsys.readouterr().err
    assert err.count("Would order 5 number(s)") == (0 if shown else 1)
    assert "Order these numbers? [y/N]" in err


def test_summary_sheet_has_the_plan_block(source: Path, tmp_path: Path) -> None:
    """The Summary sheet repeats the plan: facts, rows per area code, rows likely to fail."""
    dry_plan(source, tmp_path)
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["Summary"]
    lines = [[v for v in row if v is not None] for row in ws.iter_rows(values_only=True)]
    lines = [line for line in lines if line]
    start = lines.index(["Plan"])
    block = lines[start:]
    assert ["Orders to send", 5] in block
    assert ["Predicted to fail", 3] in block
    assert ["Estimated time", "1 s at 5 requests/s"] in block
    assert ["Estimated monthly cost", "up to 15.00 (5 × 3.00)"] in block
    assert block[block.index(["Plan by area code"]) + 1] == [
        "Group",
        "Match type",
        "Area codes",
        "Rows",
    ]
    assert [11623282, "Local to number", "212", 1] in block
    risks = block[block.index(["Rows likely to find no number"]) + 2 :]
    assert risks[1] == [
        4,
        "city 'Missisauga' not found in ON in the numbering-plan data (did you mean Mississauga?)",
        "a toll-free number",
    ]


def test_a_plan_with_nothing_to_buy_says_so() -> None:
    """Nothing to order: the headline says so, with why, and no time estimate."""
    plan = make_plan([], api_url="https://api.example.com/v3/api", sandbox=False, already=3,
                     invalid=0, rate=None, found=2, account_checked=True)  # fmt: skip
    text = plan.describe()
    assert text.splitlines()[0] == "Nothing to order from https://api.example.com/v3/api"
    assert "2 row(s) found in the account" in text and "estimated time" not in text
