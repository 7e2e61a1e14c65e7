"""A number's whole life against the sandbox on loopback: buy, export, release, history.

Every test counts requests in the sandbox's own stats and ledger: an export orders nothing, a
release sends one applied DELETE per number whatever the faults, and a killed release resumes
without a second one.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from batchprov.config import Api, RunConfig
from batchprov.errors import ConfirmationRefused
from batchprov.lifecycle.export import export_groups
from batchprov.lifecycle.history import read_history, write_audit
from batchprov.lifecycle.release import release_numbers
from batchprov.models import Status
from batchprov.order.journal import Journal
from batchprov.order.runner import RunOptions
from batchprov.pipeline import run_file
from batchprov.sandbox import Faults, RunningSandbox, SandboxConfig, serve_in_thread

GROUP = 11623282
NAMES = [f"Lifecycle Advertiser {i}" for i in range(6)]
DELETES = "DELETE /v3/api/numbers/{number_id}"
POSTS = "POST /v3/api/groups/{group_id}/numbers"
FAST = RunConfig(options=RunOptions(timeout=1.0, settle_delay=0.2))


@pytest.fixture
def server() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig()) as running:
        yield running


def api_of(server: RunningSandbox) -> Api:
    """The served sandbox as a real API would be used: its URL and token, journaled."""
    return Api(url=server.url, token=server.token)


def sheet(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "group_id", "match_type", "termination_number", "record_calls"])
        for i, name in enumerate(NAMES):
            writer.writerow([name, GROUP, "tollfree", "4165551234", "yes" if i % 2 else ""])
    return path


def buy(server: RunningSandbox, tmp_path: Path, journal: Path) -> Path:
    """Order every row of a fresh sheet; the results workbook."""
    out = tmp_path / "ads.results.xlsx"
    config = RunConfig(journal=journal, options=FAST.options)
    report = run_file(
        sheet(tmp_path / "ads.csv"),
        out,
        config=config,
        api=api_of(server),
        confirm=lambda plan: True,
    )
    assert report.counts() == {"provisioned": len(NAMES)}
    return out


def applied_deletes(server: RunningSandbox) -> int:
    stats = server.state.stats
    return stats[f"{DELETES} 200"] + stats[f"{DELETES} dropped"]


def statuses(path: Path) -> list[str]:
    ws = openpyxl.load_workbook(path).worksheets[0]
    header = [c.value for c in ws[1]]
    column = header.index("Status")
    return [str(row[column].value) for row in ws.iter_rows(min_row=2) if row[0].value]


def test_export_round_trip_orders_nothing(server: RunningSandbox, tmp_path: Path) -> None:
    """An export lists every page; running it orders nothing and reports every number."""
    journal = tmp_path / "journal.sqlite"
    buy(server, tmp_path, journal)
    posts = server.state.stats[f"{POSTS} 200"]
    exported = tmp_path / "numbers.xlsx"
    report = export_groups([GROUP], exported, api=api_of(server))
    assert len(report.results) == len(NAMES)
    ws = openpyxl.load_workbook(exported).worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:7] == [
        "name",
        "group_id",
        "match_type",
        "termination_number",
        "record_calls",
        "recording_message",
        "whisper_message",
    ]
    first = {h: c.value for h, c in zip(header, ws[2], strict=False)}
    assert first["termination_number"] == "4165551234" and first["match_type"] is None
    assert first["Status"] == "already provisioned" and first["Provisioned At"]
    assert {ws.cell(r, 5).value for r in range(2, 2 + len(NAMES))} == {"yes", None}
    # A second journal, as on another machine: the workbook alone keeps it from buying.
    rerun = run_file(
        exported,
        tmp_path / "again.xlsx",
        api=api_of(server),
        config=RunConfig(journal=tmp_path / "other.sqlite"),
        confirm=lambda plan: True,
    )
    assert rerun.counts() == {"already provisioned": len(NAMES)}
    assert rerun.issues == ()  # a blank match_type is moot on a row that has its number
    assert server.state.stats[f"{POSTS} 200"] == posts


def test_export_csv_and_small_pages(tmp_path: Path) -> None:
    """Every page of a group is exported (pages smaller than the group), as CSV with -o .csv."""
    with serve_in_thread(SandboxConfig(page_size_max=2)) as small:
        for i in range(5):
            body = {
                "name": f"Paged {i}",
                "phone_number_request": {"match_type": "tollfree"},
                "call_routes": {
                    "route_type": "Basic",
                    "route": {"termination_number": "4165551234"},
                },
            }
            small.state.create_number(GROUP, body)
        out = export_groups([GROUP], tmp_path / "paged.csv", api=api_of(small)).output_path
    assert out is not None
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == [f"Paged {i}" for i in range(5)]
    assert {r["Status"] for r in rows} == {"already provisioned"}


def test_release_once_under_faults(server: RunningSandbox, tmp_path: Path) -> None:
    """503s, drops after the change and late answers: each number is released exactly once."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    server.state.set_faults(
        Faults(error_503=0.3, drop_after_create=0.3, late_after_create=0.2, late_seconds=1.5)
    )
    report = release_numbers(
        results,
        tmp_path / "gone.xlsx",
        journal=journal,
        api=api_of(server),
        confirm=lambda plan: True,
        timeout=0.5,
    )
    server.state.set_faults(Faults())
    assert report.counts() == {"released": len(NAMES)}, [r.error for r in report.results]
    ledger = server.state.ledger()
    assert all(n["released"] for n in ledger)
    assert [len([c for c in n["changes"] if c["action"] == "release"]) for n in ledger] == [1] * 6
    assert server.state.stats[f"{DELETES} 503"] > 0  # the faults did happen
    assert statuses(tmp_path / "gone.xlsx") == ["released"] * len(NAMES)
    again = release_numbers(
        results,
        tmp_path / "gone2.xlsx",
        journal=journal,
        api=api_of(server),
        confirm=lambda plan: True,
    )
    assert again.extra["plan"].to_release == () and again.extra["plan"].already == len(NAMES)
    assert server.state.stats[f"{DELETES} 503"] + applied_deletes(server) == sum(
        v for k, v in server.state.stats.items() if k.startswith(DELETES)
    )


