"""Hostile and damaged files never abort, hang or mislead: a Table or one clear line, in bounds."""

from __future__ import annotations

import codecs
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from hostile_files import (
    Ole,
    damaged_xls,
    hidden_rows_xls,
    lying_dimension_xlsx,
    plain_xls,
    plain_xlsx,
    shared_string_bomb_xlsx,
    varied_string_bomb_xlsx,
    xfd_xlsx,
    xml_bomb_xlsx,
)

from batchprov.errors import ConfigError, InputError, UnreadableFileError
from batchprov.models import Table
from batchprov.pipeline import check_file
from batchprov.read.files import read_table
from batchprov.read.limits import ReadLimits

ROOT = Path(__file__).resolve().parents[2]
#: Hostile files must be refused well within the default limits (60 s of CPU, 2 GB).
SECONDS = 20.0
PARENT_GROWTH_MB = 300


def _refused(path: Path, limits: ReadLimits | None = None) -> str:
    """The reader's one-line refusal of ``path``, checked to come quickly and cost the parent
    little memory (the child has its own limits)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(UnreadableFileError) as caught:
        read_table(path, limits=limits)
    assert time.monotonic() - started < SECONDS
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < PARENT_GROWTH_MB
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"{path.name} ")
    return message


# --- the hostile files ---------------------------------------------------------------------------


def test_a_cell_at_xfd1048576_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    """A 5 KB workbook whose sheet spans A1:XFD1048576 is refused before it is parsed."""
    path = xfd_xlsx(tmp_path)
    assert path.stat().st_size < 10_000
    message = _refused(path)
    assert "could not be read: sheet 'Sheet' declares 17,179,869,184 cells" in message
    assert "(A1:XFD1048576)" in message


def test_a_sheet_that_lies_about_its_size_hits_the_memory_limit(tmp_path: Path) -> None:
    """A sheet declaring A1:C2 with a cell at XFD1048576 aborts the child, not batchprov."""
    message = _refused(lying_dimension_xlsx(tmp_path))
    assert "could not be read: reading it needs more than the 2,048 MB of memory" in message
    assert "BATCHPROV_READ_MEMORY_MB" in message


def test_a_shared_string_bomb_is_refused(tmp_path: Path) -> None:
    """One 100 MB shared string used by 2,000 cells, in a 140 KB file, is refused at once."""
    path = shared_string_bomb_xlsx(tmp_path)
    assert path.stat().st_size < 200_000
    message = _refused(path)
    assert "its part xl/sharedStrings.xml unpacks 1,009 times over" in message


def test_a_shared_string_bomb_past_the_checks_hits_the_memory_limit(tmp_path: Path) -> None:
    """Past the ratio check, the same bomb is stopped by the child's memory limit."""
    message = _refused(shared_string_bomb_xlsx(tmp_path), ReadLimits(max_ratio=10**5))
    assert "needs more than the 2,048 MB of memory" in message


def test_a_poorly_compressible_string_bomb_hits_the_memory_limit(tmp_path: Path) -> None:
    """A 2 MB string in 2,000 cells (4 GB as cells) passes every size check; memory stops it."""
    message = _refused(varied_string_bomb_xlsx(tmp_path), ReadLimits(memory_mb=512))
    assert "needs more than the 512 MB of memory" in message


def test_an_xml_bomb_is_refused_by_its_unpacked_size(tmp_path: Path) -> None:
    """1.5 MB holding 1.5 GB of sheet XML is refused without unpacking it."""
    path = xml_bomb_xlsx(tmp_path)
    assert path.stat().st_size < 2_000_000
    message = _refused(path)
    assert "could not be read: it unpacks to 1,536 MB, more than the 1,024 MB" in message


#: Size and memory checks lifted, so that the bomb runs into the limit under test.
_LIFTED = {"max_ratio": 10**6, "max_part_mb": 4096, "max_unpacked_mb": 4096, "memory_mb": 8192}


