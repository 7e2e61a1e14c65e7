"""The numbering-plan table cached on disk per phonenumbers version."""

from __future__ import annotations

import threading
from pathlib import Path

import phonenumbers
import pytest

from batchprov.numbering import nanp, plancache
from batchprov.numbering.plancache import Table

SMALL = Table(
    places=["GA\tatlanta\tAtlanta", "ON\tburlington\tBurlington"],
    exchanges="404209404210\n905637",
    npas={"404": ("209210", "0,0"), "905": ("637", "1")},
    regions={"404": "GA", "905": "ON"},
)


@pytest.fixture(scope="module")
def built() -> Table:
    """The table computed from phonenumbers' geodata in this process (no cache involved)."""
    return nanp.build_table()


def test_version_is_read_without_importing_phonenumbers() -> None:
    """The version used as the cache key is the installed phonenumbers' own."""
    assert phonenumbers.__version__ == plancache.phonenumbers_version()


def test_cache_file_is_keyed_by_version_and_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATCHPROV_CACHE_DIR holds one file per phonenumbers version and table format."""
    monkeypatch.setenv("BATCHPROV_CACHE_DIR", str(tmp_path))
    path = plancache.cache_path("9.0.43")
    assert tmp_path / f"nanp-9.0.43-v{plancache.FORMAT}.table" == path
    assert plancache.cache_path("8.13.0") != path
    assert tmp_path == plancache.cache_path("../../etc/x").parent  # no path tricks in a version


def test_cached_table_matches_the_geodata(built: Table, tmp_path: Path) -> None:
    """A table written to the cache and read back is the one phonenumbers' data gives."""
    path = tmp_path / "nanp.table"
    assert plancache.write(path, built, version="v")
    assert built == plancache.read(path, version="v")


def test_the_table_in_use_matches_the_geodata(built: Table) -> None:
    """What this process looks numbers up in (cached or not) equals a fresh build."""
    assert built == nanp._table()


def test_lookups_of_the_table(built: Table) -> None:
    """Every place is found by name, each exchange maps back to it, regions are kept."""
    for position, entry in enumerate(built.places[:500]):
        state, _, city = entry.split("\t")
        place = nanp.find_place(city, state)
        assert nanp.Place(city, state) == place
        codes = built.exchanges.split("\n")[position]
        assert [codes[i : i + 6] for i in range(0, len(codes), 6)] == list(nanp.exchanges_of(place))
        for exchange in nanp.exchanges_of(place):
            assert place == nanp.place_of(exchange + "0000")
    assert "ON" == nanp.region_of_npa("905")


def test_missing_cache_is_built_and_saved(tmp_path: Path) -> None:
    """No cache file: the table is built once, saved, and read back next time."""
    path = tmp_path / "sub" / "nanp.table"
    calls: list[int] = []

    def build() -> Table:
        calls.append(1)
        return SMALL

    assert SMALL == plancache.load(build, path=path)
    assert SMALL == plancache.load(build, path=path)
    assert [1] == calls
    assert [path.name] == [p.name for p in path.parent.iterdir()]  # no temporary left over


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw.replace(b"404209", b"404208", 1),  # a flipped digit
        lambda raw: b"",  # empty
        lambda raw: b"\x00\xff garbage",
        lambda raw: raw.split(b"\n", 1)[1],  # no header
    ],
    ids=["truncated", "flipped", "empty", "garbage", "headerless"],
)
def test_corrupt_cache_is_rebuilt(tmp_path: Path, damage: object) -> None:
    """A damaged cache file is ignored, rebuilt and replaced by a good one."""
    path = tmp_path / "nanp.table"
    plancache.write(path, SMALL, version="v")
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    assert plancache.read(path, version="v") is None
    assert SMALL == plancache.load(lambda: SMALL, path=path)
    assert SMALL == plancache.read(path, version=plancache.phonenumbers_version())


def _write_signed(path: Path, sections: list[bytes], *, version: str = "v") -> None:
    """A cache file with a valid header and checksum around ``sections``, as they are."""
    payload = b"".join(sections)
    head = [b"batchprov-nanp", str(plancache.FORMAT).encode(), version.encode()]
    head += [plancache._digest(payload).encode(), *(str(len(s)).encode() for s in sections)]
    path.write_bytes(b" ".join(head) + b"\n" + payload)


