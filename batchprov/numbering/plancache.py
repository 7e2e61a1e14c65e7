"""The numbering-plan table, cached on disk once per `phonenumbers` version.

Building the table from the geodata takes over a second; reading it back takes about a
millisecond, because the file is laid out for the reader: one text line per place, per place's
exchanges, per area code and per region, in four sections read with ``str.split`` (no JSON
decoding of ten thousand small strings) and checked with whole-section string methods.

The cache lives in the user's cache directory (``BATCHPROV_CACHE_DIR`` overrides it), one file
per `phonenumbers` version and table format. A file is a header line (format, version, the
CRC-32 of the payload and each section's length) followed by the payload; it is written to a
temporary file and renamed into place, so readers never see half a file and concurrent writers
do not clash. A missing, unreadable, corrupt or foreign file is simply rebuilt; a cache that
cannot be written (read-only home, full disk) only costs the rebuild.

Nothing here imports `dataclasses`, `typing`, `json` or `phonenumbers`: a process that only looks a
number up pays for none of them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import zlib
from bisect import bisect_left
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "FORMAT",
    "Table",
    "cache_path",
    "is_codes",
    "is_positions",
    "load",
    "phonenumbers_version",
]

#: Bumped whenever the table's content, its derivation or the file's layout changes.
FORMAT = 3
_MAGIC = b"batchprov-nanp"
_VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_SAFE = re.compile(r"[^0-9A-Za-z.+-]")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Table(tuple[Sequence[str], str, dict[str, tuple[str, str]], dict[str, str]]):
    """The numbering plan laid out for lookups that need no index building.

    Everything is a flat string or a list of strings, the cheapest things to read back; the
    lookups built on it (`batchprov.numbering.nanp`) are made per state or area code asked.
    An immutable 4-tuple written out by hand (a dataclass or typed NamedTuple costs more to
    create than reading the table).

    Attributes:
        places: ``"ST\tnormalized city\tCity"`` for each merged place, sorted, so that a
            state's places are contiguous and their order is that of (state, normalized city).
        exchanges: one line per place: its sorted 6-digit NPA-NXX codes, concatenated (text
            that only `nanp.exchanges_of` splits, when first asked).
        npas: area code → (its exchanges' NXX codes concatenated, sorted; the position in
            ``places`` of each one's place, comma-separated).
        regions: area code → the state or province code it serves.
    """

    __slots__ = ()

    def __new__(
        cls,
        places: Sequence[str],
        exchanges: str,
        npas: dict[str, tuple[str, str]],
        regions: dict[str, str],
    ) -> Table:
        return tuple.__new__(cls, (places, exchanges, npas, regions))

    @property
    def places(self) -> Sequence[str]:
        return self[0]

    @property
    def exchanges(self) -> str:
        return self[1]

    @property
    def npas(self) -> dict[str, tuple[str, str]]:
        return self[2]

    @property
    def regions(self) -> dict[str, str]:
        return self[3]

    def sections(self) -> tuple[bytes, bytes, bytes, bytes]:
        """The four sections of the cache file: places, exchanges, area codes, regions."""
        npas = "\n".join(f"{npa}\t{codes}\t{where}" for npa, (codes, where) in self.npas.items())
        regions = "\n".join(f"{npa}\t{state}" for npa, state in self.regions.items())
        texts = ("\n".join(self.places), self.exchanges, npas, regions)
        places, exchanges, npas_, regions_ = (text.encode("utf-8") for text in texts)
        return places, exchanges, npas_, regions_

    @classmethod
    def from_sections(cls, sections: Sequence[bytes]) -> Table:
        """The table of a file's four sections; ValueError when they are not laid out as one.

        Only what every lookup relies on is checked here, with whole-section string methods
        rather than per-item Python: this runs in every process that looks a number up. What
        is left (the digits of one area code's entry, of one place's exchanges) is checked by
        the lookup that reads it, so that no lookup fails on a table this lets through.
        """
        places_raw, exchanges_raw, npas_raw, regions_raw = sections
        places = _lines(places_raw.decode())
        lines = exchanges_raw.count(b"\n") + 1 if exchanges_raw else 0
        if not (_are_places(places, places_raw) and lines == len(places)):
            raise ValueError("not a numbering-plan table")
        npas = {}
        for line in _lines(npas_raw.decode()):
            npa, codes, positions = line.split("\t")  # ValueError unless three fields
            npas[npa] = (codes, positions)
        regions = {}
        for line in _lines(regions_raw.decode()):
            npa, state = line.split("\t")
            regions[npa] = state
        return cls(places, exchanges_raw.decode(), npas, regions)


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


def _are_places(places: list[str], raw: bytes) -> bool:
    """Each place starts with its state code and a tab, has one more tab and a city, and they
    are sorted: the lookups find a state's places by bisecting them. (``raw`` is the section's
    UTF-8, faster to search than the text.)"""
    return (
        raw.count(b"\t") == 2 * len(places)
        and b"\t\n" not in raw
        and not raw.endswith(b"\t")
        and places == sorted(places)
        and _states_well_formed(places)
    )


def _states_well_formed(places: list[str]) -> bool:
    """True when every place starts with ``"ST\t"``, checked once per state: in sorted
    places, all that lie between ``"ST\t"`` and ``"ST\v"`` start with it (no place holds a
    newline, the only character between the two)."""
    start = 0
    while start < len(places):
        head = places[start][:3]
        if not (len(head) == 3 and head[2] == "\t" and _UPPER.issuperset(head[:2])):
            return False
        start = bisect_left(places, head[:2] + "\v", start)
    return True


def is_codes(text: str, width: int) -> bool:
    """True for ASCII digits in groups of ``width`` (what the lookups slice and parse)."""
    return len(text) % width == 0 and text.isascii() and (text.isdigit() or not text)


def is_positions(text: str, codes: int) -> bool:
    """True for ``codes`` comma-separated ASCII numbers."""
    return (
        text.count(",") == codes - 1
        and text.isascii()
        and text.replace(",", "").isdigit()
        and ",," not in text
        and text[0] != ","
        and text[-1] != ","
    )


def phonenumbers_version() -> str:
    """The installed `phonenumbers` version, read without importing the package (40 ms)."""
    spec = importlib.util.find_spec("phonenumbers")
    if spec is not None and spec.origin:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found = _VERSION_LINE.search(Path(spec.origin).read_text(encoding="utf-8"))
            if found:
                return found[1]
    import phonenumbers

    return str(phonenumbers.__version__)


def cache_path(version: str) -> Path:
    """Where the table for a `phonenumbers` version is cached."""
    env = os.environ.get("BATCHPROV_CACHE_DIR")
    if env:
        folder = Path(env)
    else:
        from platformdirs import user_cache_path

        folder = user_cache_path("batchprov")
    return folder / f"nanp-{_SAFE.sub('_', version)}-v{FORMAT}.table"


def load(build: Callable[[], Table], *, path: Path | None = None) -> Table:
    """The cached table, or ``build()`` saved to the cache when there is no usable one."""
    version = phonenumbers_version()
    path = path or cache_path(version)
    table = read(path, version=version)
    if table is None:
        table = build()
        write(path, table, version=version)
    return table


def read(path: Path, *, version: str) -> Table | None:
    """The table cached at ``path`` for ``version``; None if missing, corrupt or foreign."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head, newline, payload = raw.partition(b"\n")
    fields = head.split(b" ")
    try:
        if (
            not newline
            or len(fields) != 8
            or fields[:3] != [_MAGIC, str(FORMAT).encode(), version.encode()]
            or fields[3] != _digest(payload).encode()
        ):
            return None
        sizes = [int(field) for field in fields[4:]]
        if sum(sizes) != len(payload) or min(sizes) < 0:
            return None
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return Table.from_sections([payload[a : a + n] for a, n in zip(starts, sizes, strict=True)])
    except ValueError:  # a bad number, bad UTF-8 or a malformed section
        return None


def write(path: Path, table: Table, *, version: str) -> bool:
    """Save the table atomically (temporary file, then rename); False if it cannot be."""
    sections = table.sections()
    payload = b"".join(sections)
    header = [_MAGIC, str(FORMAT).encode(), version.encode(), _digest(payload).encode()]
    header += [str(len(section)).encode() for section in sections]
    data = b" ".join(header) + b"\n" + payload
    import tempfile  # (only a process that builds the table pays for importing it)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


def _digest(payload: bytes) -> str:
    """A checksum that catches a damaged file (CRC-32: no hashlib import on start-up)."""
    return f"{zlib.crc32(payload):08x}"
