"""``--failed-only FILE``: the invalid and failed rows alone, in the input's layout, to fix."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from test_outputs import bought_workbook

from batchprov.cli import cli
from batchprov.read.files import read_table
from batchprov.read.headers import result_span

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The invalid rows of examples/needs_fixing.xlsx, as Excel numbers them.
INVALID_ROWS = ["5", "6", "9", "10", "11", "13", "14", "15"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def needs_fixing(tmp_path: Path) -> Path:
    return Path(shutil.copy(EXAMPLES / "needs_fixing.xlsx", tmp_path / "needs_fixing.xlsx"))


def user_headers(path: Path) -> list[str]:
    """The headers of a file, without batchprov's result columns."""
    headers = read_table(path).headers
    span = result_span(headers)
    return [h for i, h in enumerate(headers) if i not in span]


def test_validate_writes_the_invalid_rows_as_csv(needs_fixing: Path, tmp_path: Path) -> None:
    """validate --failed-only x.csv: the invalid rows, the input's columns first, each with its
    status, error and row on the data sheet; checked again, the same rows are invalid."""
    out = tmp_path / "fix.csv"
    code, stdout, _ = invoke("validate", str(needs_fixing), "--failed-only", str(out))
    assert code == 1
    assert f"Rows to fix (8 rows): {out}" in stdout
    with out.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    header, rows = lines[0], lines[1:]
    inputs = user_headers(needs_fixing)
    assert header[: len(inputs)] == inputs
    assert header[len(inputs) :] == [
        "Row on March",
        "Status",
        "Error",
        "Warnings",
        "Ordered As",
        "Expected Area",
    ]
    assert [r[len(inputs)] for r in rows] == INVALID_ROWS
    assert {r[len(inputs) + 1] for r in rows} == {"invalid"}
    code, stdout, _ = invoke("validate", str(out), "-o", str(tmp_path / "again.xlsx"))
    assert code == 1
    assert stdout.splitlines()[1].split() == ["invalid", "8"]


def test_run_writes_invalid_and_failed_rows_as_the_needs_attention_sheet(
    needs_fixing: Path, tmp_path: Path
) -> None:
    """run --failed-only x.xlsx holds the rows of the results' Needs attention sheet, as they
    are there, and is an input of its own."""
    out, results = tmp_path / "fix.xlsx", tmp_path / "results.xlsx"
    code, _, _ = invoke(
        "run", str(needs_fixing), "--sandbox", "-o", str(results), "--failed-only", str(out)
    )
    assert code == 1
    alone = openpyxl.load_workbook(out)
    assert alone.sheetnames == ["Needs attention"]
    sheet = openpyxl.load_workbook(results)["Needs attention"]
    values = [[c.value for c in row] for row in alone.active.iter_rows(min_row=2)]  # type: ignore[union-attr]
    expected = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values == expected
    assert "run this file again" in str(alone.active["A1"].value)  # type: ignore[index]
    table = read_table(out)
    assert (table.header_row, len(table)) == (2, 8)
    assert user_headers(out)[: len(user_headers(needs_fixing))] == user_headers(needs_fixing)


def test_failed_only_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    """A formula-like cell of an invalid row is written with a leading quote, as in every CSV."""
    source = tmp_path / "in.csv"
    source.write_text(
        'Advertiser,Group,Ring To,Notes\n=HYPERLINK("x"),11623282,411,-5\n', encoding="utf-8"
    )
    out = tmp_path / "fix.csv"
    invoke("validate", str(source), "--failed-only", str(out))
    text = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",'-5," in text


def test_failed_only_never_replaces_bought_numbers_nor_the_output(
    needs_fixing: Path, tmp_path: Path
) -> None:
    """FILE may not be the output, the input, or a workbook showing bought numbers (exit 2)."""
    out = tmp_path / "out.xlsx"
    bought = bought_workbook(tmp_path / "bought.xlsx", ["4165550101"])
    for target in (out, needs_fixing, bought):
        code, _, err = invoke(
            "validate", str(needs_fixing), "-o", str(out), "--failed-only", str(target)
        )
        assert code == 2, target
        assert "Error:" in err
    assert not out.exists()
    assert read_table(bought).frame["Tracking Number"].tolist() == ["4165550101"]


def test_failed_only_is_in_the_help_of_validate_and_run() -> None:
    """Both commands document --failed-only."""
    for command in ("validate", "run"):
        _, stdout, _ = invoke(command, "--help")
        assert "--failed-only FILE" in stdout and "invalid and failed rows" in stdout
