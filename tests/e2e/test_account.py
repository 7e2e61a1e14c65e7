"""The account is the truth: exact plans, caps, and no number bought twice without the journal.

Each test serves a sandbox on loopback and plays it as the real API (a token, --api-url,
--yes), then counts money: numbers on the server (the ledger) against the journal and the
workbook — bought, duplicates (0), lost (0).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.config import Api, RunConfig
from batchprov.models import Fallback
from batchprov.pipeline import check_file, plan_run, run_file
from batchprov.sandbox import Faults, SandboxConfig, serve_in_thread
from batchprov.sandbox.server import RunningSandbox
from batchprov.urls import normalise_url
from batchprov.web.jobs import account_plan, new_id, new_job
from batchprov.web.orderform import OrderOptions

TOKEN = "acct-secret-token-0123456789"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROWS = 26  # examples/advertisers.xlsx


@pytest.fixture
def api() -> Iterator[RunningSandbox]:
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=7)) as server:
        yield server


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMETRICS_TOKEN", TOKEN)


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def order(api: RunningSandbox, tmp_path: Path, *extra: str, source: Path | None = None,
          journal: str = "j.sqlite", out: str = "out.xlsx", url: str | None = None
          ) -> tuple[int, dict[str, Any], str]:  # fmt: skip
    code, stdout, stderr = run_cli(
        "run", str(source or EXAMPLES / "advertisers.xlsx"), "--api-url", url or api.url,
        "--journal", str(tmp_path / journal), "-o", str(tmp_path / out), "--yes", "--json",
        *extra,
    )  # fmt: skip
    return code, json.loads(stdout) if stdout.strip().startswith("{") else {}, stderr


def bought(api: RunningSandbox) -> Counter[str]:
    """Purchases per requested name on the server."""
    return Counter(n["requested_name"].casefold() for n in api.state.ledger())


def posts(api: RunningSandbox) -> int:
    return sum(n for key, n in api.state.stats.items() if key.startswith("POST"))


def requests(api: RunningSandbox) -> int:
    return sum(api.state.stats.values())


def column(path: Path, header: str) -> list[Any]:
    ws = openpyxl.load_workbook(path).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, row in enumerate(rows) if header in row)
    index = rows[at].index(header)
    return [row[index] for row in rows[at + 1 :] if any(c is not None for c in row)]


def test_a_second_journal_orders_nothing(api: RunningSandbox, tmp_path: Path) -> None:
    """A new journal (a new laptop) finds every number in the account and buys none again."""
    code, first, _ = order(api, tmp_path, journal="first.sqlite", out="first.xlsx")
    assert (code, first["counts"]) == (0, {"provisioned": ROWS})
    numbers = column(tmp_path / "first.xlsx", "Tracking Number")
    code, second, _ = order(api, tmp_path, journal="second.sqlite", out="second.xlsx")
    assert (code, second["counts"]) == (0, {"already provisioned": ROWS})
    assert second["plan"]["to_order"] == 0 and second["plan"]["found_in_account"] == ROWS
    assert "confirm" not in second  # nothing to buy: nothing to confirm
    assert numbers == column(tmp_path / "second.xlsx", "Tracking Number")
    warnings = column(tmp_path / "second.xlsx", "Warnings")
    assert all("found in the account" in w for w in warnings)
    assert len(api.state.ledger()) == ROWS and max(bought(api).values()) == 1


@pytest.mark.parametrize(
    "spelling", ["{scheme}://{host}/v3/api/", "HTTP://{HOST}/v3/api", "{scheme}://{host}/v3/api//"]
)
def test_a_respelled_url_orders_nothing(api: RunningSandbox, tmp_path: Path, spelling: str) -> None:
    """The same API spelled otherwise is the same journal key, and the same account."""
    order(api, tmp_path)
    host = f"{api.host}:{api.port}"
    url = spelling.format(scheme="http", host=host, HOST=host.upper())
    assert normalise_url(url) == normalise_url(api.url)
    code, again, _ = order(api, tmp_path, url=url, out="again.xlsx")
    assert (code, again["counts"]) == (0, {"already provisioned": ROWS})
    assert len(api.state.ledger()) == ROWS


def test_default_port_and_credentials_leave_the_key(tmp_path: Path) -> None:
    """Scheme and host case, the default port, credentials and trailing slashes do not count."""
    assert normalise_url("HTTPS://User:Pw@API.Example.com:443/v3/api/") == (
        "https://api.example.com/v3/api"
    )
    assert normalise_url("http://h:8080/x") == "http://h:8080/x"


def preexisting(api: RunningSandbox, *names: str) -> list[dict[str, Any]]:
    """Numbers someone bought in the portal before batchprov ever ran."""
    route = {"route_type": "Basic", "route": {"termination_number": "4165550000"}}
    return [
        api.state.create_number(
            11623282,
            {
                "name": name,
                "phone_number_request": {"match_type": "tollfree"},
                "call_routes": route,
            },
        )
        for name in names
    ]


def one_row(tmp_path: Path, name: str = "Portal Plumbing") -> Path:
    path = tmp_path / "one.csv"
    path.write_text(
        f"name,group_id,match_type,termination_number\n{name},11623282,tollfree,4165551234\n",
        encoding="utf-8",
    )
    return path


def test_a_name_already_in_the_account_is_taken_not_bought(
    api: RunningSandbox, tmp_path: Path
) -> None:
    """Found in the account: already provisioned with that number, its ringing number noted."""
    (existing,) = preexisting(api, "portal  plumbing ")
    code, report, _ = order(api, tmp_path, source=one_row(tmp_path))
    assert (code, report["counts"]) == (0, {"already provisioned": 1})
    assert column(tmp_path / "out.xlsx", "Number ID") == [str(existing["id"])]
    (warning,) = column(tmp_path / "out.xlsx", "Warnings")
    assert "found in the account" in warning and "4165550000" in warning
    assert len(api.state.ledger()) == 1


def test_existing_order_buys_a_suffixed_number(api: RunningSandbox, tmp_path: Path) -> None:
    """--existing order buys anyway: the API suffixes the name and Assigned Name shows it."""
    preexisting(api, "Portal Plumbing")
    code, report, _ = order(api, tmp_path, "--existing", "order", source=one_row(tmp_path))
    assert (code, report["counts"]) == (0, {"provisioned": 1})
    assert column(tmp_path / "out.xlsx", "Assigned Name") == ["Portal Plumbing 2"]
    assert len(api.state.ledger()) == 2


def test_several_numbers_with_the_name_go_to_review(api: RunningSandbox, tmp_path: Path) -> None:
    """Two numbers already named like the row: failed for review, nothing bought."""
    preexisting(api, "Portal Plumbing", "portal plumbing")  # the same name, to people
    code, report, _ = order(api, tmp_path, source=one_row(tmp_path))
    assert (code, report["counts"]) == (1, {"failed": 1})
    (error,) = column(tmp_path / "out.xlsx", "Error")
    assert "2 numbers in group 11623282 are already named" in error
    assert len(api.state.ledger()) == 2 and posts(api) == 0


def test_a_resumed_run_plans_exactly_what_it_buys(api: RunningSandbox, tmp_path: Path) -> None:
    """A first run bought 10 rows; the next run's plan counts exactly the 16 left, and buys 16."""
    lines = (EXAMPLES / "advertisers.csv").read_text(encoding="utf-8").splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
    code, first, _ = order(api, tmp_path, source=part, out="part.xlsx")
    assert (code, first["counts"]) == (0, {"provisioned": 10})
    code, second, _ = order(api, tmp_path, source=EXAMPLES / "advertisers.csv", out="all.xlsx")
    assert second["plan"]["to_order"] == ROWS - 10
    assert second["plan"]["already"] == 10
    assert (code, second["counts"]) == (0, {"provisioned": 16, "already provisioned": 10})
    assert len(api.state.ledger()) == ROWS and max(bought(api).values()) == 1


