"""Regenerate the example inputs: ``python examples/make_examples.py`` (from the repository root).

- ``advertisers.xlsx`` / ``advertisers.csv``: 26 valid rows in Canada and the US, all three
  match types, with and without filters, in two groups.
- ``needs_fixing.xlsx``: the same kind of sheet as an account manager really sends it: a title
  row, numbers stored as numbers, spelling variants, and eight rows with mistakes.

Every local number and city comes from the ``phonenumbers`` geographic data; every filter is an
area code (or exchange) of the row's place.
"""

# The example rows read best as one row per line.
# ruff: noqa: E501

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

HERE = Path(__file__).resolve().parent
FIXED_TIME = datetime(2026, 3, 2, 9, 0, 0)
G1, G2 = "11623282", "11623283"
REC = "This call may be recorded for quality and training purposes."

HEADERS = (
    "Advertiser", "Group ID", "Match Type", "Local To", "City", "State/Province",
    "Area Code Filter", "Forward To", "Record Calls", "Recording Message", "Whisper",
)  # fmt: skip
#: Columns holding phone numbers, group ids or filters: written as text, never as numbers.
TEXT_COLUMNS = {"Group ID", "Local To", "Area Code Filter", "Forward To"}

# name, group, match type, local to, city, state, filter, forward to, record, message, whisper
ADVERTISERS: tuple[tuple[str, ...], ...] = (
    ("Lakeshore Family Dental", G1, "localtonumber", "9056372046", "", "", "289", "9056372046", "", "", ""),
    ("Brant Street Physiotherapy", G1, "localtonumber", "9056314187", "", "", "905631", "9056314187", "", "", ""),
    ("Queen West Plumbing & Heating", G1, "localtonumber", "4162037719", "", "", "437", "4162037719", "yes", REC, ""),
    ("Harbourfront Law LLP", G1, "localtocity", "", "Toronto", "ON", "416", "4163408821", "", "", ""),
    ("Danforth Pizza Co.", G1, "localtocity", "", "Toronto", "ON", "", "4163225190", "", "", "Call from your Danforth Pizza online ad"),
    ("Mississauga Auto Glass", G1, "localtonumber", "9052704433", "", "", "", "9052704433", "", "", ""),
    ("Kitsilano Veterinary Clinic", G1, "localtocity", "", "Vancouver", "BC", "604", "6042227065", "", "", ""),
    ("Granville Island Kayak Rentals", G1, "localtonumber", "6042553318", "", "", "778", "6042553318", "", "", ""),
    ("Bow River Roofing", G1, "localtocity", "", "Calgary", "AB", "403", "4032081194", "", "", ""),
    ("Whyte Avenue Optometry", G1, "localtonumber", "7804332270", "", "", "", "7804332270", "", "", ""),
    ("Plateau Bistro", G1, "localtocity", "", "Montreal", "QC", "514", "5142553310", "", "", "Plateau Bistro — call from Google ad"),
    ("ByWard Market Dental", G1, "localtonumber", "6132367782", "", "", "613236", "6132367782", "", "", ""),
    ("Halifax Harbour Realty", G1, "localtocity", "", "Halifax", "NS", "902", "9024221638", "", "", ""),
    ("Northern Lights Furniture", G1, "tollfree", "", "", "", "833", "4165961200", "", "", ""),
    ("Maple Leaf Movers", G1, "tollfree", "", "", "", "888", "9052686655", "yes", "Calls are recorded to help us serve you better.", ""),
    ("Great Lakes Home Warranty", G1, "tollfree", "", "", "", "844", "6132380480", "", "", ""),
    ("Wicker Park Dental Studio", G1, "localtonumber", "7732784406", "", "", "312", "7732784406", "", "", ""),
    ("Loop Legal Group", G1, "localtocity", "", "Chicago", "IL", "312", "3122364100", "yes", REC, ""),
    ("Peachtree Family Law", G1, "localtocity", "", "Atlanta", "GA", "404", "4043993433", "", "", ""),
    ("Buckhead Plumbing Pros", G1, "localtonumber", "4042337120", "", "", "678", "4042337120", "", "", ""),
    ("Back Bay Orthodontics", G1, "localtonumber", "6172665503", "", "", "617", "6172665503", "", "", "Back Bay Ortho: new patient line"),
    ("Mile High HVAC", G2, "localtocity", "", "Denver", "CO", "720", "3032926650", "", "", ""),
    ("Capitol Hill Coffee Roasters", G2, "localtonumber", "2063237745", "", "", "206", "2063237745", "", "", ""),
    ("Barton Springs Pool Service", G2, "localtocity", "", "Austin", "TX", "", "5122806410", "", "", ""),
    ("Sunbelt Solar", G2, "tollfree", "", "", "", "855", "6022297740", "no", "", ""),
    ("Desert Sky Roofing", G2, "localtocity", "", "Phoenix", "AZ", "602", "6022126631", "", "", ""),
)  # fmt: skip