def test_release_refused_without_confirmation(server: RunningSandbox, tmp_path: Path) -> None:
    """Without a confirmation nothing is sent and the journal records no release."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    with pytest.raises(ConfirmationRefused):
        release_numbers(results, journal=journal, api=api_of(server), confirm=lambda plan: False)
    assert applied_deletes(server) == 0
    with Journal.open(journal) as jr:
        assert jr.changes() == []


def test_release_cli_without_terminal_refuses(server: RunningSandbox, tmp_path: Path) -> None:
    """`release` with no terminal and no --yes exits 2 and sends nothing; --yes releases."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    cmd = [sys.executable, "-m", "batchprov", "release", str(results), "--journal", str(journal)]
    env = {**os.environ, "TELMETRICS_TOKEN": server.token}
    refused = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2, refused.stderr
    assert "About to release 6 number(s)" in refused.stderr and NAMES[0] in refused.stderr
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert applied_deletes(server) == 0
    done = subprocess.run(
        [*cmd, "--yes", "--json"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"] == {"released": 6}
    assert applied_deletes(server) == len(NAMES)


def test_release_only_our_numbers(server: RunningSandbox, tmp_path: Path) -> None:
    """Numbers another journal bought are left alone unless --include-foreign."""
    results = buy(server, tmp_path, tmp_path / "theirs.sqlite")
    mine = tmp_path / "mine.sqlite"
    api = api_of(server)
    report = release_numbers(
        results, tmp_path / "r.xlsx", journal=mine, api=api, confirm=lambda plan: True
    )
    plan = report.extra["plan"]
    assert plan.to_release == () and plan.foreign == len(NAMES)
    assert applied_deletes(server) == 0
    report = release_numbers(
        results,
        tmp_path / "r.xlsx",
        journal=mine,
        api=api,
        include_foreign=True,
        confirm=lambda plan: True,
    )
    assert report.counts() == {"released": len(NAMES)}


@pytest.mark.parametrize("point", ["after_change_intent:3", "after_change_send:3"])
def test_killed_release_resumes_without_second_delete(
    server: RunningSandbox, tmp_path: Path, point: str
) -> None:
    """kill -9 between intent and outcome: the next release verifies, never deletes twice."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    cmd = [
        sys.executable,
        "-m",
        "batchprov",
        "release",
        str(results),
        "--journal",
        str(journal),
        "--yes",
        "-o",
        str(tmp_path / "released.xlsx"),
    ]
    env = {**os.environ, "TELMETRICS_TOKEN": server.token, "BATCHPROV_CRASH_AT": point}
    killed = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert killed.returncode == 137
    expected = 3 if point.startswith("after_change_send") else 2
    assert applied_deletes(server) == expected
    env.pop("BATCHPROV_CRASH_AT")
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert applied_deletes(server) == len(NAMES)
    assert server.state.stats[f"{DELETES} 404"] == 0
    assert statuses(tmp_path / "released.xlsx") == ["released"] * len(NAMES)


def test_history_and_audit(server: RunningSandbox, tmp_path: Path) -> None:
    """history lists the run (user, input, SHA-256, API, counts, bought) and the release."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    release_numbers(
        results,
        tmp_path / "gone.xlsx",
        journal=journal,
        api=api_of(server),
        confirm=lambda plan: True,
    )
    runs = read_history(journal)
    assert [r.kind for r in runs] == ["run", "release"]
    bought, released = runs
    assert bought.input_name == "ads.csv" and len(bought.input_sha256 or "") == 64
    assert bought.api_url == api_of(server).key_url and bought.os_user
    assert (bought.bought, bought.counts) == (len(NAMES), {"provisioned": len(NAMES)})
    assert (released.released, released.counts["released"]) == (len(NAMES), len(NAMES))
    audit = write_audit(bought.run_id[:8], tmp_path / "audit.xlsx", journal=journal)
    ws = openpyxl.load_workbook(audit).worksheets[0]
    header = [c.value for c in ws[1]]
    names = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)]
    assert sorted(names) == sorted(NAMES)
    # Bought by this run and released since: the audit says so, with the body it sent.
    assert {ws.cell(r, header.index("Status") + 1).value for r in range(2, 8)} == {"released"}
    body = json.loads(ws.cell(2, header.index("Request Body") + 1).value)
    assert body["phone_number_request"]["match_type"] == "tollfree"
    # A re-run of the sheet does not silently buy a released row again.
    rerun = run_file(
        tmp_path / "ads.csv",
        tmp_path / "re.xlsx",
        api=api_of(server),
        config=RunConfig(journal=journal),
        confirm=lambda plan: True,
    )
    assert rerun.counts() == {Status.FAILED.value: len(NAMES)}
    assert "released" in (rerun.results[0].error or "")