def test_a_plan_over_a_cap_is_refused(api: RunningSandbox, tmp_path: Path) -> None:
    """--max-numbers below the plan, or --max-cost below its cost: exit 2, nothing sent."""
    code, _, err = order(api, tmp_path, "--max-numbers", "5", "--strict")
    assert code == 2 and "over --max-numbers 5" in err
    code, _, err = order(api, tmp_path, "--price-per-number", "2", "--max-cost", "10")
    assert code == 2 and "over --max-cost 10.00" in err
    assert posts(api) == 0 and not api.state.ledger()


def test_max_cost_needs_a_price(api: RunningSandbox, tmp_path: Path) -> None:
    """--max-cost without --price-per-number is a usage error before anything is read."""
    code, _, err = order(api, tmp_path, "--max-cost", "10")
    assert code == 2 and "--price-per-number" in err and requests(api) == 0


def _yes(plan: object) -> bool:
    return True


@pytest.mark.parametrize(
    "seed", [2, pytest.param(1, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)]
)
def test_caps_hold_under_faults_and_fallbacks(tmp_path: Path, seed: int) -> None:
    """Under drops, 500s, 503s and late answers, with fallbacks, purchases never pass the cap."""
    faults = Faults(
        drop_after_create=0.2, error_500_after_create=0.15, error_503=0.15, late_after_create=0.1,
        late_seconds=1.5, list_lag_ms=200,
    )  # fmt: skip
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=seed, stock=1, faults=faults)) as server:
        config = RunConfig(
            journal=tmp_path / "j.sqlite",
            fallback="drop_filter,overlay,tollfree",
            max_numbers=7,
            strict=False,
        )
        source = EXAMPLES / "advertisers.xlsx"
        api = Api(url=server.url, token=TOKEN)
        with pytest.raises(Exception, match="over --max-numbers 7"):
            run_file(source, tmp_path / "o.xlsx", config=config, api=api, confirm=_yes)
        seven = one_per_name(tmp_path, 7)
        report = run_file(seven, tmp_path / "o.xlsx", config=config, api=api, confirm=_yes)
        again = run_file(seven, tmp_path / "o2.xlsx", config=config, api=api, confirm=_yes)
        ledger = server.state.ledger()
    assert len(ledger) <= 7
    names = Counter(n["requested_name"].casefold() for n in ledger)
    assert max(names.values(), default=1) == 1  # never bought twice
    owned = [r for r in again.results if r.status.value in ("provisioned", "already provisioned")]
    assert len({r.number_id for r in owned}) == len(owned)  # one number per row
    assert report.counts()  # every row has a result