GOOD = [b"GA\tatlanta\tAtlanta\nON\tburlington\tBurlington", b"404209\n905637", b"", b""]


def test_signed_sections_read_back() -> None:
    """A table cut into its file sections reads back as the same table."""
    assert SMALL == Table.from_sections(list(SMALL.sections()))


@pytest.mark.parametrize(
    "index, section",
    [
        (0, b"ON\tburlington\tBurlington\nGA\tatlanta\tAtlanta"),  # not sorted
        (0, b"GA atlanta\tAtlanta\nON\tburlington\tBurlington"),  # no state code and tab
        (0, b"ga\tatlanta\tAtlanta\nON\tburlington\tBurlington"),  # not a state code
        (0, b"GA\tatlanta\t\nON\tburlington\tBurlington"),  # no city
        (0, b"GA\tatlanta\tAtlanta\nON\tburlington\tBurl\tington"),  # a third tab
        (1, b"404209"),  # exchanges for one place of two
        (2, b"404\t209"),  # an area code line without positions
        (3, b"404GA"),  # a region line without its tab
        (0, b"\xff\xfe"),  # not UTF-8
    ],
)
def test_well_signed_but_malformed_payload_is_refused(
    tmp_path: Path, index: int, section: bytes
) -> None:
    """A payload whose checksum matches but whose layout is wrong is not used."""
    path = tmp_path / "nanp.table"
    _write_signed(path, GOOD)
    assert plancache.read(path, version="v") is not None
    _write_signed(path, [section if i == index else s for i, s in enumerate(GOOD)])
    assert plancache.read(path, version="v") is None


def test_header_sizes_must_cover_the_payload(tmp_path: Path) -> None:
    """Section sizes that do not add up to the payload are refused, not sliced."""
    path = tmp_path / "nanp.table"
    plancache.write(path, SMALL, version="v")
    head, _, payload = path.read_bytes().partition(b"\n")
    fields = head.split(b" ")
    fields[4] = str(int(fields[4]) + 1).encode()
    path.write_bytes(b" ".join(fields) + b"\n" + payload)
    assert plancache.read(path, version="v") is None


def test_entries_are_checked_where_they_are_read() -> None:
    """What the lookups parse (codes, positions) is checked before they slice or int() it."""
    assert plancache.is_codes("209210", 3) and plancache.is_codes("", 6)
    assert not plancache.is_codes("20921", 3) and not plancache.is_codes("2O9", 3)
    assert not plancache.is_codes("２０９", 3)  # full-width digits: isdigit, not ASCII
    assert plancache.is_positions("0,12", 2) and plancache.is_positions("7", 1)
    for bad, count in [("0,12", 3), ("0,,1", 3), (",1", 2), ("1,", 2), ("", 1), ("a", 1)]:
        assert not plancache.is_positions(bad, count), bad


def test_other_version_or_format_is_ignored(tmp_path: Path) -> None:
    """A file written for another phonenumbers version is not trusted for this one."""
    path = tmp_path / "nanp.table"
    plancache.write(path, SMALL, version="8.13.0")
    assert plancache.read(path, version="9.0.43") is None
    assert SMALL == plancache.read(path, version="8.13.0")


def test_unwritable_cache_only_costs_the_rebuild(tmp_path: Path) -> None:
    """A cache that cannot be written still gives the table."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = blocker / "nanp.table"
    assert not plancache.write(path, SMALL, version="v")
    assert SMALL == plancache.load(lambda: SMALL, path=path)


def test_concurrent_writers_never_expose_half_a_file(tmp_path: Path) -> None:
    """Processes writing the cache at once leave it whole; a reader sees all or nothing."""
    path = tmp_path / "nanp.table"
    other = Table(SMALL.places, SMALL.exchanges, SMALL.npas, {"404": "GA"})
    seen: list[Table | None] = []
    done = threading.Event()

    def write(table: Table) -> None:
        for _ in range(200):
            plancache.write(path, table, version="v")

    def read() -> None:
        while not done.is_set():
            seen.append(plancache.read(path, version="v"))

    writers = [threading.Thread(target=write, args=(t,)) for t in (SMALL, other)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert all(table in (None, SMALL, other) for table in seen)
    assert plancache.read(path, version="v") in (SMALL, other)
    assert [path.name] == [p.name for p in tmp_path.iterdir()]
