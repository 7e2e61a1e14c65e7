"""The streamed data sheet: the same output as the workbook written in memory, with less memory."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from batchprov.models import Issue, RowResult, Severity, Status, Table
from batchprov.read.files import read_table
from batchprov.report import RunInfo
from batchprov.write import ahead, output, stream
from batchprov.write.output import write_output

HEADERS = ("Advertiser", "Group ID", "Match Type", "Local To", "City", "Province", "Forward To")
ROWS = 14
HEADER_ROW = 3
HIDDEN_ROW = 6


def _rich_workbook(path: Path, *, merged_in_data: bool = False) -> Path:
    """A user's workbook with what an output must keep: looks, sheets, formulas, merges..."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "Advertisers"
    ws["A1"] = "Q3 onboarding"
    ws["A1"].font = Font(bold=True, size=14, color="1F3864")
    ws["A1"].fill = PatternFill("solid", fgColor="DDEBF7")
    ws.merge_cells("A1:G1")
    for column, header in enumerate(HEADERS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=column, value=header)
        cell.font = Font(bold=True)
        cell.border = Border(bottom=Side(style="medium"))
    for offset in range(ROWS):
        row = HEADER_ROW + 1 + offset
        ws.cell(row=row, column=1, value=f"Advertiser {offset}").font = Font(italic=offset % 2 == 0)
        ws.cell(row=row, column=2, value=11623282 + offset % 2).number_format = "0"
        ws.cell(row=row, column=3, value=("localtonumber", "localtocity", "tollfree")[offset % 3])
        ws.cell(row=row, column=4, value=f"905637{2000 + offset}")
        ws.cell(row=row, column=5, value="Atlanta" if offset % 3 == 1 else None)
        ws.cell(row=row, column=6, value="GA" if offset % 3 == 1 else None)
        forward = ws.cell(row=row, column=7, value=f"404399{3400 + offset}")
        forward.fill = PatternFill("solid", fgColor="FFF2CC")
        forward.alignment = Alignment(horizontal="center")
        ws.cell(row=row, column=9, value=f"=LEN(A{row})")
        ws.cell(row=row, column=10, value=dt.datetime(2026, 3, 1 + offset))
        ws.cell(row=row, column=11, value=offset % 2 == 0)
        ws.cell(row=row, column=8, value=(" Smith & <Sons> ", 3.25, -7, "yes\nno")[offset % 4])
    ws.row_dimensions[HIDDEN_ROW].hidden = True
    ws.row_dimensions[HEADER_ROW + 4].height = 30
    ws.column_dimensions["A"].width = 28
    ws.freeze_panes = "B4"
    ws["C5"].comment = Comment("check the match type", "Ann Lee")
    ws["A8"].hyperlink = "https://example.com/advertiser/8"
    validation = DataValidation(type="list", formula1='"yes,no"', allow_blank=True)
    ws.add_data_validation(validation)
    validation.add("H4:H40")
    ws.conditional_formatting.add(
        "B4:B40", CellIsRule(operator="greaterThan", formula=["11623282"], font=Font(bold=True))
    )
    if merged_in_data:
        ws.merge_cells("I10:K11")
    notes = wb.create_sheet("Notes")
    notes["A1"] = "Rows"
    notes["B1"] = "=COUNTA(Advertisers!A4:A40)"
    notes["A2"] = "Owner"
    notes["B2"] = "Ann Lee"
    notes["B2"].font = Font(color="B3261E")
    wb.save(path)
    return path


