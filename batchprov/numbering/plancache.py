"""The numbering-plan table, cached on disk once per `phonenumbers` version.

Building the table from the geodata takes over a second; reading it back takes milliseconds.
The cache lives in the user's cache directory (``BATCHPROV_CACHE_DIR`` overrides it), one file
per `phonenumbers` version and table format. A file is a header line (format, version and the
CRC-32 of the payload) followed by the JSON payload; it is written to a temporary file and
renamed into place, so readers never see half a file and concurrent writers do not clash. A
missing, unreadable, corrupt or foreign file is simply rebuilt; a cache that cannot be written
(read-only home, full disk) only costs the rebuild.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

__all__ = ["FORMAT", "Table", "cache_path", "load", "phonenumbers_version"]

#: Bumped whenever the table's content or its derivation changes.
FORMAT = 2
_VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_SAFE = re.compile(r"[^0-9A-Za-z.+-]")


@dataclass(frozen=True, slots=True)
class Table:
    """The numbering plan laid out for lookups that need no index building.

    Everything is a flat string or a list of strings, the cheapest things to decode; the
    lookups built on it (`batchprov.numbering.nanp`) are made per state or area code asked.

    Attributes:
        places: ``"ST\tnormalized city\tCity"`` for each merged place, sorted, so that a
            state's places are contiguous and their order is that of (state, normalized city).
        exchanges: each place's sorted 6-digit NPA-NXX codes, concatenated.
        npas: area code → (its exchanges' NXX codes concatenated, sorted; the position in
            ``places`` of each one's place, comma-separated).
        regions: area code → the state or province code it serves.
    """

    places: Sequence[str]
    exchanges: Sequence[str]
    npas: dict[str, tuple[str, str]]
    regions: dict[str, str]

    def to_json(self) -> bytes:
        data = {
            "places": self.places,
            "exchanges": self.exchanges,
            "npas": self.npas,
            "regions": self.regions,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, payload: bytes) -> Table:
        """The table of a payload; ValueError when it is not a well-formed table."""
        data = json.loads(payload)
        places, exchanges, npas, regions = (
            data["places"],
            data["exchanges"],
            data["npas"],
            data["regions"],
        )
        # Whole-list checks (types and lengths as sets, C-speed regexes): this runs in every
        # process that looks a number up.
        if not (
            _only(str, places)
            and all(map(_PLACE.fullmatch, places))
            and places == sorted(places)
            and _only(str, exchanges)
            and len(exchanges) == len(places)
            and all(map(_EXCHANGES.fullmatch, exchanges))
            and isinstance(npas, dict)
            and _only(list, npas.values())
            and all(_npa_entry(entry) for entry in npas.values())
            and isinstance(regions, dict)
            and _only(str, chain(npas, regions, regions.values()))
        ):
            raise ValueError("not a numbering-plan table")
        return cls(
            places=places,
            exchanges=exchanges,
            npas={npa: (codes, positions) for npa, (codes, positions) in npas.items()},
            regions=regions,
        )


_PLACE = re.compile(r"[A-Z]{2}\t[^\t]*\t[^\t]+")
_EXCHANGES = re.compile(r"(?:\d{6})*")
_NXX = re.compile(r"(?:\d{3})+")
_POSITIONS = re.compile(r"\d+(?:,\d+)*")


def _npa_entry(entry: list[object]) -> bool:
    """True for ``[NXX codes concatenated, place positions comma-separated]``, one per code."""
    if len(entry) != 2:
        return False
    codes, positions = entry
    return (
        isinstance(codes, str)
        and isinstance(positions, str)
        and _NXX.fullmatch(codes) is not None
        and _POSITIONS.fullmatch(positions) is not None
        and len(codes) == 3 * (positions.count(",") + 1)
    )


def _only(kind: type, values: Iterable[object]) -> bool:
    """True when every value is exactly of ``kind`` (no bool posing as an int)."""
    return set(map(type, values)) <= {kind}


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
    return folder / f"nanp-{_SAFE.sub('_', version)}-v{FORMAT}.json"


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
    try:
        header = json.loads(head)
        if (
            not newline
            or not isinstance(header, dict)
            or header.get("format") != FORMAT
            or header.get("phonenumbers") != version
            or header.get("crc32") != _digest(payload)
        ):
            return None
        return Table.from_json(payload)
    except (ValueError, TypeError, KeyError):  # JSON errors are ValueErrors
        return None


def write(path: Path, table: Table, *, version: str) -> bool:
    """Save the table atomically (temporary file, then rename); False if it cannot be."""
    payload = table.to_json()
    header = {"format": FORMAT, "phonenumbers": version, "crc32": _digest(payload)}
    data = json.dumps(header).encode("utf-8") + b"\n" + payload
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
