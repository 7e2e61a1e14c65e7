"""Fixing cells on the review page, and the order form (fallbacks, price, caps), via TestClient."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from test_web import (
    GROUP,
    confirm_fields,
    csrf_of,
    job_url,
    make_workbook,
    order,
    statuses_of,
    upload,
    wait_finished,
)

from batchprov.web import create_app
from batchprov.web.jobs import JobStore

MISTAKES = [
    ["Burlington Dental", GROUP, "localtonumber", "9056372046", "", "", "289", "4165551234"],
    ["Calgary Cafe", GROUP, "localtocity", "", "Calgary", "Albrta", "", "4035551234"],
    ["Broken Phone", GROUP, "localtonumber", "12345", "", "", "", "416-555-1234 ext. 9"],
]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A sandbox server without login."""
    app = create_app(data_dir=tmp_path / "data", sandbox=True, api_url=None, auth=None)
    with TestClient(app) as test_client:
        yield test_client


def editable(html: str) -> dict[str, str]:
    """The review table's editable cells and suggestion buttons: field name → value."""
    return dict(re.findall(r'name="((?:cell|use)\.\d+\.\d+)" value="([^"]*)"', html))


def counts(html: str) -> tuple[int, int]:
    """(ready, with problems) from the review's tiles."""
    ready = re.search(r'id="n-valid">(\d+)<', html)
    bad = re.search(r'id="n-invalid">(\d+)<', html)
    assert ready and bad
    return int(ready.group(1)), int(bad.group(1))


def fix(client: TestClient, url: str, **fields: str) -> str:
    """Post the fix form with these fields; the review page it leads to."""
    data = {
        "csrf_token": csrf_of(client, url),
        **{k.replace("_", "."): v for k, v in fields.items()},
    }
    response = client.post(f"{url}/fix", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def test_problem_cells_are_editable_with_their_suggestions(
    client: TestClient, tmp_path: Path
) -> None:
    """Each refused cell is an input with its message under it; known fixes are buttons."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    page = client.get(url).text
    assert editable(page) == {
        "cell.3.6": "Albrta",
        "use.3.6": "AB",
        "cell.4.4": "12345",
        "cell.4.8": "416-555-1234 ext. 9",
        "use.4.8": "4165551234",
    }
    assert "(did you mean AB — Alberta?)</li>" in page  # shown, not hover-only
    links = 'fix: <a href="#c-4-4">local_to_number</a>, <a href="#c-4-8">termination_number</a>'
    assert links in page  # the row says where its problems are, however wide the table
    assert "Burlington, ON" in page  # the Expected Area column


def test_typed_fix_and_suggestion_are_checked_again_without_upload(
    client: TestClient, tmp_path: Path
) -> None:
    """Typed values and a clicked suggestion are written to the stored copy and re-checked."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    assert counts(client.get(url).text) == (1, 2)
    page = fix(client, url, cell_3_6="Albrta", use_3_6="AB", cell_4_4="9056372046")
    assert "2 cells changed and the sheet checked again" in page
    assert counts(page) == (2, 1)
    page = fix(client, url, use_4_8="4165551234")
    assert counts(page) == (3, 0) and "No problems left" in page
    corrected = client.get(f"{url}/corrected")
    assert corrected.headers["content-disposition"] == 'attachment; filename="m.corrected.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(corrected.content)).worksheets[0]
    assert [c.value for c in sheet[3]][5] == "AB"
    assert [c.value for c in sheet[4]][3] == "9056372046"
    assert [c.value for c in sheet[4]][7] == "4165551234"
    order(client, url)
    assert wait_finished(client, url)["provisioned"] == 3
    statuses = statuses_of(client.get(f"{url}/results.xlsx").content)
    assert set(statuses) == {"provisioned (sandbox)"}


def test_a_fixed_workbook_keeps_its_other_sheets_and_formulas_stay_text(
    client: TestClient, tmp_path: Path
) -> None:
    """openpyxl edits the user's own workbook; a typed '=…' is stored as text."""
    path = make_workbook(tmp_path / "m.xlsx", MISTAKES)
    book = openpyxl.load_workbook(path)
    book.create_sheet("Notes")["A1"] = "keep me"
    book.save(path)
    url = job_url(upload(client, path))
    fix(client, url, cell_4_4='=HYPERLINK("http://x.test","click")')
    corrected = openpyxl.load_workbook(io.BytesIO(client.get(f"{url}/corrected").content))
    assert corrected.sheetnames == ["Sheet", "Notes"]
    assert corrected["Notes"]["A1"].value == "keep me"
    cell = corrected.worksheets[0].cell(row=4, column=4)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_a_csv_keeps_its_delimiter_and_encoding(client: TestClient, tmp_path: Path) -> None:
    """A Windows-1252, semicolon-separated file is rewritten as such, the fix in place."""
    text = (
        "name;group_id;match_type;city;state;termination_number\r\n"
        "Café Olé;11623282;localtocity;Calgary;Albrta;4035551234\r\n"
        'Hôtel "Lac";11623282;tollfree;;;4165551234\r\n'
    )
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode("cp1252"))
    url = job_url(upload(client, path))
    page = fix(client, url, use_2_5="AB")
    assert counts(page) == (2, 0)
    corrected = client.get(f"{url}/corrected")
    assert corrected.headers["content-disposition"] == 'attachment; filename="list.corrected.csv"'
    assert corrected.content == text.replace("Albrta", "AB").replace('"Lac"', '""Lac""').replace(
        'Hôtel ""Lac""', '"Hôtel ""Lac"""'
    ).encode("cp1252")


