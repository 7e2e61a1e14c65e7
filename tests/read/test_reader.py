"""Reading workbooks and delimited text into a Table of text cells."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import random
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchprov.errors import (
    InputError,
    NoHeaderError,
    SheetNotFoundError,
    UnreadableFileError,
)
from batchprov.models import Table
from batchprov.read.files import read_table, sha256_of

HEADER: list[object] = ["Advertiser", "Group", "Forward To", "Local To"]
ROW: list[object] = ["Café Montréal", 1234, 9056372046.0, 2896372046]
ROW_TEXT = ["Café Montréal", "1234", "9056372046", "2896372046"]

Rows = Sequence[Sequence[object]]


def write_xlsx(
    path: Path,
    sheets: dict[str, Rows],
    *,
    hidden: Sequence[str] = (),
    first_row: int = 1,
    first_col: int = 1,
) -> Path:
    """Write ``sheets`` (name → rows, None for an empty cell) starting at the given cell."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.cell(row=first_row + r, column=first_col + c, value=value)
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def write_text(path: Path, rows: Rows, *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def cells(table: Table) -> list[list[str]]:
    return table.frame.values.tolist()


# --- workbooks -------------------------------------------------------------------------------


def test_reads_a_simple_workbook(tmp_path: Path) -> None:
    """Headers, text cells, Excel row numbers and column indexes of a plain sheet are filled."""
    path = write_xlsx(tmp_path / "in.xlsx", {"Sheet1": [HEADER, ROW, ROW]})
    table = read_table(path)
    assert table.path == path
    assert table.format == "xlsx"
    assert table.sheet == "Sheet1"
    assert table.headers == tuple(HEADER)
    assert table.columns == (1, 2, 3, 4)
    assert table.header_row == 1
    assert table.excel_rows == (2, 3)
    assert len(table) == 2
    assert list(table.frame.columns) == HEADER
    assert list(table.frame.index) == [0, 1]
    assert cells(table) == [ROW_TEXT, ROW_TEXT]
    assert table.encoding is None and table.delimiter is None


def test_cell_values_become_text(tmp_path: Path) -> None:
    """Whole floats lose ``.0``; other numbers, bools, dates and times become minimal text."""
    row = [
        "  padded  ",
        289.0,
        1.5,
        True,
        False,
        dt.date(2024, 3, 1),
        dt.datetime(2024, 3, 1, 14, 30),
        dt.time(9, 5),
        0.1 + 0.2,
        -0.0,
        12345678901234.0,
    ]
    header = ["Name", "Group", *(f"c{i}" for i in range(len(row) - 2))]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": [header, row]}))
    assert cells(table) == [
        [
            "padded",
            "289",
            "1.5",
            "TRUE",
            "FALSE",
            "2024-03-01",
            "2024-03-01T14:30:00",
            "09:05:00",
            "0.3",
            "0",
            "12345678901234",
        ]
    ]


def test_header_found_below_title_rows(tmp_path: Path) -> None:
    """Title and blank rows above the header are skipped and row numbers still match Excel."""
    rows: list[list[object]] = [
        ["Onboarding — March batch"],
        ["Prepared by Sales"],
        [],
        HEADER,
        ROW,
    ]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": rows}))
    assert table.header_row == 4
    assert table.headers == tuple(HEADER)
    assert table.excel_rows == (5,)


def test_leading_blank_rows_and_columns_keep_excel_positions(tmp_path: Path) -> None:
    """A table starting at C4 reports Excel's row and column numbers (checked with openpyxl)."""
    rows: list[list[object]] = [HEADER, ROW, [], ["Second", 5, "4165550000", None]]
    path = write_xlsx(tmp_path / "in.xlsx", {"S": rows}, first_row=4, first_col=3)
    table = read_table(path)
    assert table.header_row == 4
    assert table.columns == (3, 4, 5, 6)
    assert table.excel_rows == (5, 7)
    sheet = openpyxl.load_workbook(path)["S"]
    for j, column in enumerate(table.columns):
        assert sheet.cell(row=table.header_row, column=column).value == table.headers[j]
        for i, excel_row in enumerate(table.excel_rows):
            value = sheet.cell(row=excel_row, column=column).value
            expected = "" if value is None else str(value).removesuffix(".0")
            assert table.frame.iat[i, j] == expected


def test_title_row_wider_than_table_does_not_add_columns(tmp_path: Path) -> None:
    """A title cell left of the table (column A) does not become an empty column of the table."""
    rows: Rows = [["Advertisers"], [], [None, *HEADER], [None, *ROW]]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": rows}))
    assert table.headers == tuple(HEADER)
    assert table.columns == (2, 3, 4, 5)


def test_empty_rows_are_skipped(tmp_path: Path) -> None:
    """Wholly empty rows (including whitespace-only ones) are dropped; others keep their row."""
    rows: list[list[object]] = [HEADER, ROW, [None, "   "], [], ROW, []]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": rows}))
    assert table.excel_rows == (2, 5)
    assert cells(table) == [ROW_TEXT, ROW_TEXT]


def test_blank_and_duplicate_headers_are_made_unique(tmp_path: Path) -> None:
    """A blank header becomes ``Column <letter>``; repeats get `` (2)``, `` (3)``."""
    header: list[object] = ["Name", "Group", None, "Notes", "Notes", "Notes"]
    row: list[object] = ["A", 1, "x", "n1", "n2", "n3"]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": [header, row]}, first_col=2))
    assert table.headers == ("Name", "Group", "Column D", "Notes", "Notes (2)", "Notes (3)")
    assert cells(table) == [["A", "1", "x", "n1", "n2", "n3"]]


def test_data_right_of_the_headers_is_kept(tmp_path: Path) -> None:
    """Cells under no header are kept in a ``Column <letter>`` column, never lost."""
    rows: list[list[object]] = [HEADER, [*ROW, "stray"]]
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": rows}))
    assert table.headers == (*HEADER, "Column E")
    assert table.frame["Column E"].tolist() == ["stray"]


def test_header_only_sheet_gives_an_empty_frame(tmp_path: Path) -> None:
    """A sheet with a header and no data rows reads as a table with no rows."""
    table = read_table(write_xlsx(tmp_path / "in.xlsx", {"S": [HEADER]}))
    assert len(table) == 0
    assert list(table.frame.columns) == HEADER
    assert table.frame.shape == (0, 4)


def test_hidden_first_sheet_is_skipped(tmp_path: Path) -> None:
    """Without --sheet the first visible sheet is read."""
    sheets: dict[str, Rows] = {"Lookup": [["x"]], "Data": [HEADER, ROW]}
    table = read_table(write_xlsx(tmp_path / "in.xlsx", sheets, hidden=["Lookup"]))
    assert table.sheet == "Data"


def test_sheet_option_picks_the_named_sheet(tmp_path: Path) -> None:
    """``sheet=`` reads that sheet, even hidden, and tolerates case and surrounding spaces."""
    other: Rows = [HEADER, ["Other", 9, "4165550000", ""]]
    sheets: dict[str, Rows] = {"Data": [HEADER, ROW], "March": other}
    path = write_xlsx(tmp_path / "in.xlsx", sheets, hidden=["March"])
    assert read_table(path, sheet="March").frame.iat[0, 0] == "Other"
    assert read_table(path, sheet=" march ").sheet == "March"


def test_sheet_not_found_names_the_sheets(tmp_path: Path) -> None:
    """An unknown sheet name is a SheetNotFoundError listing the workbook's sheets."""
    path = write_xlsx(tmp_path / "in.xlsx", {"Data": [HEADER], "Old": [HEADER]})
    with pytest.raises(SheetNotFoundError) as caught:
        read_table(path, sheet="April")
    assert str(caught.value) == "No sheet 'April' in in.xlsx; its sheets: 'Data', 'Old'."


def test_xlsm_reads_like_xlsx(tmp_path: Path) -> None:
    """An .xlsm workbook is read and reported as xlsm."""
    path = write_xlsx(tmp_path / "in.xlsm", {"S": [HEADER, ROW]})
    table = read_table(path)
    assert table.format == "xlsm"
    assert cells(table) == [ROW_TEXT]


def write_xls(path: Path, rows: Rows, *, hidden_first: bool = False) -> Path:
    """Write an Excel 97 workbook with xlwt (a test-only tool)."""
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    if hidden_first:
        book.add_sheet("Hidden").visibility = 1
    sheet = book.add_sheet("Data")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r + 2, c + 1, value)
    book.save(str(path))
    return path