def test_history_of_old_journal_migrates(tmp_path: Path) -> None:
    """A journal made before runs recorded their facts gains the columns and still lists."""
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE run(run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL,"
        " tool_version TEXT, ended_at TEXT, outcome TEXT)"
    )
    db.execute("INSERT INTO run VALUES ('abc', '2026-01-01T00:00:00Z', '0.1', NULL, NULL)")
    db.commit()
    db.close()
    runs = read_history(path)
    assert [(r.run_id, r.kind, r.bought, r.counts) for r in runs] == [("abc", "run", 0, {})]


def edited_export(server: RunningSandbox, tmp_path: Path) -> tuple[Path, list[str]]:
    """An export of the group with two termination numbers and one recording changed."""
    exported = tmp_path / "numbers.xlsx"
    export_groups([GROUP], exported, api=api_of(server))
    book = openpyxl.load_workbook(exported)
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    term, record = header.index("termination_number") + 1, header.index("record_calls") + 1
    ws.cell(2, term).value = "9055550101"
    ws.cell(3, term).value = "9055550102"
    ws.cell(4, record).value = "no" if ws.cell(4, record).value == "yes" else "yes"
    book.save(exported)
    changed = [str(ws.cell(r, header.index("Number ID") + 1).value) for r in (2, 3, 4)]
    return exported, changed


def puts(server: RunningSandbox) -> dict[str, int]:
    """Applied updates per number id, from the ledger."""
    return {
        str(n["id"]): sum(1 for c in n["changes"] if c["action"] == "update")
        for n in server.state.ledger()
    }


def test_differences_warn_without_update(server: RunningSandbox, tmp_path: Path) -> None:
    """Without --update an edited route is a warning on its row and nothing is sent."""
    journal = tmp_path / "journal.sqlite"
    buy(server, tmp_path, journal)
    exported, changed = edited_export(server, tmp_path)
    report = run_file(
        exported,
        tmp_path / "warned.xlsx",
        api=api_of(server),
        config=RunConfig(journal=journal),
        confirm=lambda plan: True,
    )
    assert report.counts() == {"already provisioned": len(NAMES)}
    warned = [r for r in report.results if any("--update" in w for w in r.warnings)]
    assert [r.number_id for r in warned] == changed
    assert "9055550101" in warned[0].warnings[-1]
    assert set(puts(server).values()) == {0}


