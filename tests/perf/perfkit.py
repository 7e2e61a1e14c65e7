"""Helpers shared by the benchmarks: realistic inputs, a sandbox in its own process, timing.

Nothing here asserts; the benchmarks (``test_*.py`` beside this file) do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import openpyxl
import phonenumbers

from batchprov.check.phones import check_phone
from batchprov.numbering import nanp
from batchprov.read.isolate import reader_cpu_seconds
from batchprov.sandbox.config import DEFAULT_GROUPS

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

HEADERS = [
    "Advertiser Name",
    "Group ID",
    "Match Type",
    "Local To Number",
    "City",
    "State/Province",
    "Number Match Filter",
    "Forward To",
    "Record Calls",
    "Recording Message",
    "Whisper Message",
    "Account Rep",
    "Notes",
]

#: Real places the sandbox can serve (city, state); numbers are drawn from their exchanges.
PLACES = (("Toronto", "ON"), ("Atlanta", "GA"), ("Chicago", "IL"), ("Burlington", "ON"))
BUSINESSES = (
    "Maple Leaf Plumbing",
    "Peachtree Dental",
    "Lakeshore Auto Repair",
    "Brant Street Bakery",
    "Riverside Roofing",
    "Northside Pet Clinic",
    "Union Station Movers",
    "Golden Mile Realty",
)
REPS = ("Ann Lee", "Bo Chen", "Cara Diaz", "Dev Patel")


# --- numbers --------------------------------------------------------------------------------


#: Exchanges drawn per place: enough variety for caches to matter, cheap to vet.
_EXCHANGES_PER_PLACE = 150


@cache
def _exchanges(city: str, state: str) -> tuple[str, ...]:
    """Up to 150 exchanges of the place (seeded pick) whose numbers phonenumbers calls valid."""
    place = nanp.find_place(city, state)
    assert place is not None, (city, state)
    every = sorted(nanp.exchanges_of(place))
    picked = random.Random(f"{city},{state}").sample(every, min(len(every), _EXCHANGES_PER_PLACE))
    return tuple(e for e in sorted(picked) if e[3:] != "555" and _valid_exchange(e))


@cache
def _area_codes(city: str, state: str) -> tuple[str, ...]:
    place = nanp.find_place(city, state)
    assert place is not None, (city, state)
    served = {exchange[:3] for exchange in _exchanges(city, state)}
    return tuple(code for code in nanp.area_codes_of(place) if code in served)


def _is_good(number: str) -> bool:
    """A number batchprov accepts (its exchange was vetted with phonenumbers)."""
    return check_phone(number).ok and _valid_exchange(number[:6])


@cache
def _valid_exchange(exchange: str) -> bool:
    """phonenumbers' verdict on a few lines of the exchange (NANP validity is per NPA-NXX)."""
    return all(
        phonenumbers.is_valid_number(phonenumbers.parse(f"+1{exchange}{line}"))
        for line in ("0100", "4821", "9999")
    )


def real_number(rng: random.Random, city: str, state: str) -> str:
    """A valid 10-digit number from a real exchange of the city (never 555-01xx)."""
    exchanges = _exchanges(city, state)
    while True:
        number = rng.choice(exchanges) + f"{rng.randrange(10_000):04d}"
        if _is_good(number):
            return number


def spelled(rng: random.Random, number: str) -> object:
    """The number as people (and Excel) put it into a sheet."""
    a, b, c = number[:3], number[3:6], number[6:]
    return rng.choice(
        (
            number,
            f"({a}) {b}-{c}",
            f"{a}.{b}.{c}",
            f"+1 {a} {b} {c}",
            f"{a}-{b}-{c}",
            float(number),  # an Excel number cell: calamine reads 9056372046.0
        )
    )


# --- rows and files -------------------------------------------------------------------------


def advertiser_rows(
    count: int,
    *,
    seed: int = 1,
    groups: Sequence[int] = DEFAULT_GROUPS,
    invalid_share: float = 0.0,
) -> Iterator[list[object]]:
    """``count`` realistic rows (in HEADERS order): a third of each match type, unique names.

    ``invalid_share`` of the rows get a realistic mistake (a 9-digit forward-to number or a
    blank city), so the Errors sheet and cell comments are exercised too.
    """
    rng = random.Random(seed)
    for i in range(count):
        group = groups[i % len(groups)]
        city, state = PLACES[rng.randrange(len(PLACES))]
        name = f"{BUSINESSES[i % len(BUSINESSES)]} #{i + 1:06d}"  # unique in every group
        forward = spelled(rng, real_number(rng, city, state))
        kind = i % 3
        local: object = None
        place_city: object = None
        place_state: object = None
        filter_: object = None
        if kind == 0:
            match_type = rng.choice(("localtonumber", "Local to Number", ""))
            local = spelled(rng, real_number(rng, city, state))
            if rng.random() < 0.3:  # one of the place's area codes (overlays included)
                filter_ = rng.choice(_area_codes(city, state))
        elif kind == 1:
            match_type = rng.choice(("localtocity", "City", ""))
            place_city, place_state = city, rng.choice((state, nanp.STATES.get(state, state)))
            if rng.random() < 0.3:
                filter_ = rng.choice(_area_codes(city, state))
        else:
            match_type = rng.choice(("tollfree", "Toll-Free", "TF"))
            filter_ = "833" if rng.random() < 0.5 else None
        if invalid_share and rng.random() < invalid_share:
            if kind == 1:
                place_city = None
            else:
                forward = "".join(ch for ch in str(forward) if ch.isdigit())[:9]
        record = rng.choice(("yes", "no", None))
        yield [
            name,
            group,
            match_type or None,
            local,
            place_city,
            place_state,
            filter_,
            forward,
            record,
            "This call may be recorded." if record == "yes" else None,
            "Call from batchprov benchmark" if rng.random() < 0.2 else None,
            REPS[i % len(REPS)],
            f"onboarding batch {i // 500}",
        ]