def test_an_xml_bomb_past_the_checks_hits_the_cpu_limit(tmp_path: Path) -> None:
    """With the size checks lifted, parsing the bomb is stopped by the CPU limit."""
    # The memory limit lifted too: on a fast machine the bomb fills 2 GB in under a second.
    lifted = ReadLimits(**_LIFTED, cpu_seconds=1)
    message = _refused(xml_bomb_xlsx(tmp_path), lifted)
    assert "needs more than 1 s of processor time (BATCHPROV_READ_CPU_SECONDS)" in message


def test_the_wall_clock_timeout_kills_a_slow_read(tmp_path: Path) -> None:
    """A read that outlasts the timeout is killed and named as such."""
    lifted = ReadLimits(**_LIFTED, timeout_seconds=1)
    message = _refused(xml_bomb_xlsx(tmp_path), lifted)
    assert "reading it took longer than 1 s (BATCHPROV_READ_TIMEOUT_SECONDS)" in message


def test_an_xls_with_one_byte_changed_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    """An .xls whose DIMENSIONS record claims 4 billion rows is refused before it is parsed."""
    message = _refused(damaged_xls(tmp_path))
    assert "could not be read: sheet 'Data' declares 12,834,570,246 cells" in message
    assert "(4,278,190,082 rows × 3 columns)" in message


def test_an_xls_with_one_byte_changed_past_the_checks_hits_the_memory_limit(
    tmp_path: Path,
) -> None:
    """With max_cells lifted, the same .xls is stopped by the child's memory limit."""
    message = _refused(damaged_xls(tmp_path), ReadLimits(max_cells=10**15))
    assert "could not be read: reading it needs more than the 2,048 MB of memory" in message


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    """A file larger than max_file_mb is refused from its size alone."""
    path = tmp_path / "big.csv"
    path.write_bytes(b"Name,Group,Forward To\n" + b"Acme,12,9056372046\n" * 60_000)
    message = _refused(path, ReadLimits(max_file_mb=1))
    assert message == "big.csv could not be read: it is 1 MB, more than the 1 MB batchprov reads."


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """BATCHPROV_READ_MEMORY_MB, _CPU_SECONDS and _TIMEOUT_SECONDS set the three limits."""
    monkeypatch.setenv("BATCHPROV_READ_MEMORY_MB", "300")
    monkeypatch.setenv("BATCHPROV_READ_CPU_SECONDS", "7")
    monkeypatch.setenv("BATCHPROV_READ_TIMEOUT_SECONDS", "9")
    limits = ReadLimits.from_env()
    assert (limits.memory_mb, limits.cpu_seconds, limits.timeout_seconds) == (300, 7, 9)
    assert limits.max_cells == ReadLimits().max_cells
    monkeypatch.setenv("BATCHPROV_READ_CPU_SECONDS", "lots")
    with pytest.raises(ConfigError, match="BATCHPROV_READ_CPU_SECONDS must be a positive"):
        ReadLimits.from_env()


def test_the_environment_memory_limit_applies_to_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read without explicit limits uses the environment's."""
    monkeypatch.setenv("BATCHPROV_READ_MEMORY_MB", "256")
    assert "more than the 256 MB of memory" in _refused(lying_dimension_xlsx(tmp_path))


# --- fuzzing -------------------------------------------------------------------------------------


def _samples(folder: Path) -> dict[str, bytes]:
    rows = [["Advertiser", "Group", "Forward To", "Local To"]]
    rows += [[f"Shop {n}", "11623282", "9056372046", "2896372046"] for n in range(5)]
    text = "\r\n".join(",".join(row) for row in rows).encode()
    hidden = hidden_rows_xls(folder / "h.xls").read_bytes()
    return {
        ".xlsx": plain_xlsx(folder / "s.xlsx", rows=5).read_bytes(),
        ".xls": plain_xls(folder / "s.xls").read_bytes(),
        # Hidden rows and a workbook in the mini stream: the ROW and mini-sector paths too.
        "-hidden.xls": hidden,
        "-mini.xls": Ole(hidden).to_mini_stream(2202).data,
        ".csv": text,
    }