def one_per_name(tmp_path: Path, count: int) -> Path:
    """``count`` localtonumber rows of Burlington, ON with a filter its stock soon runs out of."""
    lines = ["name,group_id,local_to_number,number_match_filter,termination_number"]
    lines += [f"Advertiser {i},11623282,9056372046,289,4165551234" for i in range(count)]
    path = tmp_path / f"rows{count}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_cap_refuses_before_buying_under_a_full_plan(api: RunningSandbox, tmp_path: Path) -> None:
    """The library refuses a plan over its cap with CapExceeded; the ledger stays empty."""
    from batchprov.errors import CapExceeded

    with pytest.raises(CapExceeded, match="over --max-numbers 3"):
        run_file(
            EXAMPLES / "advertisers.xlsx",
            tmp_path / "o.xlsx",
            config=RunConfig(journal=tmp_path / "j.sqlite", max_numbers=3),
            api=Api(url=api.url, token=TOKEN),
            confirm=_yes,
        )
    assert not api.state.ledger() and posts(api) == 0


@pytest.mark.parametrize(
    "problem",
    ["xls", "under_file", "unwritable_folder", "input", "journal_corrupt", "journal_under_file"],
)
def test_output_and_journal_problems_stop_before_any_request(
    api: RunningSandbox, tmp_path: Path, problem: str
) -> None:
    """Every output or journal problem is one line and exit 2, with no request sent."""
    source = tmp_path / "in.xlsx"
    source.write_bytes((EXAMPLES / "advertisers.xlsx").read_bytes())
    (tmp_path / "plain").write_text("a file, not a folder", encoding="utf-8")
    out, journal = tmp_path / "out.xlsx", tmp_path / "j.sqlite"
    if problem == "xls":
        out = tmp_path / "out.xls"
    elif problem == "under_file":
        out = tmp_path / "plain" / "out.xlsx"
    elif problem == "unwritable_folder":
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        out = folder / "out.xlsx"
        if os.access(folder, os.W_OK):  # root ignores permissions
            folder.chmod(0o700)
            pytest.skip("permissions are not enforced for this user")
    elif problem == "input":
        out = source
    elif problem == "journal_corrupt":
        journal.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    else:
        journal = tmp_path / "plain" / "j.sqlite"
    code, stdout, stderr = run_cli(
        "run", str(source), "--api-url", api.url, "--journal", str(journal), "-o", str(out),
        "--yes",
    )  # fmt: skip
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stdout + stderr
    assert requests(api) == 0 and not api.state.ledger()


