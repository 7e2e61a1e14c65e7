"""The blank input workbook that `batchprov template` writes (docs/design.md §2.4).

An empty `Advertisers` sheet (first, so it is the one read) with plain-word headers that the
reader maps to its fields, a comment on each header explaining it, drop-down lists and phone
columns formatted as text; an `Examples` sheet with one example row per match type (never
ordered: only the first sheet is read); an `Instructions` sheet; and a hidden `Lists` sheet
holding the state and province codes. The output is deterministic (fixed file properties), so
the committed copy in ``templates/`` can be compared with a fresh one cell by cell.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

DATA_SHEET = "Advertisers"
EXAMPLES_SHEET = "Examples"
INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
#: Rows below the header prepared for data: drop-downs and text formatting.
PREPARED_ROWS = 1000
FIXED_TIME = datetime(2026, 1, 1, 0, 0, 0)

#: The 50 states and DC.
US_STATES: tuple[str, ...] = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
)  # fmt: skip
#: The 10 provinces and 3 territories.
CA_PROVINCES: tuple[str, ...] = (
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Column:
    """One template column: its header, how much it is required, its help text and width."""

    header: str
    need: str  # "required", "depends" or "optional"
    help: str
    width: int
    text: bool = False  # digits that must stay text (phone numbers, ids, filters)


COLUMNS = (
    _Column(
        "Advertiser", "required",
        "A name for the tracking number, shown in reports; no two rows of a group may share "
        "one.\nExample: Lakeshore Family Dental", 32,
    ),
    _Column(
        "Group ID", "required",
        "The Telmetrics group the number belongs to (a whole number, from your Telmetrics "
        "account). May be left empty when you run with --group-id.\nExample: 11623282", 12,
        text=True,
    ),
    _Column(
        "Match type", "optional",
        "How the new number is chosen: Local to number (near the advertiser's own number), "
        "Local to city (in a city) or Toll-free. Left empty, batchprov works it out from the "
        "columns you filled.", 16,
    ),
    _Column(
        "Local to number", "depends",
        "For Local to number. The advertiser's own 10-digit phone number: the new number will "
        "be local to it. (905) 637-2046, 905-637-2046 and 9056372046 all work.", 17,
        text=True,
    ),
    _Column(
        "City", "depends",
        "For Local to city. The city the new number should be local to.\nExample: Atlanta",
        16,
    ),
    _Column(
        "State/Province", "depends",
        "For Local to city. The two-letter state or province code (GA, ON, BC ...); full "
        "names such as Ontario work too.", 15,
    ),
    _Column(
        "Area code filter", "optional",
        "Asks for a number in one area code (3 digits, e.g. 289) or area code and exchange "
        "(6 digits, e.g. 905637). Toll-free rows: 800, 833, 844, 855, 866, 877 or 888.", 17,
        text=True,
    ),
    _Column(
        "Forward calls to", "required",
        "Where calls to the new number ring: a 10-digit phone number.\nExample: 4165551234",
        18, text=True,
    ),
    _Column("Routing", "optional", "Basic (the default, and the only routing offered).", 10),
    _Column("Record calls", "optional", "yes or no: record calls to this number.", 13),
    _Column(
        "Recording message", "optional",
        "Played to the caller before a recorded call.\nExample: This call may be recorded for "
        "quality purposes.", 36,
    ),
    _Column(
        "Whisper message", "optional",
        "Whispered to whoever answers, before the caller is put through.\nExample: Call from "
        "your Google ad", 36,
    ),
    _Column(
        "If no number matches", "optional",
        "What to try, in order, when no number is available: without filter (any area code), "
        "other area code (another area code of the same place), toll-free; or none.\n"
        "Example: other area code, toll-free", 22,
    ),
)  # fmt: skip

#: Three example rows, one per match type (the requests of the Telmetrics "Automatic Number
#: Assignment" page). They live on their own sheet: the first sheet is the one read.
EXAMPLES = (
    ("Lakeshore Family Dental", "11623282", "Local to number", "9056372046", "", "", "289",
     "4165551234", "Basic", "", "", ""),
    ("Peachtree Family Law", "11623282", "Local to city", "", "Atlanta", "GA", "404",
     "4043993433", "Basic", "", "", ""),
    ("Northern Lights Furniture", "11623282", "Toll-free", "", "", "", "833",
     "4043993433", "Basic", "yes", "This call may be recorded.", ""),
)  # fmt: skip

#: Drop-down lists: header → (list formula, prompt). Spelling variants and full names are
#: accepted by batchprov, so a value off the list is a warning, not a refusal.
DROPDOWNS = {
    "Match type": ('"Local to number,Local to city,Toll-free"', "Local to number, Local to "
                   "city or Toll-free; leave empty to let batchprov decide."),
    "State/Province": (f"{LISTS_SHEET}!$A$2:$A${1 + len(US_STATES) + len(CA_PROVINCES)}",
                       "Two-letter state or province code."),
    "Routing": ('"Basic"', "Basic is the only routing offered."),
    "Record calls": ('"yes,no"', "yes to record calls, no (or empty) not to."),
}  # fmt: skip

_HEADER_FILLS = {"required": "1F3864", "depends": "2E75B6", "optional": "DCE4F0"}
_HEADER_FONTS = {"required": "FFFFFF", "depends": "FFFFFF", "optional": "1F3864"}
_EXAMPLE_FONT = Font(italic=True, color="7F7F7F")
_THIN = Side(style="thin", color="8EA9DB")
_INSTRUCTION_FONTS = {
    "title": Font(bold=True, size=16, color="1F3864"),
    "heading": Font(bold=True, size=12, color="1F3864"),
    "code": Font(name="Consolas", color="1F3864"),
}


def write_template(out: Path) -> Path:
    """Write the blank template workbook to ``out`` (replacing it atomically); return ``out``."""
    out = Path(out)
    wb = build_template()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".xlsx.tmp", dir=out.parent)
    os.close(fd)
    try:
        # ExcelWriter rather than wb.save(): save() stamps the time into the file properties.
        with ZipFile(name, "w", ZIP_DEFLATED, allowZip64=True) as archive:
            ExcelWriter(wb, archive).save()
        os.chmod(name, 0o644)
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return out


def build_template() -> Workbook:
    """The template workbook, in memory."""
    wb = Workbook()
    wb.properties.creator = "batchprov"
    wb.properties.title = "batchprov advertiser template"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    data = wb.active
    assert isinstance(data, Worksheet)
    data.title = DATA_SHEET
    _write_data_sheet(data)
    _write_examples(wb.create_sheet(EXAMPLES_SHEET))
    _write_instructions(wb.create_sheet(INSTRUCTIONS_SHEET))
    for ws in wb.worksheets[:3]:
        _fit_to_page_width(ws)
    _write_lists(wb.create_sheet(LISTS_SHEET))
    return wb


# --- the Advertisers sheet --------------------------------------------------------------------


def _write_data_sheet(ws: Worksheet) -> None:
    """The headers, and below them empty rows ready for data (text formats, drop-downs)."""
    _write_headers(ws)
    for number, column in enumerate(COLUMNS, start=1):
        if column.text:
            for row in range(2, PREPARED_ROWS + 2):
                ws.cell(row=row, column=number).number_format = "@"
    _add_dropdowns(ws)
    ws.sheet_properties.tabColor = "1F3864"


def _write_examples(ws: Worksheet) -> None:
    """The example rows under the same headers, ready to copy onto the Advertisers sheet.

    A title row above the header says they are examples (a reader skips title rows).
    """
    note = ws.cell(row=1, column=1, value=_EXAMPLES_NOTE)
    note.font = Font(bold=True, italic=True, color="8A5300")
    ws.row_dimensions[1].height = 22
    _write_headers(ws, row=2)
    for row, values in enumerate(EXAMPLES, start=3):
        for number, value in enumerate(values, start=1):
            if value:
                cell = ws.cell(row=row, column=number, value=value)
                cell.font = _EXAMPLE_FONT
                if COLUMNS[number - 1].text:
                    cell.number_format = "@"
    ws.sheet_properties.tabColor = "A6A6A6"


_EXAMPLES_NOTE = (
    "Examples only: batchprov reads the Advertisers sheet and never orders these rows. "
    "Copy a row there to use it."
)


def _fit_to_page_width(ws: Worksheet) -> None:
    """Printed (or made a PDF), a sheet is one page wide, in landscape."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def _write_headers(ws: Worksheet, *, row: int = 1) -> None:
    for number, column in enumerate(COLUMNS, start=1):
        _write_header_cell(ws, number, column, row=row)
        ws.column_dimensions[get_column_letter(number)].width = column.width
    ws.freeze_panes = f"A{row + 1}"
    ws.row_dimensions[row].height = 20