def _damage(good: bytes, chance: random.Random) -> bytes:
    damaged = bytearray(good)
    for _ in range(chance.randint(1, 8)):
        damaged[chance.randrange(len(damaged))] = chance.randrange(256)
    if chance.random() < 0.3:
        damaged = damaged[: chance.randrange(1, len(damaged))]
    return bytes(damaged)


def _check_table(table: Table) -> None:
    assert table.frame.shape == (len(table.excel_rows), len(table.headers))
    assert all(isinstance(v, str) for v in table.frame.to_numpy().ravel())


def _fuzz(folder: Path, cases: int, seed: int) -> None:
    chance = random.Random(seed)
    limits = ReadLimits(memory_mb=512, cpu_seconds=10, timeout_seconds=20)
    for suffix, good in _samples(folder).items():
        for case in range(cases):
            path = folder / f"fuzz{case}{suffix}"
            path.write_bytes(_damage(good, chance))
            started = time.monotonic()
            try:
                _check_table(read_table(path, limits=limits))
            except InputError as error:
                message = str(error)
                assert message and "\n" not in message and "Traceback" not in message, message
            assert time.monotonic() - started < limits.timeout_seconds + 5


def test_damaged_files_read_or_fail_in_one_line(tmp_path: Path) -> None:
    """Random byte flips and truncations of xlsx, xls and csv: a Table or one clear line."""
    _fuzz(tmp_path, cases=20, seed=11)


def test_damaged_xls_structures_read_or_fail_in_one_line(tmp_path: Path) -> None:
    """Byte flips aimed at an .xls's header, sector table, directory and BIFF globals and
    sheet heads (where the structure checks read): a Table or one clear line, in bounds."""
    good = Ole(hidden_rows_xls(tmp_path / "h.xls").read_bytes())
    regions = [
        (0, 512),
        (good.sector_at(good.u32(76)), 512),  # the sector table
        (good.sector_at(good.u32(48)), 512),  # the directory
        (512, 1200),  # the workbook globals and the first sheet's head (sectors 0-2)
    ]
    chance = random.Random(13)
    limits = ReadLimits(memory_mb=512, cpu_seconds=10, timeout_seconds=20)
    for case in range(60):
        damaged = bytearray(good.data)
        start, size = regions[case % len(regions)]
        for _ in range(chance.randint(1, 4)):
            damaged[start + chance.randrange(size)] = chance.randrange(256)
        path = tmp_path / f"aimed{case}.xls"
        path.write_bytes(bytes(damaged))
        started = time.monotonic()
        try:
            _check_table(read_table(path, limits=limits))
        except InputError as error:
            message = str(error)
            assert message and "\n" not in message and "Traceback" not in message, message
        assert time.monotonic() - started < limits.timeout_seconds + 5


@pytest.mark.slow
def test_many_damaged_files_read_or_fail_in_one_line(tmp_path: Path) -> None:
    """The same, over 400 damaged copies of each kind (``make test-all``, or ``-m slow``)."""
    _fuzz(tmp_path, cases=400, seed=12)


# --- the command line ----------------------------------------------------------------------------

_HOSTILE: dict[str, Callable[[Path], Path]] = {
    "xfd": xfd_xlsx,
    "lying": lying_dimension_xlsx,
    "strings": shared_string_bomb_xlsx,
    "xml-bomb": xml_bomb_xlsx,
    "damaged-xls": damaged_xls,
}