def test_csv_fixes_that_look_like_formulas_are_neutralised(
    client: TestClient, tmp_path: Path
) -> None:
    """In delimited text a typed formula gets a leading quote; a phone number with + does not."""
    path = tmp_path / "list.csv"
    path.write_text("name,group_id,match_type,termination_number\nA,11623282,tollfree,12\n")
    url = job_url(upload(client, path))
    fix(client, url, cell_2_4="=cmd|' /C calc'!A0")
    assert b"'=cmd" in client.get(f"{url}/corrected").content
    fix(client, url, cell_2_4="+1 416 555 1234")
    body = client.get(f"{url}/corrected").content.decode()
    assert body.splitlines()[1] == "A,11623282,tollfree,+1 416 555 1234"
    assert counts(client.get(url).text) == (1, 0)


def test_an_xls_upload_becomes_an_xlsx_when_fixed(client: TestClient, tmp_path: Path) -> None:
    """Nothing writes .xls: the fixed copy is an .xlsx of the sheet as read."""
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Advertisers")
    header = ["name", "group_id", "city", "state", "termination_number"]
    for r, row in enumerate(
        [header, ["Calgary Cafe", "11623282", "Calgary", "Albrta", "4035551234"]]
    ):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    path = tmp_path / "old.xls"
    book.save(str(path))
    url = job_url(upload(client, path))
    assert counts(fix(client, url, use_2_4="AB")) == (1, 0)
    corrected = client.get(f"{url}/corrected")
    assert corrected.headers["content-disposition"] == 'attachment; filename="old.corrected.xlsx"'
    fixed = openpyxl.load_workbook(io.BytesIO(corrected.content))
    assert fixed.sheetnames == ["Advertisers"]
    assert [c.value for c in fixed["Advertisers"][2]] == [
        "Calgary Cafe", "11623282", "Calgary", "AB", "4035551234",
    ]  # fmt: skip