def test_reads_xls(tmp_path: Path) -> None:
    """An .xls workbook is read like an .xlsx, hidden sheets and positions included."""
    path = write_xls(tmp_path / "old.xls", [["Title"], [], HEADER, ROW], hidden_first=True)
    table = read_table(path)
    assert (table.format, table.sheet) == ("xls", "Data")
    assert table.header_row == 5
    assert table.columns == (2, 3, 4, 5)
    assert table.excel_rows == (6,)
    assert cells(table) == [ROW_TEXT]


def test_workbook_with_the_other_excel_extension_is_read_by_content(tmp_path: Path) -> None:
    """An .xls saved as .xlsx (and the reverse) is read by what it holds."""
    xls = write_xls(tmp_path / "old.xls", [HEADER, ROW])
    misnamed = tmp_path / "old.xlsx"
    misnamed.write_bytes(xls.read_bytes())
    assert read_table(misnamed).format == "xls"
    xlsx = write_xlsx(tmp_path / "new.xlsx", {"S": [HEADER, ROW]})
    renamed = tmp_path / "new.xls"
    renamed.write_bytes(xlsx.read_bytes())
    table = read_table(renamed)
    assert (table.format, cells(table)) == ("xlsx", [ROW_TEXT])


# --- delimited text --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_csv_encodings_are_detected_from_the_bytes(tmp_path: Path, encoding: str) -> None:
    """UTF-8, UTF-8 with BOM, Windows-1252 and UTF-16 text all read accented names correctly."""
    rows: Rows = [
        HEADER,
        ["Café Montréal", "12", "9056372046", ""],
        ["Crêperie Noël", "12", "1", ""],
    ]
    table = read_table(write_text(tmp_path / "in.csv", rows, encoding=encoding))
    assert table.encoding == encoding
    assert table.format == "csv"
    assert table.sheet == "in"
    assert table.frame["Advertiser"].tolist() == ["Café Montréal", "Crêperie Noël"]


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".tsv"), ("|", ".txt")])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    """Semicolon, tab and pipe files are split on their own delimiter."""
    rows: Rows = [HEADER, ["Smith, Jones & Co", "12", "9056372046", ""], ["Acme", "12", "1", ""]]
    table = read_table(write_text(tmp_path / f"in{suffix}", rows, delimiter=delimiter))
    assert table.delimiter == delimiter
    assert table.headers == tuple(HEADER)
    assert table.frame["Advertiser"].tolist() == ["Smith, Jones & Co", "Acme"]