FIX_TITLE = "March onboarding — West region"
FIX_HEADERS = (
    "Advertiser Name", "Group ID", "Match Type", "Advertiser Phone", "City", "Province",
    "Area Code", "Ring To", "Notes",
)  # fmt: skip
# Numbers stored as numbers on purpose (int), the way Excel keeps typed-in digits.
NEEDS_FIXING: tuple[tuple[str | int, ...], ...] = (
    ("Granville Island Kayak Rentals", 11623282, "Local to Number", "(604) 255-3318", "", "", 778, 6042553318, "Renewal: keep same forwarding"),
    ("Kitsilano Veterinary Clinic", 11623282, "localtocity", "", "Vancouver", "BC", 604, 6042227065, "New client"),
    ("Kitsilano Veterinary Clinic", 11623282, "localtonumber", 6042227065, "", "", "", 6042227065, "Second location? Check with Priya"),
    ("Bow River Roofing", 11623282, "localtocity", "", "Calgary", "AB", 403, 4032081194, ""),
    ("Whyte Avenue Optometry", 11623282, "localtocity", "", "Edmonton", "Alberta", 780, 7804332270, ""),
    ("Jasper Avenue Dental", 11623282, "localtocity", "", "Edmonton", "Albrta", 780, 7804234410, ""),
    ("Capitol Hill Coffee Roasters", 11623283, "localtocity", "", "", "WA", 206, 2063237745, "Waiting for the address from the client"),
    ("Mile High HVAC", 11623283, "localtocity", "", "Denver", "CO", 800, 3032926650, "Client asked for an 800 number"),
    ("Sunbelt Solar", 11623283, "Toll-Free", "", "", "", 855, 6022297740, ""),
    ("Desert Sky Roofing", 11623283, "localtocity", "", "Phoenix", "AZ", 602, 4115551234, ""),
    ("Rose City Bike Repair", 11623283, "localtonumber", 5032287734, "", "", "", "555-1234", "Forward to the shop line"),
    ("Gaslamp Tacos", 11623283, "localtocity", "", "San Diego", "CA", 61, 6192337712, ""),
    ("Pike Place Flowers", 11623283, "localtonumber", 2066221045, "", "", 206, 2066221045, ""),
    ("Kerrisdale Music Lessons", 11623282, "", "", "Vancouver", "BC", "", 6042631187, "Type left blank: city given"),
)  # fmt: skip


def _new_workbook(title: str) -> tuple[Workbook, Worksheet]:
    wb = Workbook()
    wb.properties.creator = "Account Management"
    wb.properties.created = FIXED_TIME  # openpyxl stamps "modified" itself when saving
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = title
    return wb, ws


def _style_header(
    ws: Worksheet, row: int, headers: tuple[str, ...], rows: tuple[tuple[str | int, ...], ...]
) -> None:
    """A bold, shaded header row; each column as wide as its longest text (at most 40)."""
    for column, header in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=column, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="F2F2F2")
        width = max(len(header), *(len(str(r[column - 1])) for r in rows)) + 2
        ws.column_dimensions[get_column_letter(column)].width = min(width, 40)


def advertisers_xlsx(path: Path) -> None:
    wb, ws = _new_workbook("Advertisers")
    _style_header(ws, 1, HEADERS, ADVERTISERS)
    for row, values in enumerate(ADVERTISERS, start=2):
        for column, (header, value) in enumerate(zip(HEADERS, values, strict=True), start=1):
            cell = ws.cell(row=row, column=column, value=value or None)
            if header in TEXT_COLUMNS:
                cell.number_format = "@"
    ws.freeze_panes = "A2"
    wb.save(path)


def advertisers_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(ADVERTISERS)


def needs_fixing_xlsx(path: Path) -> None:
    wb, ws = _new_workbook("March")
    ws["A1"] = FIX_TITLE
    ws["A1"].font = Font(bold=True, size=14)
    _style_header(ws, 3, FIX_HEADERS, NEEDS_FIXING)
    for row, values in enumerate(NEEDS_FIXING, start=4):
        for column, value in enumerate(values, start=1):
            ws.cell(row=row, column=column, value=value if value != "" else None)
    wb.save(path)


def main() -> None:
    advertisers_xlsx(HERE / "advertisers.xlsx")
    advertisers_csv(HERE / "advertisers.csv")
    needs_fixing_xlsx(HERE / "needs_fixing.xlsx")


if __name__ == "__main__":
    main()
