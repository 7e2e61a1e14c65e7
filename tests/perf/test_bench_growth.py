"""Target 4: a dry run grows linearly with the sheet, and 100,000 rows fit in 600 MiB.

Each size runs ``run_file(..., dry_run=True)`` (read, map, check, plan, write the annotated
workbook with its Request Body column) in a fresh interpreter, so its peak RSS is its own.
One-off costs (lazy imports, numbering-plan indexes) are paid by a small warm-up file first,
so the time per row compares how the work scales, not start-up.

The dry run is single-threaded and CPU-bound; growth is judged on the child's CPU time, which
other work on a shared machine does not inflate. Wall-clock growth is recorded beside it.
The 10k run is taken before and after the 100k one and their mean is the reference: the
machine's speed drifts over the half minute the large run takes (one 10k run alone, taken at
a fast moment, once made linear growth read 1.30×).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import perfkit
import pytest
from perfkit import Figures

#: Sizes in the order run; the reference size comes on both sides of the largest.
SIZES = (1_000, 10_000, 100_000, 10_000)
MAX_RSS_BYTES = 600 * 1024**2

_DRY_RUN = """
import json, resource, sys, time
from batchprov.config import RunConfig
from batchprov.pipeline import run_file

warm, path, out = sys.argv[1:4]
run_file(warm, output=out + ".warm.xlsx", config=RunConfig(dry_run=True))
start, cpu = time.perf_counter(), time.process_time()
report = run_file(path, output=out, config=RunConfig(dry_run=True))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
statuses = {}
for result in report.results:
    statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": len(report.results), "peak_kib": peak_kib,
                  "statuses": statuses}))
"""


@pytest.mark.perf
def test_dry_run_time_per_row_is_linear_and_memory_bounded(
    advertisers: Callable[..., Path], bench_dir: Path, figures: Figures
) -> None:
    warm = perfkit.write_xlsx(bench_dir / "warm-up.xlsx", 200, seed=99)
    measured: dict[int, dict[str, float]] = {}
    reference: list[dict[str, float]] = []  # each 10k run
    for size in SIZES:
        path = advertisers(size, 0.01)
        out = bench_dir / f"dry-run-{size}.results.xlsx"
        got = perfkit.run_python(_DRY_RUN, str(warm), str(path), str(out))
        assert got["rows"] == size
        assert got["statuses"].get("planned", 0) >= 0.97 * size
        measured[size] = got
        if size == 10_000:
            reference.append(got)
        per_row = got["seconds"] / size * 1e6
        print(
            f"\ndry run {size:>7,} rows: {got['seconds']:.2f} s, {per_row:.0f} µs/row "
            f"(CPU {got['cpu']:.2f} s, {got['cpu'] / size * 1e6:.0f} µs/row), "
            f"peak RSS {got['peak_kib'] / 1024:.0f} MiB"
        )
    wall = {size: m["seconds"] / size for size, m in measured.items()}
    cpu = {size: m["cpu"] / size for size, m in measured.items()}
    before, after = (m["cpu"] / 10_000 * 1e6 for m in (reference[0], reference[-1]))
    cpu[10_000] = sum(m["cpu"] for m in reference) / len(reference) / 10_000
    wall[10_000] = sum(m["seconds"] for m in reference) / len(reference) / 10_000
    growth, wall_growth = cpu[100_000] / cpu[10_000], wall[100_000] / wall[10_000]
    peak = measured[100_000]["peak_kib"] * 1024
    figures.record(
        "dry run time per row, 1k rows",
        f"CPU {cpu[1_000] * 1e6:.0f} µs/row; wall {wall[1_000] * 1e6:.0f} µs/row",
        "(reference)",
        None,
    )
    linear = figures.record(
        "dry run time per row, 100k vs 10k rows",
        f"CPU {growth:.2f}× ({cpu[100_000] * 1e6:.0f} vs {cpu[10_000] * 1e6:.0f} µs/row, "
        f"10k before and after: {before:.0f} and {after:.0f}); "
        f"wall {wall_growth:.2f}× ({wall[100_000] * 1e6:.0f} vs {wall[10_000] * 1e6:.0f} µs/row, "
        f"{measured[100_000]['seconds']:.1f} s vs {wall[10_000] * 10_000:.1f} s)",
        "≤ 1.2× (CPU)",
        growth <= 1.2,
    )
    small = figures.record(
        "dry run peak RSS, 100k rows",
        f"{peak / 1024**2:.0f} MiB",
        "≤ 600 MiB",
        peak <= MAX_RSS_BYTES,
    )
    assert linear
    assert small