def test_update_applied_once_under_faults(server: RunningSandbox, tmp_path: Path) -> None:
    """--update: the plan lists each change; every PUT is applied once through 503s and drops."""
    journal = tmp_path / "journal.sqlite"
    buy(server, tmp_path, journal)
    exported, changed = edited_export(server, tmp_path)
    before = {n["id"]: n for n in server.state.ledger()}
    shown: list[str] = []
    server.state.set_faults(
        Faults(error_503=0.3, drop_after_create=0.3, late_after_create=0.2, late_seconds=1.5)
    )
    config = RunConfig(journal=journal, update=True, options=RunOptions(timeout=0.5))
    report = run_file(
        exported,
        tmp_path / "updated.xlsx",
        api=api_of(server),
        config=config,
        confirm=lambda plan: shown.append(plan.describe()) or True,
    )
    server.state.set_faults(Faults())
    assert report.counts() == {"already provisioned": 3, "updated": 3}, [
        r.error for r in report.results
    ]
    assert "About to update 3 number(s)" in shown[0]
    assert "termination_number 4165551234 → 9055550101" in shown[0]
    assert {k: v for k, v in puts(server).items() if v} == dict.fromkeys(changed, 1)
    after = {str(n["id"]): server.state.get_number(n["id"]) for n in before.values()}
    first = after[changed[0]]
    assert first["call_routes"]["route"]["termination_number"] == "9055550101"
    assert first["name"] == before[int(changed[0])]["name"]  # only the changed field moved
    assert first["call_routes"]["route"]["id"] == int(report.results[0].route_id or 0)
    assert statuses(tmp_path / "updated.xlsx").count("updated") == 3
    again = run_file(
        tmp_path / "updated.xlsx",
        tmp_path / "again.xlsx",
        api=api_of(server),
        config=config,
        confirm=lambda plan: True,
    )
    assert again.counts() == {"already provisioned": len(NAMES)}
    assert {k: v for k, v in puts(server).items() if v} == dict.fromkeys(changed, 1)
    runs = read_history(journal)
    assert [r.kind for r in runs][-1] == "update" and runs[-1].updated == 3


def test_release_a_journal_run(server: RunningSandbox, tmp_path: Path) -> None:
    """--run releases what that run bought; -o writes the release as an audit workbook."""
    journal = tmp_path / "journal.sqlite"
    buy(server, tmp_path, journal)
    (bought,) = read_history(journal)
    report = release_numbers(
        None,
        tmp_path / "audit.xlsx",
        run_id=bought.run_id[:10],
        journal=journal,
        api=api_of(server),
        confirm=lambda plan: True,
    )
    assert report.counts() == {"released": len(NAMES)}
    assert applied_deletes(server) == len(NAMES)
    assert statuses(tmp_path / "audit.xlsx") == ["released"] * len(NAMES)
    again = release_numbers(
        None, run_id=bought.run_id, journal=journal, api=api_of(server), confirm=lambda plan: True
    )
    assert again.extra["plan"].already == len(NAMES) and applied_deletes(server) == len(NAMES)


