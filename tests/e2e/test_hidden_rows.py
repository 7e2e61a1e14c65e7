"""Rows Excel hides are left out of a run unless --include-hidden, and the plan says so."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner
from hostile_files import hidden_rows_xls

from batchprov.cli import cli


def _sheet_with_hidden_rows(path: Path, *, by_filter: bool) -> Path:
    """Five valid toll-free rows, rows 3 and 5 hidden (by hand, or by an autofilter too)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Advertiser", "Group", "Match Type", "Forward To"])
    for number in range(1, 6):
        sheet.append([f"Shop {number}", 11623282, "tollfree", "9056372046"])
    for row in (3, 5):
        sheet.row_dimensions[row].hidden = True
    if by_filter:
        sheet.auto_filter.ref = "A1:D6"
        sheet.auto_filter.add_filter_column(0, ["Shop 1", "Shop 3", "Shop 5"])
    book.save(path)
    return path


def dry_plan(path: Path, tmp_path: Path, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        cli, ["run", str(path), "--dry-run", "--json", "-o", str(tmp_path / "p.xlsx"), *extra]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert isinstance(plan, dict)
    return plan


def test_the_plan_counts_hidden_rows_left_out(tmp_path: Path) -> None:
    """Two hidden rows: 3 to order, 2 left out, and the plan's text says how to include them."""
    path = _sheet_with_hidden_rows(tmp_path / "in.xlsx", by_filter=True)
    plan = dry_plan(path, tmp_path)
    assert (plan["to_order"], plan["hidden_left_out"]) == (3, 2)
    text = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "-o", str(tmp_path / "q.xlsx")])
    assert "2 hidden row(s) left out" in text.stdout and "--include-hidden" in text.stdout


def test_include_hidden_orders_them_too(tmp_path: Path) -> None:
    """--include-hidden plans every row and leaves none out."""
    path = _sheet_with_hidden_rows(tmp_path / "in.xlsx", by_filter=False)
    plan = dry_plan(path, tmp_path, "--include-hidden")
    assert (plan["to_order"], plan["hidden_left_out"]) == (5, 0)


def test_an_xls_plan_counts_its_hidden_rows_too(tmp_path: Path) -> None:
    """An .xls with rows 3 and 5 hidden: 3 to order, 2 left out; --include-hidden plans 5."""
    path = hidden_rows_xls(tmp_path / "in.xls")
    plan = dry_plan(path, tmp_path)
    assert (plan["to_order"], plan["hidden_left_out"]) == (3, 2)
    text = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "-o", str(tmp_path / "q.xlsx")])
    assert "2 hidden row(s) left out" in text.stdout and "--include-hidden" in text.stdout
    plan = dry_plan(path, tmp_path, "--include-hidden")
    assert (plan["to_order"], plan["hidden_left_out"]) == (5, 0)