def _results(table: Table) -> list[RowResult]:
    """Every kind of result: provisioned, invalid, failed, not attempted."""
    done: list[RowResult] = []
    for index, row in enumerate(table.excel_rows):
        kind = index % 4
        if kind == 0:
            done.append(
                RowResult(
                    index,
                    row,
                    Status.PROVISIONED,
                    match_type="localtonumber",
                    tracking_number=f"289812{2000 + index}",
                    number_id=str(8660466 + index),
                    route_id=str(30474073 + index),
                    assigned_name=f"Advertiser {index}",
                    attempts=1,
                    provisioned_at="2026-03-04T15:00:12Z",
                    warnings=("Forward To: a long warning that wraps " * 3,),
                )
            )
        elif kind == 1:
            done.append(RowResult(index, row, Status.INVALID, match_type="localtocity"))
        elif kind == 2:
            done.append(RowResult(index, row, Status.FAILED, error="HTTP 422", attempts=2))
        else:
            done.append(RowResult(index, row, Status.NOT_ATTEMPTED))
    return done


def _issues(table: Table) -> list[Issue]:
    """An error on every invalid row, a warning on a row with the user's comment."""
    rows = table.excel_rows
    found = [
        Issue(rows[i], "City", "", "City is required for a city match", Severity.ERROR)
        for i in range(1, len(rows), 4)
    ]
    found.append(
        Issue(5, "Match Type", "localtocity", "the match type was guessed", Severity.WARNING)
    )
    found.append(Issue(rows[2], "Expected Area", "", "not a column of the sheet", Severity.ERROR))
    return found


def _info() -> RunInfo:
    return RunInfo(
        mode="run",
        input_name="advertisers.xlsx",
        input_sha256="ab" * 32,
        api_url=None,
        sandbox=True,
        started_at="2026-03-04T15:00:00+00:00",
        ended_at="2026-03-04T15:01:30+00:00",
        tool_version="0.1.0",
    )