def test_numbers_found_after_lost_answers_count_for_their_run(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """Numbers a run's own reconcile adopted after lost answers are in its history, its audit
    and its release."""
    journal = tmp_path / "journal.sqlite"
    server.state.set_faults(Faults(drop_after_create=0.5))
    buy(server, tmp_path, journal)
    server.state.set_faults(Faults())
    assert server.state.stats[f"{POSTS} dropped"] > 0  # some answers were lost
    (run,) = read_history(journal)
    assert run.bought == len(server.state.ledger()) == len(NAMES)
    write_audit(run.run_id, tmp_path / "audit.xlsx", journal=journal)
    assert statuses(tmp_path / "audit.xlsx") == ["provisioned"] * len(NAMES)
    report = release_numbers(
        None, run_id=run.run_id, journal=journal, api=api_of(server), confirm=lambda plan: True
    )
    assert report.counts() == {"released": len(NAMES)}
    assert all(n["released"] for n in server.state.ledger())


def test_history_command(server: RunningSandbox, tmp_path: Path) -> None:
    """`history` lists the runs (JSON too) and writes one run's audit workbook with -o."""
    journal = tmp_path / "journal.sqlite"
    buy(server, tmp_path, journal)
    base = [sys.executable, "-m", "batchprov", "history", "--journal", str(journal)]
    listed = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert (run["kind"], run["bought"], run["input_name"]) == ("run", len(NAMES), "ads.csv")
    text = subprocess.run(base, capture_output=True, text=True, timeout=120).stdout
    assert run["run_id"][:12] in text and f"bought {len(NAMES)}" in text
    audit = tmp_path / "audit.csv"
    wrote = subprocess.run(
        [*base, run["run_id"][:8], "-o", str(audit)], capture_output=True, text=True, timeout=120
    )
    assert wrote.returncode == 0, wrote.stderr
    with audit.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["name"] for r in rows) == sorted(NAMES)
    assert {r["Status"] for r in rows} == {"provisioned"}
    refused = subprocess.run([*base, "-o", str(audit)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "RUN_ID" in refused.stderr


def test_releasing_an_earlier_run_leaves_a_later_runs_numbers(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """--run of a run whose numbers were released, and bought again by a later run, releases
    nothing: the later run's numbers are not the earlier run's, in its release or its audit."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    (first,) = read_history(journal)
    api = api_of(server)
    release_numbers(
        results, tmp_path / "gone.xlsx", journal=journal, api=api, confirm=lambda plan: True
    )
    again = run_file(
        sheet(tmp_path / "ads.csv"),
        tmp_path / "again.xlsx",
        config=RunConfig(journal=journal, options=replace(FAST.options, retry_failed=True)),
        api=api,
        confirm=lambda plan: True,
    )
    assert again.counts() == {"provisioned": len(NAMES)}
    live = {str(n["id"]) for n in server.state.ledger() if not n["released"]}
    assert len(live) == len(NAMES)
    report = release_numbers(
        None, run_id=first.run_id, journal=journal, api=api, confirm=lambda plan: True
    )
    plan = report.extra["plan"]
    assert plan.to_release == () and plan.already == len(NAMES)
    assert {str(n["id"]) for n in server.state.ledger() if not n["released"]} == live
    assert applied_deletes(server) == len(NAMES)
    write_audit(first.run_id, tmp_path / "audit.csv", journal=journal)
    with (tmp_path / "audit.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["Status"] for r in rows} == {"released"}
    assert not {r["Number ID"] for r in rows} & live


def results_rows(results: Path) -> tuple[list[str], list[list[object]]]:
    """The header and the rows of a results workbook's first sheet."""
    ws = openpyxl.load_workbook(results).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return [str(h) for h in rows[0]], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_row_whose_number_id_was_edited_is_not_released(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """A row showing one number with another number's id (a cell edited or moved) releases
    neither: the plan names the row, the number the id is stays in the account, exit 1."""
    journal = tmp_path / "journal.sqlite"
    header, rows = results_rows(buy(server, tmp_path, journal))
    nid = header.index("Number ID")
    edited = [*rows[0][:nid], rows[1][nid], *rows[0][nid + 1 :]]
    results = write_csv(tmp_path / "edited.csv", header, [edited])
    report = release_numbers(
        results, tmp_path / "out.csv", journal=journal, api=api_of(server), confirm=lambda p: True
    )
    plan = report.extra["plan"]
    assert plan.to_release == () and len(plan.mismatched) == 1
    assert "not released" in plan.describe()
    assert applied_deletes(server) == 0
    assert not any(n["released"] for n in server.state.ledger())
    assert report.exit_code == 1 and report.results[0].status is not Status.RELEASED
    assert "not released" in (report.results[0].error or "")


def test_two_rows_showing_one_number_release_it_once(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """A results file with a row copied twice: the plan counts one number, one DELETE."""
    journal = tmp_path / "journal.sqlite"
    header, rows = results_rows(buy(server, tmp_path, journal))
    results = write_csv(tmp_path / "twice.csv", header, [rows[2], rows[2], rows[3]])
    seen: list[str] = []
    report = release_numbers(
        results,
        tmp_path / "out.csv",
        journal=journal,
        api=api_of(server),
        confirm=lambda plan: seen.append(plan.describe()) or True,
    )
    assert "About to release 2 number(s)" in seen[0]
    assert len(report.extra["plan"].to_release) == 2 and applied_deletes(server) == 2
    assert [r.status for r in report.results] == [Status.RELEASED] * 3
    (release,) = [r for r in read_history(journal) if r.kind == "release"]
    assert release.released == 2


def test_a_foreign_row_whose_number_id_was_edited_is_not_released(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """--include-foreign: a row whose id is another number than the row shows (read back
    first) releases nothing; the others of the file are released."""
    header, rows = results_rows(buy(server, tmp_path, tmp_path / "theirs.sqlite"))
    nid = header.index("Number ID")
    edited = [*rows[0][:nid], rows[1][nid], *rows[0][nid + 1 :]]
    results = write_csv(tmp_path / "edited.csv", header, [edited, rows[2]])
    report = release_numbers(
        results,
        tmp_path / "out.csv",
        journal=tmp_path / "mine.sqlite",
        api=api_of(server),
        include_foreign=True,
        confirm=lambda plan: True,
    )
    assert applied_deletes(server) == 1
    assert [n["released"] for n in server.state.ledger()] == [False, False, True, *[False] * 3]
    assert [r.status for r in report.results] == [Status.PROVISIONED, Status.RELEASED]
    assert "nothing was released" in (report.results[0].error or "")
    assert report.exit_code == 1


def test_after_a_release_a_dry_run_reports_what_the_run_would(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """The original sheet after a release: the online dry run and the run both say released."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    release_numbers(
        results, tmp_path / "ads.released.xlsx", journal=journal, api=api_of(server),
        confirm=lambda plan: True,
    )  # fmt: skip
    config = RunConfig(journal=journal, options=FAST.options)
    dry = run_file(
        tmp_path / "ads.csv", tmp_path / "plan.xlsx", config=replace(config, dry_run=True,
        online=True), api=api_of(server),
    )  # fmt: skip
    run = run_file(
        tmp_path / "ads.csv", tmp_path / "again.xlsx", config=config, api=api_of(server),
        confirm=lambda plan: True,
    )  # fmt: skip
    assert dry.extra["plan"].to_order == run.extra["plan"].to_order == 0
    assert [(r.status, r.error) for r in dry.results] == [(r.status, r.error) for r in run.results]
    assert {r.status for r in dry.results} == {Status.FAILED}
    assert all("was released" in (r.error or "") for r in dry.results)
    assert len(server.state.ledger()) == len(NAMES)  # nothing bought again


def test_a_released_workbook_run_again_says_its_numbers_were_released(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """The plan of a released workbook counts its rows as released, not as having a number."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    gone = tmp_path / "ads.released.xlsx"
    release_numbers(results, gone, journal=journal, api=api_of(server), confirm=lambda p: True)
    config = RunConfig(journal=journal, options=FAST.options)
    report = run_file(gone, tmp_path / "again.xlsx", config=config, api=api_of(server))
    plan = report.extra["plan"]
    assert (plan.to_order, plan.already, plan.released) == (0, 0, len(NAMES))
    assert "show a released number and will be skipped" in plan.describe()
    assert plan.as_dict()["released_before"] == len(NAMES)
    assert len(server.state.ledger()) == len(NAMES)


def test_a_results_workbook_from_before_a_release_says_released(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """Run again after its numbers were released, a results workbook's rows read released."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    release_numbers(results, tmp_path / "gone.xlsx", journal=journal, api=api_of(server),
                    confirm=lambda p: True)  # fmt: skip
    config = RunConfig(journal=journal, options=FAST.options)
    for dry in (True, False):
        report = run_file(
            results, tmp_path / f"again-{dry}.xlsx", config=replace(config, dry_run=dry),
            api=api_of(server), confirm=lambda p: True,
        )  # fmt: skip
        plan = report.extra["plan"]
        assert (plan.to_order, plan.already, plan.released) == (0, 0, len(NAMES))
        assert {r.status for r in report.results} == {Status.RELEASED}
        assert all("was released on" in r.warnings[0] for r in report.results)
    assert len(server.state.ledger()) == len(NAMES)


def test_a_released_workbook_keeps_what_the_results_said(
    server: RunningSandbox, tmp_path: Path
) -> None:
    """The released copy keeps each row's Ordered As and Expected Area from the results."""
    journal = tmp_path / "journal.sqlite"
    results = buy(server, tmp_path, journal)
    gone = tmp_path / "gone.xlsx"
    release_numbers(results, gone, journal=journal, api=api_of(server), confirm=lambda p: True)

    def columns(path: Path) -> list[tuple[object, object]]:
        ws = openpyxl.load_workbook(path).worksheets[0]
        header = [c.value for c in ws[1]]
        at = header.index("Ordered As"), header.index("Expected Area")
        return [(r[at[0]], r[at[1]]) for r in ws.iter_rows(min_row=2, values_only=True) if r[0]]

    before = columns(results)
    assert before and all(kind == "Toll-free" and area for kind, area in before)
    assert columns(gone) == before
    assert statuses(gone) == ["released"] * len(NAMES)