def test_commas_inside_a_semicolon_file_do_not_win(tmp_path: Path) -> None:
    """Commas in some values (unquoted) do not make a semicolon file look comma-separated."""
    text = (
        "Name;Group;Forward To;City;Notes\n"
        "Bob's Pizza, Inc;12;9056372046;Burlington;open 9-5, Mon-Fri\n"
        "Acme;12;9056372047;Oakville;\n"
        "Café, Bar, Grill;12;9056372048;Hamilton;patio, bar\n"
        "Zed;12;9056372049;Milton;\n"
    )
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = read_table(path)
    assert table.delimiter == ";"
    assert table.frame["Name"].tolist() == ["Bob's Pizza, Inc", "Acme", "Café, Bar, Grill", "Zed"]


def test_quoted_fields_hold_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    """Quoted fields keep their delimiters, doubled quotes and line breaks."""
    text = (
        'Name,Group,Forward To,Notes\r\n"Smith, Jones","12",9056372046,"say ""hi""\r\nthen go"\r\n'
    )
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode())
    table = read_table(path)
    assert cells(table) == [["Smith, Jones", "12", "9056372046", 'say "hi"\r\nthen go']]


def test_csv_cells_are_kept_as_written(tmp_path: Path) -> None:
    """CSV text such as ``9056372046.0`` or ``007`` stays exactly as written (only trimmed)."""
    rows: Rows = [HEADER, ["  A  ", "007", "9056372046.0", "1e3"]]
    table = read_table(write_text(tmp_path / "in.csv", rows))
    assert cells(table) == [["A", "007", "9056372046.0", "1e3"]]


def test_cp1252_bytes_undefined_in_windows_1252_do_not_fail(tmp_path: Path) -> None:
    """Bytes that Windows-1252 leaves undefined become U+FFFD instead of an error."""
    path = tmp_path / "in.csv"
    path.write_bytes("Name,Group,Forward To\nCaf\xe9\x81,1,9056372046\n".encode("latin-1"))
    table = read_table(path)
    assert table.encoding == "cp1252"
    assert table.frame.iat[0, 0] == "Caf\xe9\ufffd"


def test_csv_title_rows_blank_lines_and_ragged_rows(tmp_path: Path) -> None:
    """CSV rows are numbered like Excel would show them; short rows are padded with ''."""
    text = "Advertisers for March\n\nName,Group,Forward To\nA,1,9056372046\n\nB,2\n"
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    table = read_table(path)
    assert table.header_row == 3
    assert table.excel_rows == (4, 6)
    assert cells(table) == [["A", "1", "9056372046"], ["B", "2", ""]]