@pytest.mark.parametrize("kind", list(_HOSTILE))
def test_validate_refuses_hostile_files_in_one_line(tmp_path: Path, kind: str) -> None:
    """`batchprov validate` on each hostile file: exit 2, one line, no traceback, no output."""
    path = _HOSTILE[kind](tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "batchprov", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert 2 == done.returncode, done.stderr
    assert 1 == len(lines), done.stderr
    assert lines[0].startswith(f"Error: {path.name} could not be read: ")
    assert "Traceback" not in done.stdout + done.stderr
    assert not list(tmp_path.glob("*.checked.xlsx"))


# --- hidden rows, formulas, encodings ------------------------------------------------------------


def _sheet_with_hidden_rows(path: Path, *, by_filter: bool) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Advertiser", "Group", "Forward To"])
    for number in range(1, 6):
        sheet.append([f"Shop {number}", 11623282, 9056372046])
    sheet.append([])
    for row in (3, 5, 7):  # two data rows and one empty row
        sheet.row_dimensions[row].hidden = True
    if by_filter:
        sheet.auto_filter.ref = "A1:C6"
        sheet.auto_filter.add_filter_column(0, ["Shop 1", "Shop 3", "Shop 5"])
    book.save(path)
    return path


@pytest.mark.parametrize("by_filter", [False, True], ids=["hidden", "filtered"])
def test_hidden_rows_are_left_out_and_listed(tmp_path: Path, by_filter: bool) -> None:
    """Rows hidden by hand or by an autofilter are left out; ``hidden_rows`` lists them."""
    path = _sheet_with_hidden_rows(tmp_path / "in.xlsx", by_filter=by_filter)
    table = read_table(path)
    assert table.excel_rows == (2, 4, 6)
    assert table.frame["Advertiser"].tolist() == ["Shop 1", "Shop 3", "Shop 5"]
    assert table.hidden_rows == (3, 5)


def test_include_hidden_keeps_hidden_rows(tmp_path: Path) -> None:
    """``include_hidden=True`` reads every row and lists none as left out."""
    table = read_table(
        _sheet_with_hidden_rows(tmp_path / "in.xlsx", by_filter=True), include_hidden=True
    )
    assert table.excel_rows == (2, 3, 4, 5, 6)
    assert table.hidden_rows == ()


def test_an_uncalculated_formula_is_named_when_checked(tmp_path: Path) -> None:
    """A formula openpyxl wrote (no cached value) is reported as uncalculated, not missing."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Advertiser", "Group", "Forward To", "Match Type"])
    sheet.append(["Shop 1", 11623282, "=9056372046", "tollfree"])
    sheet.append(["Shop 2", 11623282, 9056372046, "tollfree"])
    path = tmp_path / "formulas.xlsx"
    book.save(path)
    assert read_table(path).uncalculated == ((2, 3),)
    checked = check_file(path)
    assert [(2, "Forward To")] == [(i.row, i.column) for i in checked.issues]
    assert checked.issues[0].message.startswith(
        "the cell holds a formula that was never calculated; open the file in Excel"
    )
    assert checked.rows[0].order is None and checked.rows[1].order is not None


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ],
    ids=["le", "be", "le-bom", "be-bom"],
)
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_utf16_text_reads_like_utf8(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    """UTF-16 text, with or without a BOM, comma or tab separated, reads as UTF-8 would."""
    rows = [["Advertiser", "Group", "Forward To"], ["Café Montréal", "12", "9056372046"]]
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    (tmp_path / "u8.csv").write_text(text, encoding="utf-8")
    (tmp_path / "u16.csv").write_bytes(bom + text.encode(encoding))
    expected, table = read_table(tmp_path / "u8.csv"), read_table(tmp_path / "u16.csv")
    assert table.frame.equals(expected.frame)
    assert table.delimiter == delimiter
    assert table.encoding in {"utf-16", encoding}


def test_reader_server_survives_many_hostile_reads(tmp_path: Path) -> None:
    """After a run of refused files, good files still read (the server restarts if it must)."""
    good = plain_xlsx(tmp_path / "good.xlsx")
    for make in _HOSTILE.values():
        with pytest.raises(UnreadableFileError):
            read_table(make(tmp_path))
        assert len(read_table(good)) == 1


def test_a_reader_started_early_serves_the_first_read(tmp_path: Path) -> None:
    """start_reader boots the reader server at once; the first read then uses that server."""
    code = (
        "import sys\n"
        "from batchprov.read import isolate\n"
        "isolate.start_reader()\n"
        "early = isolate._SERVER.process.pid\n"
        "assert 'pandas' not in sys.modules\n"
        "from batchprov.read.files import read_table\n"
        "table = read_table(sys.argv[1])\n"
        "assert isolate._SERVER.process.pid == early and len(table) == 2, table\n"
        "print('ok')\n"
    )
    path = tmp_path / "in.csv"
    path.write_text("name,group_id\nA,1\nB,2\n")
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stderr