def _write(path: Path, out: Path, *, streamed: bool, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Write the output of ``path``, streamed or in memory; say whether it was streamed."""
    used: list[bool] = []
    real = stream.save_streamed

    def spy(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        used.append(True)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise stream.NotStreamable("in memory, for the comparison")

    with monkeypatch.context() as patch:
        patch.setattr(stream, "_SLICE_ROWS", 3)  # several slices, even in a small sheet
        patch.setattr(output, "save_streamed", spy)
        if not streamed:
            patch.setattr(output, "open_streamed", refuse)
        table = read_table(path)
        write_output(table, _results(table), _issues(table), _info(), out)
    return bool(used)


def _cell_facts(ws: Worksheet) -> dict[str, tuple[object, ...]]:
    facts: dict[str, tuple[object, ...]] = {}
    for (row, column), cell in sorted(ws._cells.items()):
        comment = cell.comment
        link = cell.hyperlink
        facts[f"{row},{column}"] = (
            type(cell).__name__,
            cell.value,
            cell.data_type,
            *(repr(look) for look in (cell.font, cell.fill, cell.border, cell.alignment)),
            cell.number_format,
            repr(cell.protection),
            (comment.text, comment.author) if comment else None,
            (link.target, link.location) if link else None,
        )
    return facts


def _sheet_facts(ws: Worksheet) -> dict[str, object]:
    """What a user sees of a sheet: every cell's value and look, rows, columns, settings."""
    return {
        "cells": _cell_facts(ws),
        "rows": {
            r: (d.hidden, d.height, d.customHeight) for r, d in sorted(ws.row_dimensions.items())
        },
        "columns": {k: (d.width, d.hidden) for k, d in sorted(ws.column_dimensions.items())},
        "merged": sorted(str(r) for r in ws.merged_cells.ranges),
        "frozen": ws.freeze_panes,
        "filter": ws.auto_filter.ref,
        "formatting": sorted(
            (str(area.sqref), rule.type, tuple(rule.formula), repr(rule.dxf))
            for area in ws.conditional_formatting
            for rule in area.rules
        ),
        "validations": [(str(v.sqref), v.formula1) for v in ws.data_validations.dataValidation],
        "selected": ws.sheet_view.tabSelected,
    }


def _book_facts(path: Path) -> dict[str, object]:
    wb = openpyxl.load_workbook(path)
    facts: dict[str, object] = {"sheets": wb.sheetnames, "active": wb.active.title}
    for ws in wb.worksheets:
        facts[ws.title] = _sheet_facts(ws)
    extents = openpyxl.load_workbook(path, read_only=True)
    facts["extent"] = extents["Advertisers"].calculate_dimension(force=False)
    extents.close()
    return facts


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_streamed_output_equals_the_one_made_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looks, other sheets, formulas, merges, hidden rows, comments, links: all as in memory."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    before = _sha(source)
    assert _write(source, tmp_path / "streamed.xlsx", streamed=True, monkeypatch=monkeypatch)
    assert not _write(source, tmp_path / "memory.xlsx", streamed=False, monkeypatch=monkeypatch)
    assert _sha(source) == before
    streamed, memory = (
        _book_facts(tmp_path / "streamed.xlsx"),
        _book_facts(tmp_path / "memory.xlsx"),
    )
    assert streamed == memory
    sheet = streamed["Advertisers"]
    assert isinstance(sheet, dict)
    cells = sheet["cells"]
    assert cells[f"{HEADER_ROW},12"][1] == "Status"  # the result columns follow the user's
    assert cells[f"{HEADER_ROW + 1},9"][1] == f"=LEN(A{HEADER_ROW + 1})"
    assert sheet["rows"][HIDDEN_ROW][0] is True
    assert "A1:G1" in sheet["merged"]
    assert sheet["frozen"] == "B4"


def test_streamed_rerun_equals_the_one_made_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output run again: earlier result columns and marks are replaced the same way."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    first = tmp_path / "first.xlsx"
    assert _write(source, first, streamed=True, monkeypatch=monkeypatch)
    assert _write(first, tmp_path / "streamed.xlsx", streamed=True, monkeypatch=monkeypatch)
    assert not _write(first, tmp_path / "memory.xlsx", streamed=False, monkeypatch=monkeypatch)
    streamed = _book_facts(tmp_path / "streamed.xlsx")
    assert streamed == _book_facts(tmp_path / "memory.xlsx")
    assert streamed["sheets"] == _book_facts(first)["sheets"]  # no second Summary sheet


def test_merged_cells_below_the_header_are_written_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet the stream cannot follow (a merged area among the rows) is written in memory."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx", merged_in_data=True)
    assert not _write(source, tmp_path / "out.xlsx", streamed=True, monkeypatch=monkeypatch)
    assert not _write(source, tmp_path / "memory.xlsx", streamed=False, monkeypatch=monkeypatch)
    assert _book_facts(tmp_path / "out.xlsx") == _book_facts(tmp_path / "memory.xlsx")


class _Member:
    """A sheet's XML read as from the zip file, ``size`` bytes at a time at most."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def test_rows_without_numbers_are_written_in_memory() -> None:
    """Rows whose XML gives no row number cannot be cut out; the caller is told so."""
    sheet = b'<worksheet><sheetData><row r="1"><c r="A1"/></row><row><c/></row></sheetData>'
    with pytest.raises(stream.NotStreamable, match="without its number"):
        b"".join(stream._cut_rows(_Member(sheet), 1, []))  # type: ignore[arg-type]


def _rows_xml(numbers: range | tuple[int, ...]) -> bytes:
    return b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in numbers)


def test_rows_below_the_header_are_cut_whatever_the_chunking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sheet's XML keeps the rows down to the header and everything after the rows."""
    sheet = b"<worksheet><sheetData>" + _rows_xml(range(1, 60)) + b"</sheetData><x/></worksheet>"
    kept = b"<worksheet><sheetData>" + _rows_xml((1, 2, 3)) + b"</sheetData><x/></worksheet>"
    for size in (1, 7, 64, 1 << 20):
        monkeypatch.setattr(stream, "_READ_SIZE", size)
        trimmed: list[bool] = []
        cut = b"".join(stream._cut_rows(_Member(sheet), 3, trimmed))  # type: ignore[arg-type]
        assert cut == kept
        assert trimmed == [True]