def test_fixes_only_touch_cells_of_the_sheet_and_only_before_ordering(
    client: TestClient, tmp_path: Path
) -> None:
    """Cells outside the table are ignored; after the order starts, fixing is refused."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    page = fix(client, url, cell_99_1="x", cell_2_99="y", use_1_1="z")
    assert "changed and the sheet checked again" not in page
    assert client.get(f"{url}/corrected").status_code == 404  # nothing was fixed
    order(client, url)
    wait_finished(client, url)
    late = client.post(f"{url}/fix", data={"csrf_token": csrf_of(client), "cell.3.6": "AB"})
    assert late.status_code == 409


def test_order_form_options_reach_the_plan_and_the_run(client: TestClient, tmp_path: Path) -> None:
    """Fallbacks, price and caps are shown on the confirmation and kept for the run."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    options = {"fallback1": "overlay", "fallback2": "tollfree", "price_per_number": "2.5"}
    page = client.get(f"{url}/confirm", params={**options, "max_numbers": "5"}).text
    assert 'id="confirm-count">1<' in page
    assert "up to 2.50 (1 × 2.50)" in page
    assert "another area code serving the same place, then a toll-free number" in page
    assert "at most 5 numbers" in page
    assert "Yes, order 1 number (2.50 a month)" in page
    order(client, url, **options)
    wait_finished(client, url)
    job = JobStore(tmp_path / "data" / "jobs.sqlite").get(url.rsplit("/", 1)[1])
    assert job is not None
    assert job.options == {
        "fallback": ["overlay", "tollfree"],
        "price_per_number": 2.5,
        "max_numbers": None,
        "max_cost": None,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"price_per_number": "cheap"}, "Write an amount of 0 or more"),
        ({"max_numbers": "-3"}, "Write a whole number of 0 or more"),
        ({"max_cost": "10"}, "A cost cap needs the price per number"),
        ({"fallback1": "tollfree", "fallback2": "tollfree"}, "tollfree is already chosen above"),
    ],
    ids=["price", "count", "cost-without-price", "same-fallback-twice"],
)
def test_wrong_order_options_are_explained_on_the_review(
    client: TestClient, tmp_path: Path, options: dict[str, str], message: str
) -> None:
    """A wrong field brings the review back (400) with the message beside the field."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    page = client.get(f"{url}/confirm", params=options)
    assert page.status_code == 400
    assert 'class="field-error"' in page.text and message in page.text
    assert 'id="confirm-button"' not in page.text


def test_an_order_over_a_cap_is_refused(client: TestClient, tmp_path: Path) -> None:
    """Over max_numbers or max_cost the confirmation says so, offers no button, orders nothing."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    fix(client, url, use_3_6="AB")  # two rows ready now
    for caps in ({"max_numbers": "1"}, {"price_per_number": "3", "max_cost": "5"}):
        page = client.get(f"{url}/confirm", params=caps).text
        assert 'id="over-cap"' in page and 'id="confirm-button"' not in page
        data = {"csrf_token": csrf_of(client), "confirm": "yes", "count": "2", **caps}
        refused = client.post(f"{url}/order", data=data)  # forged: back to the plan, no button
        assert 'id="over-cap"' in refused.text and "more than your cap" in refused.text
        assert 'id="confirm-button"' not in refused.text
    assert client.get(f"{url}/progress.json").json()["status"] == "checked"


def test_an_order_needs_the_count_of_the_plan_it_confirms(
    client: TestClient, tmp_path: Path
) -> None:
    """A one-click POST, or one confirming a plan that changed since, goes back to the plan."""
    url = job_url(upload(client, make_workbook(tmp_path / "m.xlsx", MISTAKES)))
    fields = confirm_fields(client, url)
    assert fields["count"] == "1"
    bare = client.post(
        f"{url}/order", data={"csrf_token": fields["csrf_token"], "confirm": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert bare.status_code == 303 and bare.headers["location"].startswith(f"{url}/confirm")
    fix(client, url, use_3_6="AB")  # now two rows are ready; the page said one
    stale = client.post(f"{url}/order", data=fields, follow_redirects=False)
    assert stale.headers["location"].startswith(f"{url}/confirm")
    assert client.get(f"{url}/progress.json").json()["status"] == "checked"
    assert confirm_fields(client, url)["count"] == "2"


def test_a_problem_links_to_its_cell_only_when_the_cell_is_on_the_page(
    client: TestClient, tmp_path: Path
) -> None:
    """Past the rows the review table holds, problems are listed without dead links."""
    from batchprov.web.views import MAX_REVIEW_ROWS

    count = MAX_REVIEW_ROWS + 20
    lines = ["name,group_id,match_type,termination_number"]
    lines += [f"Shop {i},11623282,tollfree,41655512" for i in range(count)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = client.get(job_url(upload(client, path))).text
    targets = set(re.findall(r'href="#(c-\d+-\d+)"', page))
    cells = set(re.findall(r'id="(c-\d+-\d+)"', page))
    assert targets and targets <= cells  # every link lands on a cell of the page
    last = count + 1  # the last row's problem is listed, without a link
    assert f'href="#c-{last}-' not in page and f">{last}</td>" in page