def _write_header_cell(ws: Worksheet, number: int, column: _Column, *, row: int) -> None:
    cell = ws.cell(row=row, column=number, value=column.header)
    cell.font = Font(bold=True, color=_HEADER_FONTS[column.need])
    cell.fill = PatternFill("solid", fgColor=_HEADER_FILLS[column.need])
    cell.border = Border(bottom=_THIN, right=_THIN)
    cell.alignment = Alignment(vertical="center")
    need = {
        "required": "REQUIRED",
        "depends": "REQUIRED FOR SOME MATCH TYPES",
        "optional": "OPTIONAL",
    }[column.need]
    text = f"{column.header} ({need})\n{column.help}"
    lines = sum(1 + len(line) // 40 for line in text.split("\n"))
    cell.comment = Comment(text, "batchprov", height=24 + 16 * lines, width=300)


def _add_dropdowns(ws: Worksheet) -> None:
    last = PREPARED_ROWS + 1
    for number, column in enumerate(COLUMNS, start=1):
        if column.header not in DROPDOWNS:
            continue
        formula, prompt = DROPDOWNS[column.header]
        rule = DataValidation(
            type="list",
            formula1=formula,
            allow_blank=True,
            showInputMessage=True,
            showErrorMessage=True,
            errorStyle="warning",
            promptTitle=column.header,
            prompt=prompt,
            errorTitle=f"Unusual {column.header}",
            error=f"Not one of the listed values. {prompt}",
        )
        letter = get_column_letter(number)
        rule.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(rule)


# --- the Instructions and Lists sheets --------------------------------------------------------

_INSTRUCTIONS: tuple[tuple[str, str], ...] = (
    ("title", "batchprov advertiser template"),
    ("text", "One row per tracking number to order, on the Advertisers sheet (the first sheet: "
             "it is the one batchprov reads). Keep the header row as it is; you may add columns "
             "of your own, and batchprov leaves them alone. Dark blue headers are required, "
             "mid-blue ones are needed for some match types, light ones are optional. Point at "
             "a header to read what it means."),
    ("text", "The Examples sheet shows one filled row per match type. It is never ordered; copy "
             "a row onto the Advertisers sheet to start from it."),
    ("heading", "The three match types"),
    ("text", "Local to number: a number local to the advertiser's own phone number. Fill "
             "Local to number."),
    ("text", "Local to city: a number local to a city. Fill City and State/Province."),
    ("text", "Toll-free: a toll-free number (800, 833, 844, 855, 866, 877, 888). Nothing more "
             "to fill."),
    ("text", "Every row also needs Advertiser, Group ID and Forward calls to. Area code filter "
             "(an area code such as 289, or area code and exchange such as 905637) is "
             "optional."),
    ("heading", "Columns"),
    ("columns", ""),
    ("heading", "Running batchprov"),
    ("code", "batchprov validate advertisers.xlsx"),
    ("text", "Checks every row and writes advertisers.checked.xlsx, with each problem "
             "highlighted and explained. Orders nothing."),
    ("code", "batchprov run advertisers.xlsx --dry-run"),
    ("text", "Shows what would be ordered, row by row, in advertisers.plan.xlsx. Orders "
             "nothing."),
    ("code", "batchprov run advertisers.xlsx --sandbox"),
    ("text", "A rehearsal against the built-in simulator, written to "
             "advertisers.sandbox.results.xlsx: nothing is bought."),
    ("code", "batchprov run advertisers.xlsx"),
    ("text", "Orders the numbers. Set TELMETRICS_TOKEN first; batchprov shows what it will order "
             "and asks before it starts. The results go to advertisers.results.xlsx."),
    ("heading", "The results"),
    ("text", "Results come back in new columns to the right of your data (Status, Error, "
             "Warnings, Tracking Number, ...), in a copy of your workbook, with a Summary "
             "sheet, an Errors sheet and a Needs attention sheet holding only the rows to fix. "
             "Your own file is never changed."),
    ("text", "Fix the red cells and run the results file again: batchprov reuses its result "
             "columns, and never orders a row that already shows a number. If a run is "
             "stopped, run the same command again to finish: nothing is bought twice."),
)  # fmt: skip


def _write_instructions(ws: Worksheet) -> None:
    for letter, width in zip("ABC", (24, 22, 90), strict=True):
        ws.column_dimensions[letter].width = width
    row = 1
    for kind, text in _INSTRUCTIONS:
        if kind == "heading":
            row += 1  # a blank line before each section
        if kind == "columns":
            row = _write_column_table(ws, row)
            continue
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = _INSTRUCTION_FONTS.get(kind, Font())
        if kind == "code":
            cell.fill = PatternFill("solid", fgColor="F2F2F2")
        # Merged cells do not grow with their text, so the row is given its height.
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[row].height = 24 if kind == "title" else _height(text, 130)
        row += 1
    ws.sheet_view.showGridLines = False


def _write_column_table(ws: Worksheet, row: int) -> int:
    for number, title in enumerate(("Column", "Needed", "What it means"), start=1):
        cell = ws.cell(row=row, column=number, value=title)
        cell.font = Font(bold=True, color="1F3864")
        cell.fill = PatternFill("solid", fgColor="DCE4F0")
    needed = {"required": "required", "depends": "for some match types", "optional": "optional"}
    top = Alignment(wrap_text=True, vertical="top")
    for column in COLUMNS:
        row += 1
        texts = (column.header, needed[column.need], column.help.replace("\n", " "))
        for number, text in enumerate(texts, start=1):
            cell = ws.cell(row=row, column=number, value=text)
            cell.alignment = top
        ws.cell(row=row, column=1).font = Font(bold=True)
        ws.row_dimensions[row].height = _height(texts[2], 85)
    return row + 1


def _height(text: str, per_line: int) -> float:
    """Row height (points) for ``text`` wrapped at about ``per_line`` characters."""
    return 15.0 * max(1, -(-len(text) // per_line))


def _write_lists(ws: Worksheet) -> None:
    ws["A1"], ws["B1"] = "code", "country"
    for row, code in enumerate([*US_STATES, *CA_PROVINCES], start=2):
        ws.cell(row=row, column=1, value=code)
        ws.cell(row=row, column=2, value="US" if code in US_STATES else "Canada")
    ws.sheet_state = "hidden"