def test_a_dry_run_stays_offline(api: RunningSandbox, tmp_path: Path) -> None:
    """--dry-run sends no request; --online lists the groups (GET only) for an exact plan."""
    order(api, tmp_path, source=one_row(tmp_path))
    before = dict(api.state.stats)
    code, plan, _ = order(api, tmp_path, "--dry-run", out="plan.xlsx", journal="other.sqlite",
                          source=one_row(tmp_path))  # fmt: skip
    assert dict(api.state.stats) == before and plan["plan"]["account_checked"] is False
    assert plan["plan"]["to_order"] == 1
    code, online, _ = order(api, tmp_path, "--dry-run", "--online", out="plan2.xlsx",
                            journal="other.sqlite", source=one_row(tmp_path))  # fmt: skip
    assert online["plan"]["to_order"] == 0 and online["plan"]["found_in_account"] == 1
    new = Counter(api.state.stats) - Counter(before)
    assert new and all(key.startswith("GET") for key in new)
    assert len(api.state.ledger()) == 1


def test_the_web_and_the_cli_plan_alike(api: RunningSandbox, tmp_path: Path) -> None:
    """The library, the web confirm page and a CLI dry run --online plan alike, fallbacks and
    names already in the account included."""
    preexisting(api, "Lakeshore Family Dental", "brant street  physiotherapy")
    config = RunConfig(fallback="tollfree", journal=tmp_path / "j.sqlite")
    source = EXAMPLES / "advertisers.xlsx"
    checked = check_file(source, config=config)
    library = plan_run(checked, config=config, api=Api(url=api.url, token=TOKEN))
    dry = replace(config, dry_run=True, online=True)
    report = run_file(source, tmp_path / "p.xlsx", config=dry, api=Api(url=api.url, token=TOKEN))
    cli_plan = report.extra["plan"]
    assert replace(library, dry_run=True) == cli_plan
    journal = tmp_path / "j.sqlite"
    job = new_job(job_id=new_id(), original_name=source.name, input_path=source, group_id=None,
                  sandbox=False, api_url=api.url, journal_path=journal, review={})  # fmt: skip
    web = account_plan(job, OrderOptions(fallback=(Fallback.TOLLFREE,)))
    assert replace(web, dry_run=True) == cli_plan
    counts = (web.to_order, web.found, web.with_fallback, web.account_checked)
    assert counts == (ROWS - 2, 2, 20, True)
    code, out, _ = run_cli("run", str(source), "--dry-run", "--online", "--api-url", api.url,
                           "--journal", str(tmp_path / "j.sqlite"), "-o", str(tmp_path / "c.xlsx"),
                           "--fallback", "tollfree", "--json")  # fmt: skip
    plan = json.loads(out)["plan"]
    assert code == 0 and (plan["to_order"], plan["found_in_account"]) == (web.to_order, web.found)
    assert posts(api) == 0  # planning sends no order


