"""Fixtures of the benchmarks (`make bench`): inputs generated once per session, and the
figures table written to ``tests/perf/results.md`` when the session ends."""

from __future__ import annotations

import compileall
from collections.abc import Callable, Iterator
from pathlib import Path

import perfkit
import pytest
from perfkit import RESULTS, Figures


@pytest.fixture(scope="session", autouse=True)
def _compiled() -> None:
    """batchprov's bytecode is on disk, as an installed package's is.

    With PYTHONDONTWRITEBYTECODE set, every process the benchmarks start would otherwise
    compile the whole package from source, which pip does once at install.
    """
    assert compileall.compile_dir(perfkit.ROOT / "batchprov", quiet=1)


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    if collected.measured:
        collected.write()
        print(f"\n[bench] figures written to {RESULTS}", flush=True)


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="session")
def advertisers(bench_dir: Path) -> Callable[..., Path]:
    """``advertisers(count, invalid_share=0.0)``: an advertiser workbook, made once a session."""
    made: dict[tuple[int, float], Path] = {}

    def make(count: int, invalid_share: float = 0.0) -> Path:
        key = (count, invalid_share)
        if key not in made:
            path = bench_dir / f"advertisers-{count}-{int(invalid_share * 1000)}.xlsx"
            made[key] = perfkit.write_xlsx(path, count, invalid_share=invalid_share)
        return made[key]

    return make
