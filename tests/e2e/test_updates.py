"""`run --update` of rows the account knows by name only, and failed changes, on loopback.

The numbers were bought before by someone else's journal (or in the portal); the sheet shows
names only, no result columns, and the run's journal is new. Each test counts in the sandbox's
ledger and stats: one applied PUT per changed row, none for a name several numbers share,
nothing bought; an update or release the API refuses or never confirms fails its row (exit 1).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.config import Api, RunConfig
from batchprov.lifecycle.history import read_history
from batchprov.models import Status
from batchprov.order.changes import ChangeState
from batchprov.order.journal import Journal
from batchprov.order.runner import RunOptions
from batchprov.pipeline import run_file
from batchprov.plan import Plan
from batchprov.report import Report
from batchprov.sandbox import RunningSandbox, SandboxConfig, serve_in_thread

GROUP = 11623282
NAMES = [f"Known Advertiser {i}" for i in range(4)]
RINGS = "4165551234"
POSTS = "POST /v3/api/groups/{group_id}/numbers"
PUTS = "PUT /v3/api/numbers/{number_id}"
DELETES = "DELETE /v3/api/numbers/{number_id}"
FAST = RunOptions(timeout=1.0, settle_delay=0.2)


@pytest.fixture
def server() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


def api_of(server: RunningSandbox) -> Api:
    return Api(url=server.url, token=server.token)


def plain_sheet(
    path: Path,
    names: list[str],
    *,
    rings: Mapping[int, str] | None = None,
    records: Mapping[int, str] | None = None,
) -> Path:
    """An order sheet as people keep it: names and routes, no result columns."""
    rings, records = rings or {}, records or {}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "group_id", "match_type", "termination_number", "record_calls"])
        for i, name in enumerate(names):
            record = records.get(i, "yes" if i % 2 else "")
            writer.writerow([name, GROUP, "tollfree", rings.get(i, RINGS), record])
    return path


def bought_by_someone_else(server: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    """NAMES bought by another journal; number id per name."""
    report = run_file(
        plain_sheet(tmp_path / "theirs.csv", NAMES),
        tmp_path / "theirs.results.xlsx",
        config=RunConfig(journal=tmp_path / "theirs.sqlite", options=FAST),
        api=api_of(server),
        confirm=lambda plan: True,
    )
    assert report.counts() == {"provisioned": len(NAMES)}
    return {n["name"]: str(n["id"]) for n in server.state.ledger()}


def portal_number(server: RunningSandbox, name: str, rings: str = "4165550000") -> str:
    """A number bought in the portal, before batchprov: its id."""
    body = {
        "name": name,
        "phone_number_request": {"match_type": "tollfree"},
        "call_routes": {"route_type": "Basic", "route": {"termination_number": rings}},
    }
    return str(server.state.create_number(GROUP, body)["id"])


def puts(server: RunningSandbox) -> dict[str, int]:
    """Applied updates per number id, from the ledger."""
    return {
        str(n["id"]): sum(1 for c in n["changes"] if c["action"] == "update")
        for n in server.state.ledger()
    }


def sent(server: RunningSandbox, route: str) -> int:
    """Requests of one route the sandbox answered (or dropped), whatever the outcome."""
    return sum(n for key, n in server.state.stats.items() if key.startswith(route + " "))


def update(server: RunningSandbox, sheet: Path, out: Path, journal: Path) -> tuple[Report, Plan]:
    """``run --update`` of ``sheet``, confirmed; the report and the plan it showed."""
    shown: list[Plan] = []
    report = run_file(
        sheet,
        out,
        config=RunConfig(journal=journal, update=True, options=FAST),
        api=api_of(server),
        on_plan=shown.append,
        confirm=lambda plan: plan.to_update > 0 or plan.to_order > 0,
    )
    (plan,) = shown
    return report, plan


def cells(path: Path, header: str) -> list[Any]:
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    index = rows[0].index(header)
    return [row[index] for row in rows[1:] if row[0] is not None]


def test_names_found_in_the_account_are_updated(server: RunningSandbox, tmp_path: Path) -> None:
    """A new journal and a sheet of names: rows found by name are updated, once, nothing bought."""
    ids = bought_by_someone_else(server, tmp_path)
    posts = sent(server, POSTS)
    sheet = plain_sheet(
        tmp_path / "ads.csv",
        NAMES,
        rings={0: "9055550101", 1: "9055550102"},
        records={2: "yes"},
    )
    journal = tmp_path / "mine.sqlite"
    report, plan = update(server, sheet, tmp_path / "ads.results.xlsx", journal)
    assert report.counts() == {"already provisioned": 1, "updated": 3}, [
        r.error for r in report.results
    ]
    assert report.exit_code == 0
    changed = [ids[n] for n in NAMES[:3]]
    assert plan.to_update == 3 == sum(puts(server).values())
    assert {k: v for k, v in puts(server).items() if v} == dict.fromkeys(changed, 1)
    assert sent(server, PUTS) == 3 and sent(server, POSTS) == posts  # nothing bought
    assert len(server.state.ledger()) == len(NAMES)
    text = plan.describe()
    assert "About to update 3 number(s)" in text and "About to order" not in text
    assert f"row 2 ({NAMES[0]}, " in text and "termination_number 4165551234 → 9055550101" in text
    assert f"row 4 ({NAMES[2]}, " in text and "record_calls (none) → yes" in text
    first = server.state.get_number(int(ids[NAMES[0]]))
    assert first["call_routes"]["route"]["termination_number"] == "9055550101"
    assert first["name"] == NAMES[0]  # only the changed field moved
    assert cells(tmp_path / "ads.results.xlsx", "Status")[:3] == ["updated"] * 3
    for result in report.results:
        assert not any("calls to it ring" in w for w in result.warnings)
    with Journal.open(journal) as jr:
        changes = jr.changes()
    assert sorted(c.number_id for c in changes) == sorted(changed)
    assert {c.state for c in changes} == {ChangeState.DONE}
    (run,) = read_history(journal)
    assert (run.kind, run.updated) == ("update", 3)
    again, plan = update(server, sheet, tmp_path / "again.xlsx", tmp_path / "new.sqlite")
    assert again.counts() == {"already provisioned": len(NAMES)} and plan.to_update == 0
    assert sent(server, PUTS) == 3


def test_names_found_only_warn_without_update(server: RunningSandbox, tmp_path: Path) -> None:
    """Without --update a row found by name that differs is warned once; nothing is sent."""
    bought_by_someone_else(server, tmp_path)
    sheet = plain_sheet(tmp_path / "ads.csv", NAMES, rings={1: "9055550102"})
    asked: list[Plan] = []
    report = run_file(
        sheet,
        tmp_path / "out.xlsx",
        config=RunConfig(journal=tmp_path / "mine.sqlite", options=FAST),
        api=api_of(server),
        confirm=lambda plan: asked.append(plan) or True,
    )
    assert report.counts() == {"already provisioned": len(NAMES)} and report.exit_code == 0
    warned = report.results[1].warnings
    assert [w for w in warned if "9055550102" in w] == [
        "the account differs from this row (termination_number 4165551234 → 9055550102); "
        "run with --update to change it"
    ]
    assert not any("--update" in w for r in report.results if r.index != 1 for w in r.warnings)
    assert asked == [] and sent(server, PUTS) == 0


def test_a_name_several_numbers_share_is_not_updated(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """Two numbers named like the row: review, no PUT for either; a unique name is updated."""
    twins = [portal_number(server, "Twin Plumbing"), portal_number(server, "twin  plumbing")]
    single = portal_number(server, "Single Plumbing")
    sheet = plain_sheet(tmp_path / "ads.csv", ["Twin Plumbing", "Single Plumbing"])
    report, plan = update(server, sheet, tmp_path / "out.xlsx", tmp_path / "mine.sqlite")
    twin, one = report.results
    assert (twin.status, one.status) == (Status.FAILED, Status.UPDATED)
    assert twin.change_failed and report.exit_code == 1
    assert twin.error is not None and "nothing was bought" in twin.error
    assert ", ".join(twins) in twin.error
    assert "not updated either: 2 numbers have this name" in twin.error
    assert plan.to_update == 1 and "Twin" not in "\n".join(plan.update_lines)
    assert "1 row(s) will not be updated" in plan.describe()
    assert {k: v for k, v in puts(server).items() if v} == {single: 1}
    assert sent(server, POSTS) == 0 and len(server.state.ledger()) == 3


@pytest.mark.parametrize(
    ("script", "applied", "status", "code"),
    [
        (("503",), 1, Status.UPDATED, 0),  # refused before the change, then sent again
        (("drop_after",), 1, Status.UPDATED, 0),  # applied, answer lost: read back, not re-sent
        (("400",), 0, Status.ALREADY_PROVISIONED, 1),  # refused for good: the row failed
        (("503",) * 4, 0, Status.ALREADY_PROVISIONED, 1),  # never confirmed: the row failed
    ],
)
def test_an_update_under_faults(
    server: RunningSandbox,
    tmp_path: Path,
    script: tuple[str, ...],
    applied: int,
    status: Status,
    code: int,
) -> None:
    """Each fault of a PUT: applied at most once; refused or unconfirmed fails the row (exit 1)."""
    number_id = portal_number(server, "Faulty Plumbing")
    server.state.script(*script)
    sheet = plain_sheet(tmp_path / "ads.csv", ["Faulty Plumbing"])
    journal = tmp_path / "mine.sqlite"
    report, plan = update(server, sheet, tmp_path / "out.xlsx", journal)
    (result,) = report.results
    assert plan.to_update == 1 and puts(server) == {number_id: applied}
    assert (result.status, report.exit_code) == (status, code), result.error
    assert result.number_id == number_id and sent(server, POSTS) == 0
    assert sent(server, PUTS) == (1 if script == ("drop_after",) else len(script) + applied)
    with Journal.open(journal) as jr:
        (change,) = jr.changes()
    assert (change.state is ChangeState.DONE) == bool(applied)
    if applied:
        return
    assert result.change_failed and result.error is not None
    assert result.error.startswith("not updated (termination_number 4165550000 → 4165551234): ")
    assert cells(tmp_path / "out.xlsx", "Error") == [result.error]
    assert cells(tmp_path / "out.xlsx", "Status") == ["already provisioned"]
    errors = openpyxl.load_workbook(tmp_path / "out.xlsx")["Errors"]
    assert any(result.error in str(row) for row in errors.iter_rows(values_only=True))
    retried, _ = update(server, sheet, tmp_path / "again.xlsx", journal)
    assert retried.exit_code == 0 and puts(server) == {number_id: 1}


def test_cli_exits_1_when_an_update_is_refused(
    server: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --update --yes`: a 400 on the PUT is a problem on the row and exit code 1."""
    monkeypatch.setenv("TELMETRICS_TOKEN", server.token)
    portal_number(server, "Refused Plumbing")
    server.state.script("400")
    sheet = plain_sheet(tmp_path / "ads.csv", ["Refused Plumbing"])
    args = ["run", str(sheet), "--api-url", server.url, "--journal", str(tmp_path / "j.sqlite")]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "out.xlsx"), "--update", "--yes"])
    assert result.exit_code == 1, result.output
    assert "1 problem to fix" in result.stdout and "not updated" in result.stdout
    assert "HTTP 400" in result.stdout or "refused" in result.stdout
    again = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "again.xlsx"), "--json"])
    assert again.exit_code == 0  # without --update the difference is a warning again
    (row,) = json.loads(again.stdout)["results"]
    assert row["change_failed"] is False and any("--update" in w for w in row["warnings"])