def write_xlsx(path: Path, count: int, **kwargs: Any) -> Path:
    """An advertiser workbook (title row, blank row, header, data) written in write-only mode."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Advertisers")
    sheet.append(["Q3 onboarding — call tracking requests"])
    sheet.append([])
    sheet.append(HEADERS)
    for row in advertiser_rows(count, **kwargs):
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# --- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of this process and its reader children (best of several)."""

    wall: float
    cpu: float


def best_of(runs: int, fn: Callable[[], object]) -> Timing:
    """The fastest of ``runs`` timings of ``fn()``: wall clock and CPU time.

    The CPU time is what single-threaded work costs whatever else the machine is doing: this
    process's, plus its reader children's (input files are parsed there). The wall clock also
    counts waiting for a core that other processes hold.
    """
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return Timing(min(walls), min(cpus))


def _cpu() -> float:
    return time.process_time() + reader_cpu_seconds()


def compare(ours: Timing, theirs: Timing) -> str:
    """``CPU 1.23× (4.1 s vs 3.3 s); wall 1.31× (5.0 s vs 3.8 s)``."""
    return (
        f"CPU {ours.cpu / theirs.cpu:.2f}× ({ours.cpu:.2f} s vs {theirs.cpu:.2f} s); "
        f"wall {ours.wall / theirs.wall:.2f}× ({ours.wall:.2f} s vs {theirs.wall:.2f} s)"
    )


def run_python(
    code: str, *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line."""
    done = subprocess.run(
        [PYTHON, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- a sandbox in its own process -----------------------------------------------------------


@dataclass
class SandboxProcess:
    """A `batchprov.sandbox.cli` process on 127.0.0.1."""

    process: subprocess.Popen[str]
    url: str  # API base, e.g. http://127.0.0.1:40123/v3/api
    origin: str  # http://127.0.0.1:40123

    def stats(self) -> dict[str, int]:
        """Answers by "METHOD route status" (the sandbox's /_sandbox/stats)."""
        with urllib.request.urlopen(f"{self.origin}/_sandbox/stats", timeout=10) as answer:
            data: dict[str, int] = json.load(answer)
        return data

    def ledger_size(self) -> int:
        """Numbers created so far."""
        with urllib.request.urlopen(f"{self.origin}/_sandbox/ledger", timeout=30) as answer:
            return len(json.load(answer))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox_process(*options: str) -> Iterator[SandboxProcess]:
    """Serve the sandbox in its own process for the block; it is always killed afterwards."""
    port = free_port()
    command = [
        PYTHON,
        "-m",
        "batchprov.sandbox.cli",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *options,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "Sandbox API at http://127.0.0.1:PORT/v3/api ..."
        if "Sandbox API at " not in line:
            rest = process.stdout.read() if process.poll() is not None else ""
            raise RuntimeError(f"sandbox did not start: {line}{rest}")
        url = line.split("Sandbox API at ", 1)[1].split()[0]
        origin = url.split("/v3/api", 1)[0]
        yield SandboxProcess(process, url, origin)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM this process (only it), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()


def requests_by_status(stats: dict[str, int]) -> dict[str, int]:
    """Totals of API answers per status (every method), plus ``total``."""
    totals: dict[str, int] = {"total": 0}
    for key, count in stats.items():
        method, route, outcome = key.split(" ")
        if not route.startswith("/v3/api"):
            continue
        totals[outcome] = totals.get(outcome, 0) + count
        totals["total"] += count
    return totals


def cores() -> int:
    return os.cpu_count() or 1


# --- the figures table ----------------------------------------------------------------------

RESULTS = Path(__file__).with_name("results.md")
_TITLE = "# batchprov benchmarks"
_INTRO = (
    "Written by `make bench` (tests/perf). Each figure compares two things measured in the\n"
    "same run on the same machine; rows are replaced by the latest run that measured them.\n"
)
_COLUMNS = ("Figure", "Value", "Target", "Result", "Date", "Cores")


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str
    passed: bool | None  # None: informative only
    date: str
    cores: int

    def cells(self) -> tuple[str, ...]:
        result = "info" if self.passed is None else ("pass" if self.passed else "FAIL")
        return (self.name, self.value, self.target, result, self.date, str(self.cores))


class Figures:
    """Collects one line per figure; printed at once, written to results.md at the end."""

    def __init__(self) -> None:
        self.measured: list[Figure] = []

    def record(self, name: str, value: str, target: str, passed: bool | None) -> bool | None:
        figure = Figure(name, value, target, passed, dt.date.today().isoformat(), cores())
        self.measured.append(figure)
        print(f"\n[bench] {name}: {value} (target {target}) -> {figure.cells()[3]}", flush=True)
        return passed

    def write(self, path: Path = RESULTS) -> None:
        rows = {f.name: f.cells() for f in _read_rows(path)}
        for figure in self.measured:
            rows[figure.name] = figure.cells()
        lines = [
            _TITLE,
            "",
            _INTRO,
            "| " + " | ".join(_COLUMNS) + " |",
            "|" + "|".join("---" for _ in _COLUMNS) + "|",
        ]
        lines += ["| " + " | ".join(_escape(c) for c in cells) + " |" for cells in rows.values()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _read_rows(path: Path) -> list[Figure]:
    """Figures already in results.md (kept unless this run measures them again)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("| Figure"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != len(_COLUMNS):
            continue
        name, value, target, result, date, cores = cells
        passed = None if result == "info" else result == "pass"
        found.append(Figure(name, value, target, passed, date, int(cores or 0)))
    return found