# --- errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is an UnreadableFileError naming it."""
    with pytest.raises(UnreadableFileError, match=r"nope\.xlsx does not exist\."):
        read_table(tmp_path / "nope.xlsx")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    """A folder given as input is refused clearly."""
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(UnreadableFileError, match="is a folder"):
        read_table(folder)


@pytest.mark.parametrize("name", ["in.xlsx", "in.xls", "in.csv"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    """A 0-byte file is reported as empty, whatever its kind."""
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(UnreadableFileError, match=r"is empty \(0 bytes\)\."):
        read_table(tmp_path / name)


def test_workbook_sheet_without_rows(tmp_path: Path) -> None:
    """A workbook whose sheet holds no cells is an UnreadableFileError naming the sheet."""
    path = write_xlsx(tmp_path / "in.xlsx", {"Blank": []})
    with pytest.raises(UnreadableFileError, match="Sheet 'Blank' of in.xlsx is empty."):
        read_table(path)


def test_csv_without_rows(tmp_path: Path) -> None:
    """A text file of blank lines and spaces has no rows."""
    path = tmp_path / "in.csv"
    path.write_text("\n  \n,,\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"in\.csv has no rows\."):
        read_table(path)


def test_no_header_row(tmp_path: Path) -> None:
    """Rows that name no known columns raise NoHeaderError with the expected message."""
    rows = [["Report"], ["a", "b", "c"], ["1", "2", "3"]]
    with pytest.raises(NoHeaderError) as caught:
        read_table(write_xlsx(tmp_path / "in.xlsx", {"Sheet1": rows}))
    assert str(caught.value) == (
        "No header row found in the first 30 rows of Sheet1 (in.xlsx); "
        "expected columns such as name, group_id, termination_number."
    )


def test_header_beyond_the_first_30_rows_is_not_searched(tmp_path: Path) -> None:
    """Only the first 30 non-empty rows are searched for the header."""
    rows: list[list[object]] = [[f"note {i}"] for i in range(30)]
    rows += [HEADER, ROW]
    with pytest.raises(NoHeaderError):
        read_table(write_xlsx(tmp_path / "in.xlsx", {"S": rows}))


def test_password_protected_workbook(tmp_path: Path) -> None:
    """An encrypted .xlsx (an OLE2 file holding an EncryptedPackage stream) is named as such."""
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    path = tmp_path / "secret.xlsx"
    path.write_bytes(ole2 + "EncryptedPackage".encode("utf-16-le") + bytes(1024))
    with pytest.raises(UnreadableFileError) as caught:
        read_table(path)
    assert str(caught.value) == (
        "secret.xlsx is password-protected; remove the password in Excel and try again."
    )


def test_password_protected_workbook_made_by_office_encryption(tmp_path: Path) -> None:
    """A workbook really encrypted with a password (MS-OFFCRYPTO) is reported as protected."""
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    plain = write_xlsx(tmp_path / "plain.xlsx", {"S": [HEADER, ROW]})
    path = tmp_path / "secret.xlsx"
    with plain.open("rb") as source, path.open("wb") as target:
        ooxml.OOXMLFile(source).encrypt("hunter2", target)
    with pytest.raises(UnreadableFileError, match="is password-protected"):
        read_table(path)


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"%PDF-1.7\n1 0 obj\n", " (it is a PDF document)."),
        (b"\x8a\x01\xff\x00garbage" * 40, "."),
        (b"<html><table><tr><td>Name</td></tr></table></html>", " (it is a web page"),
        (b"Name,Group,Forward To\nA,1,9056372046\n", " (it looks like delimited text"),
    ],
)
def test_not_a_workbook(tmp_path: Path, content: bytes, hint: str) -> None:
    """Bytes that are no workbook, named .xlsx or .xls, are refused with a hint of what they are."""
    for name in ("in.xlsx", "in.xls"):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UnreadableFileError) as caught:
            read_table(tmp_path / name)
        assert str(caught.value).startswith(f"{name} is not an Excel workbook{hint}")


def test_damaged_zip_workbook(tmp_path: Path) -> None:
    """A zip that is not a workbook (or a truncated one) is an UnreadableFileError."""
    good = write_xlsx(tmp_path / "good.xlsx", {"S": [HEADER, ROW]}).read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(
        UnreadableFileError, match=r"cut\.xlsx is not an Excel workbook or is damaged"
    ):
        read_table(path)