def test_cli_exits_1_when_a_release_is_refused(
    server: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`release --yes`: a 400 on one DELETE fails that row (exit 1); the next release ends it."""
    monkeypatch.setenv("TELMETRICS_TOKEN", server.token)
    journal = tmp_path / "j.sqlite"
    results = tmp_path / "ads.results.xlsx"
    run_file(
        plain_sheet(tmp_path / "ads.csv", NAMES[:2]),
        results,
        config=RunConfig(journal=journal, options=FAST),
        api=api_of(server),
        confirm=lambda plan: True,
    )
    server.state.script("400")
    args = ["release", str(results), "--journal", str(journal), "--yes", "--json"]
    first = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "gone.xlsx")])
    assert first.exit_code == 1, first.output
    summary = json.loads(first.stdout)
    assert summary["counts"] == {"provisioned": 1, "released": 1}
    refused = [r for r in summary["results"] if r["status"] == "provisioned"]
    assert refused[0]["change_failed"] and refused[0]["error"].startswith("not released: ")
    assert cells(tmp_path / "gone.xlsx", "Error")[0].startswith("not released: ")
    second = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "gone2.xlsx")])
    assert second.exit_code == 0, second.output
    assert [n["released"] for n in server.state.ledger()] == [True, True]
    assert sent(server, DELETES) == 3  # one refused, then one each
