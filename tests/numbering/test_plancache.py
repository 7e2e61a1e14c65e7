"""The numbering-plan table cached on disk per phonenumbers version."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import phonenumbers
import pytest

from batchprov.numbering import nanp, plancache
from batchprov.numbering.plancache import Table

SMALL = Table(
    places=["GA\tatlanta\tAtlanta", "ON\tburlington\tBurlington"],
    exchanges=["404209404210", "905637"],
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
    assert tmp_path / f"nanp-9.0.43-v{plancache.FORMAT}.json" == path
    assert plancache.cache_path("8.13.0") != path
    assert tmp_path == plancache.cache_path("../../etc/x").parent  # no path tricks in a version


def test_cached_table_matches_the_geodata(built: Table, tmp_path: Path) -> None:
    """A table written to the cache and read back is the one phonenumbers' data gives."""
    path = tmp_path / "nanp.json"
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
        codes = built.exchanges[position]
        assert [codes[i : i + 6] for i in range(0, len(codes), 6)] == list(nanp.exchanges_of(place))
        for exchange in nanp.exchanges_of(place):
            assert place == nanp.place_of(exchange + "0000")
    assert "ON" == nanp.region_of_npa("905")


def test_missing_cache_is_built_and_saved(tmp_path: Path) -> None:
    """No cache file: the table is built once, saved, and read back next time."""
    path = tmp_path / "sub" / "nanp.json"
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
    path = tmp_path / "nanp.json"
    plancache.write(path, SMALL, version="v")
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    assert plancache.read(path, version="v") is None
    assert SMALL == plancache.load(lambda: SMALL, path=path)
    assert SMALL == plancache.read(path, version=plancache.phonenumbers_version())


def test_well_signed_but_malformed_payload_is_refused(tmp_path: Path) -> None:
    """A payload whose checksum matches but whose shape is wrong is not used."""
    path = tmp_path / "nanp.json"
    bad = {"places": ["GA\tatlanta\tAtlanta"], "exchanges": ["40420"], "npas": {}, "regions": {}}
    payload = json.dumps(bad).encode()
    header = {"format": plancache.FORMAT, "phonenumbers": "v", "crc32": plancache._digest(payload)}
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    assert plancache.read(path, version="v") is None


def test_other_version_or_format_is_ignored(tmp_path: Path) -> None:
    """A file written for another phonenumbers version is not trusted for this one."""
    path = tmp_path / "nanp.json"
    plancache.write(path, SMALL, version="8.13.0")
    assert plancache.read(path, version="9.0.43") is None
    assert SMALL == plancache.read(path, version="8.13.0")


def test_unwritable_cache_only_costs_the_rebuild(tmp_path: Path) -> None:
    """A cache that cannot be written still gives the table."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = blocker / "nanp.json"
    assert not plancache.write(path, SMALL, version="v")
    assert SMALL == plancache.load(lambda: SMALL, path=path)


def test_concurrent_writers_never_expose_half_a_file(tmp_path: Path) -> None:
    """Processes writing the cache at once leave it whole; a reader sees all or nothing."""
    path = tmp_path / "nanp.json"
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