def test_bad_option_values_are_one_line(tmp_path: Path) -> None:
    """--timeout nan, --rate 0 or --concurrency 0: exit 2, one line, no traceback."""
    for option in (("--timeout", "nan"), ("--rate", "0"), ("--concurrency", "0")):
        code, out, err = run_cli(
            "run", str(EXAMPLES / "advertisers.xlsx"), "--dry-run", "-o", str(tmp_path / "o.xlsx"),
            *option,
        )  # fmt: skip
        assert code == 2 and "Traceback" not in out + err, option
        assert option[0] in err


def test_a_corrupt_journal_is_named(tmp_path: Path, api: RunningSandbox) -> None:
    """A journal that is not a database names the journal and what to do."""
    journal = tmp_path / "j.sqlite"
    journal.write_bytes(b"not a database at all" * 100)
    code, _, err = order(api, tmp_path)
    assert code == 2 and "journal" in err and "--journal" in err
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(journal).execute("SELECT 1 FROM item")


def gets(api: RunningSandbox) -> int:
    return sum(n for key, n in api.state.stats.items() if key.startswith("GET"))


def test_the_plans_listing_is_the_runs_baseline(api: RunningSandbox, tmp_path: Path) -> None:
    """A run lists each group once: the plan's listing, a moment old, is the run's baseline."""
    groups = {r.order.group_id for r in check_file(EXAMPLES / "advertisers.xlsx").rows if r.order}
    code, report, _ = order(api, tmp_path)
    assert (code, report["counts"]) == (0, {"provisioned": ROWS})
    assert gets(api) == len(groups)  # one page each: the groups start empty
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        baselined = {gid for (gid,) in db.execute("SELECT group_id FROM baseline_group")}
    assert baselined == groups
    assert len(api.state.ledger()) == ROWS and max(bought(api).values()) == 1