def test_randomly_damaged_xlsx_fails_cleanly(tmp_path: Path) -> None:
    """Flipped and truncated bytes in an .xlsx give an input error, never a crash."""
    good = write_xlsx(tmp_path / "good.xlsx", {"S": [HEADER, ROW, ROW]}).read_bytes()
    chance = random.Random(7)
    for attempt in range(60):
        damaged = bytearray(good)
        for _ in range(chance.randint(1, 20)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        if attempt % 3 == 0:
            damaged = damaged[: chance.randrange(1, len(damaged))]
        path = tmp_path / f"bad{attempt}.xlsx"
        path.write_bytes(bytes(damaged))
        with contextlib.suppress(InputError):
            _check_invariants(read_table(path))


def test_truncated_xls_fails_cleanly(tmp_path: Path) -> None:
    """A cut-off .xls gives an input error even where calamine panics on it."""
    good = write_xls(tmp_path / "good.xls", [HEADER, ROW, ROW]).read_bytes()
    # Random byte flips are not used here: some make calamine abort the whole process
    # (a huge allocation), which no Python code can catch.
    refused = 0
    sizes = range(1, len(good), 97)
    for size in sizes:
        path = tmp_path / f"cut{size}.xls"
        path.write_bytes(good[:size])
        try:
            _check_invariants(read_table(path))
        except UnreadableFileError as error:
            assert "is not an Excel workbook" in str(error)
            refused += 1
    assert refused > len(sizes) // 2


def test_workbook_named_csv(tmp_path: Path) -> None:
    """A workbook saved with a .csv name is refused with advice to rename it."""
    data = write_xlsx(tmp_path / "a.xlsx", {"S": [HEADER, ROW]}).read_bytes()
    (tmp_path / "a.csv").write_bytes(data)
    with pytest.raises(UnreadableFileError, match="is an Excel workbook, not delimited text"):
        read_table(tmp_path / "a.csv")


def test_binary_named_csv(tmp_path: Path) -> None:
    """Binary content named .csv is not a text file."""
    (tmp_path / "a.csv").write_bytes(b"Name,Group\x00\x00\x01\x02")
    with pytest.raises(UnreadableFileError, match=r"a\.csv is not a text file\."):
        read_table(tmp_path / "a.csv")


@pytest.mark.parametrize("name", ["in.pdf", "in.ods", "in", "in.xlsb"])
def test_unknown_extension_lists_supported_ones(tmp_path: Path, name: str) -> None:
    """An unsupported extension is refused, listing the kinds batchprov reads."""
    (tmp_path / name).write_bytes(b"whatever")
    with pytest.raises(UnreadableFileError) as caught:
        read_table(tmp_path / name)
    assert ".xlsx, .xlsm, .xls, .csv, .tsv, .txt" in str(caught.value)


def test_sha256_of(tmp_path: Path) -> None:
    """``sha256_of`` gives the hex SHA-256 of the file's bytes."""
    path = tmp_path / "in.csv"
    path.write_bytes(b"Name,Group\n")
    assert sha256_of(path) == hashlib.sha256(b"Name,Group\n").hexdigest()


# --- never crash -----------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12
)  # openpyxl refuses control characters
_CELLS = st.one_of(
    st.none(),
    _TEXT,
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1)),
)
_ROWS = st.lists(st.lists(_CELLS, max_size=6), max_size=8)
_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check_invariants(table: Table) -> None:
    assert table.frame.shape == (len(table.excel_rows), len(table.headers))
    assert list(table.frame.columns) == list(table.headers)
    assert len(set(table.headers)) == len(table.headers)
    assert all(isinstance(v, str) for v in table.frame.to_numpy().ravel())
    assert list(table.excel_rows) == sorted(set(table.excel_rows))
    assert all(r > table.header_row for r in table.excel_rows)


@_SETTINGS
@given(rows=_ROWS, with_header=st.booleans())
def test_any_workbook_cells_read_or_fail_cleanly(
    tmp_path: Path, rows: list[list[object]], with_header: bool
) -> None:
    """Arbitrary cell values in an xlsx either read as text or raise a documented input error."""
    body: list[list[object]] = [list(HEADER), *rows] if with_header else rows
    path = write_xlsx(tmp_path / "any.xlsx", {"S": body})
    try:
        table = read_table(path)
    except InputError:
        assert not with_header
        return
    _check_invariants(table)


@_SETTINGS
@given(
    rows=_ROWS,
    with_header=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_any_csv_cells_read_or_fail_cleanly(
    tmp_path: Path, rows: list[list[object]], with_header: bool, delimiter: str, encoding: str
) -> None:
    """Arbitrary cells written as delimited text either read as text or raise an input error."""
    body: list[list[object]] = [list(HEADER), *rows] if with_header else rows
    path = write_text(tmp_path / "any.csv", body, delimiter=delimiter, encoding=encoding)
    try:
        table = read_table(path)
    except InputError:
        return
    _check_invariants(table)