def test_rows_out_of_order_are_written_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet found out of order while streaming is written again in memory, completely."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    shuffled = tmp_path / "shuffled.xlsx"
    last = HEADER_ROW + ROWS
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(shuffled, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<row r="%d"' % last, b'<row r="%d"' % (last - 6))
            copy.writestr(item, data)
    assert not _write(shuffled, tmp_path / "out.xlsx", streamed=True, monkeypatch=monkeypatch)
    assert not _write(shuffled, tmp_path / "memory.xlsx", streamed=False, monkeypatch=monkeypatch)
    facts = _book_facts(tmp_path / "out.xlsx")
    assert facts == _book_facts(tmp_path / "memory.xlsx")
    sheet = facts["Advertisers"]
    assert isinstance(sheet, dict)
    assert sheet["cells"][f"{last},1"][1] == f"Advertiser {ROWS - 1}"


def _write_ahead(path: Path, out: Path) -> Table:
    """Open the output of ``path`` ahead (`write.ahead`), as a run does while it orders."""
    table = read_table(path)
    ahead.open_ahead(table, out)
    return table


def test_a_workbook_opened_ahead_writes_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write takes the workbook opened and parsed ahead, and the output is the same."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    out = tmp_path / "ahead.xlsx"
    table = _write_ahead(source, out)
    opened: list[Path] = []
    real = output.open_streamed

    def spy(path: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(output, "open_streamed", spy)
    write_output(table, _results(table), _issues(table), _info(), out)
    assert [] == opened  # taken from open_ahead
    assert ahead.take_ahead(table, keep_vba=False) is None  # taken once
    monkeypatch.undo()
    write_output(table, _results(table), _issues(table), _info(), tmp_path / "plain.xlsx")
    assert _book_facts(out) == _book_facts(tmp_path / "plain.xlsx")


def test_an_input_changed_after_it_was_opened_ahead_is_opened_again(tmp_path: Path) -> None:
    """A workbook opened ahead is not used once its input changed: the write reads it anew."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    out = tmp_path / "ahead.xlsx"
    table = _write_ahead(source, out)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ahead.take_ahead(table, keep_vba=False) is None


def test_only_a_sheet_of_one_slice_is_parsed_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet of more rows than one slice keeps streaming: its rows are not held in memory."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    table = read_table(source)
    assert len(table) > 2
    for slice_rows, held in ((1_000, True), (2, False)):
        monkeypatch.setattr(stream, "_SLICE_ROWS", slice_rows)
        ahead.open_ahead(table, tmp_path / "out.xlsx")
        opened = ahead.take_ahead(table, keep_vba=False)
        assert opened is not None and opened[1] is not None
        assert (opened[1].parsed is not None) is held


def test_a_sheet_the_reader_found_larger_than_a_slice_is_not_parsed_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader's row count spares parsing a slice that would be thrown away."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    table = read_table(source)
    parses: list[object] = []
    real = stream._parsed

    def spy(*args: Any) -> Any:
        parses.append(args)
        return real(*args)

    monkeypatch.setattr(stream, "_SLICE_ROWS", 2)
    monkeypatch.setattr(stream, "_parsed", spy)
    ahead.open_ahead(table, tmp_path / "out.xlsx")
    opened = ahead.take_ahead(table, keep_vba=False)
    assert opened is not None and opened[1] is not None and opened[1].parsed is None
    assert [] == parses


def test_a_workbook_that_cannot_be_opened_ahead_is_left_to_the_write(tmp_path: Path) -> None:
    """open_ahead of a damaged workbook keeps quiet and holds nothing; the write handles it."""
    source = _rich_workbook(tmp_path / "advertisers.xlsx")
    table = read_table(source)
    source.write_bytes(b"PK\x03\x04 damaged since it was read")
    ahead.open_ahead(table, tmp_path / "out.xlsx")
    assert ahead.take_ahead(table, keep_vba=False) is None