def test_a_stale_plan_listing_is_listed_again(
    api: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan confirmed long after its listing gets a fresh listing before the first create."""
    import batchprov.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_FRESH_LISTING", -1.0)  # every listing counts as stale
    groups = {r.order.group_id for r in check_file(EXAMPLES / "advertisers.xlsx").rows if r.order}
    code, report, _ = order(api, tmp_path)
    assert (code, report["counts"]) == (0, {"provisioned": ROWS})
    assert gets(api) == 2 * len(groups)
    assert len(api.state.ledger()) == ROWS and max(bought(api).values()) == 1


def crashed_run(
    api: RunningSandbox, tmp_path: Path, source: Path, *extra: str,
    at: str = "after_intent_commit",
) -> None:  # fmt: skip
    """A run killed (like ``kill -9``) at crash point ``at``: by default right after its first
    intent is on disk, nothing sent."""
    import subprocess
    import sys

    env = {**os.environ, "BATCHPROV_CRASH_AT": at}
    subprocess.run(
        [sys.executable, "-m", "batchprov", "run", str(source), "--api-url", api.url,
         "--journal", str(tmp_path / "j.sqlite"), "-o", str(tmp_path / "crashed.xlsx"),
         "--yes", "--quiet", *extra],
        env=env, check=False, capture_output=True, timeout=60,
    )  # fmt: skip


def test_a_lost_send_of_a_name_the_group_held_before_is_planned_as_bought(
    api: RunningSandbox, tmp_path: Path
) -> None:
    """An --existing order send left unknown, whose name the group held before it, is counted
    as one to order: the number already named so is not its purchase (the run sends again)."""
    preexisting(api, "Portal Plumbing")
    source = one_row(tmp_path)
    crashed_run(api, tmp_path, source, "--existing", "order")
    assert len(api.state.ledger()) == 1  # the crash came before the POST
    code, dry, _ = order(api, tmp_path, "--existing", "order", "--dry-run", "--online",
                         source=source, out="plan.xlsx")  # fmt: skip
    assert (dry["plan"]["to_order"], dry["plan"]["recovered_from_account"]) == (1, 0)
    code, report, _ = order(api, tmp_path, "--existing", "order", "--timeout", "2", source=source)
    assert (report["plan"]["to_order"], report["plan"]["recovered_from_account"]) == (1, 0)
    assert (code, report["counts"]) == (0, {"provisioned": 1})
    assert len(api.state.ledger()) == 2  # exactly the one the plan announced


@pytest.mark.parametrize("spelling", ["Cafe\u0301 Roma", "ＣＡＦＥ\u0301 ROMA", "café  roma"])
def test_a_name_in_another_unicode_form_is_found_not_bought(
    api: RunningSandbox, tmp_path: Path, spelling: str
) -> None:
    """A name the account holds, written with a combining accent or full-width letters, is
    found in the account: nothing is bought again."""
    (existing,) = preexisting(api, "Café Roma")  # precomposed é (NFC)
    code, report, _ = order(api, tmp_path, source=one_row(tmp_path, spelling))
    assert report["plan"]["to_order"] == 0 and report["plan"]["found_in_account"] == 1
    assert (code, report["counts"]) == (0, {"already provisioned": 1})
    assert column(tmp_path / "out.xlsx", "Number ID") == [str(existing["id"])]
    assert len(api.state.ledger()) == 1


def test_a_lost_send_whose_number_fits_a_row_left_out_of_the_sheet_ends(
    api: RunningSandbox, tmp_path: Path
) -> None:
    """Rows 'Portal Plumbing' and 'Portal Plumbing 2' lost their answers; a rerun of the first
    alone cannot tell whose 'Portal Plumbing 2' is: it ends with the row for review, buying
    nothing, as its plan says (it waited for the other row for ever)."""
    both = tmp_path / "both.csv"
    both.write_text(
        "name,group_id,match_type,termination_number\n"
        "Portal Plumbing,11623282,tollfree,4165551234\n"
        "Portal Plumbing 2,11623282,tollfree,4165551234\n",
        encoding="utf-8",
    )
    api.state.script("drop_after", "drop_after")
    crashed_run(api, tmp_path, both, "--concurrency", "1", "--timeout", "30",
                at="after_result_commit:2")  # fmt: skip
    assert sorted(n["name"] for n in api.state.ledger()) == ["Portal Plumbing", "Portal Plumbing 2"]
    code, report, _ = order(api, tmp_path, "--timeout", "2", source=one_row(tmp_path))
    assert (report["plan"]["to_order"], report["plan"]["held"]) == (0, 1)
    assert (code, report["counts"]) == (1, {"failed": 1})
    assert "cannot tell which row owns" in column(tmp_path / "out.xlsx", "Error")[0]
    assert len(api.state.ledger()) == 2


def test_a_lost_send_in_a_group_the_api_no_longer_lists_is_not_planned(tmp_path: Path) -> None:
    """A row left unknown in a group the API now refuses to list (404) is never sent again:
    the plan counts it held, not to order, and orders exactly the other row."""
    rows = tmp_path / "two.csv"
    rows.write_text(
        "name,group_id,match_type,termination_number\n"
        "Gone Group Co,11623284,tollfree,4165551234\n"
        "Stays Co,11623282,tollfree,4165551234\n",
        encoding="utf-8",
    )
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=7)) as first:
        port = first.port
        crashed_run(first, tmp_path, rows, "--concurrency", "1")  # the first row's intent only
    with serve_in_thread(SandboxConfig(token=TOKEN, seed=7, groups=(11623282,)), port=port) as api:
        code, report, _ = order(api, tmp_path, "--timeout", "2", source=rows)
        ledger = api.state.ledger()
    assert (report["plan"]["to_order"], report["plan"]["held"]) == (1, 1)
    assert (code, report["counts"]) == (1, {"failed": 1, "provisioned": 1})
    assert [n["requested_name"] for n in ledger] == ["Stays Co"]
