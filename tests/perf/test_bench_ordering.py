"""Targets 1 and 2: ordering at the API's ceiling, and finding an unknown ceiling.

The sandbox runs in its own process on 127.0.0.1 with 100 ms ± 20 ms of latency and a
sliding-window rate limit; batchprov orders over real loopback, journal included.

1. ``--rate 50 --concurrency 16`` against a 50/s limit: 1,000 rows in ≤ 1.10 × 20 s, no 429.
2. ``--rate auto`` against the same limit (not told to the client): ≥ 92% of the ceiling
   (≤ 21.7 s), ≤ 2% 429s; and against a 5/s limit (100 rows): ≤ 5% 429s, no failed row.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import perfkit
import pytest
from perfkit import Figures

from batchprov.models import CheckedRow
from batchprov.order.runner import RunOptions, order_rows
from batchprov.pipeline import check_file

LATENCY = ("--latency-ms", "100", "--jitter-ms", "20", "--seed", "1")


@dataclass(frozen=True)
class Ordered:
    seconds: float
    statuses: Counter[str]
    answers: dict[str, int]  # by HTTP status (every API request), plus "total"
    bought: int  # numbers the sandbox created

    @property
    def throttled_share(self) -> float:
        return self.answers.get("429", 0) / max(self.answers["total"], 1)


def valid_rows(path: Path) -> list[CheckedRow]:
    rows = [r for r in check_file(path).rows if r.order is not None]
    assert len(rows) == len(check_file(path).rows), "benchmark inputs must be all valid"
    return rows


def order_against(
    sandbox: perfkit.SandboxProcess, rows: list[CheckedRow], journal: Path, options: RunOptions
) -> Ordered:
    start = time.perf_counter()
    outcome = order_rows(
        rows, api_url=sandbox.url, token="sandbox", journal_path=journal, options=options
    )
    seconds = time.perf_counter() - start
    statuses = Counter(r.status.value for r in outcome.results)
    answers = perfkit.requests_by_status(sandbox.stats())
    return Ordered(seconds, statuses, answers, sandbox.ledger_size())


def _summary(label: str, ordered: Ordered, ideal: float) -> str:
    return (
        f"{label}: ordering {ordered.seconds:.2f} s, ideal {ideal:.0f} s, "
        f"ratio {ordered.seconds / ideal:.3f}; {ordered.answers.get('429', 0)} of "
        f"{ordered.answers['total']} requests answered 429 ({ordered.throttled_share:.2%}); "
        f"rows {dict(ordered.statuses)}"
    )


@pytest.fixture(scope="module")
def thousand(advertisers: Callable[..., Path]) -> list[CheckedRow]:
    return valid_rows(advertisers(1_000))


@pytest.mark.perf
def test_fixed_rate_orders_at_the_ceiling(
    thousand: list[CheckedRow], bench_dir: Path, figures: Figures
) -> None:
    """--rate 50 --concurrency 16 against a 50/s limit: ≤ 1.10 × 20 s, no answer 429."""
    with perfkit.sandbox_process(*LATENCY, "--rate-limit", "50") as sandbox:
        got = order_against(
            sandbox, thousand, bench_dir / "fixed.sqlite", RunOptions(concurrency=16, rate=50)
        )
    ideal = len(thousand) / 50
    ratio = got.seconds / ideal
    print(
        f"\nordering: {got.seconds:.2f} s, ideal {ideal:.0f} s, ratio {ratio:.3f}"
        f"\n{_summary('fixed 50/s', got, ideal)}"
    )
    assert got.statuses == Counter({"provisioned": len(thousand)})
    assert got.bought == len(thousand)
    fast = figures.record(
        "ordering 1k rows, --rate 50 vs 50/s limit (time / ideal 20 s)",
        f"{ratio:.3f}× ({got.seconds:.2f} s)",
        "≤ 1.10×",
        ratio <= 1.10,
    )
    polite = figures.record(
        "ordering 1k rows, --rate 50 vs 50/s limit (429 share)",
        f"{got.throttled_share:.2%} ({got.answers.get('429', 0)}/{got.answers['total']})",
        "0%",
        got.throttled_share == 0,
    )
    assert fast
    assert polite


@pytest.mark.perf
def test_auto_rate_finds_a_50_per_second_limit(
    thousand: list[CheckedRow], bench_dir: Path, figures: Figures
) -> None:
    """--rate auto against an untold 50/s limit: ≥ 92% of the ceiling, ≤ 2% 429s."""
    with perfkit.sandbox_process(*LATENCY, "--rate-limit", "50") as sandbox:
        got = order_against(
            sandbox, thousand, bench_dir / "auto50.sqlite", RunOptions(concurrency=16, rate=None)
        )
    ideal = len(thousand) / 50
    print(f"\n{_summary('auto vs 50/s', got, ideal)}")
    assert got.statuses == Counter({"provisioned": len(thousand)})
    assert got.bought == len(thousand)
    fast = figures.record(
        "ordering 1k rows, --rate auto vs untold 50/s limit (time)",
        f"{got.seconds:.2f} s ({ideal / got.seconds:.0%} of the ceiling)",
        "≥ 92% (≤ 21.7 s)",
        ideal / got.seconds >= 0.92,
    )
    polite = figures.record(
        "ordering 1k rows, --rate auto vs untold 50/s limit (429 share)",
        f"{got.throttled_share:.2%} ({got.answers.get('429', 0)}/{got.answers['total']})",
        "≤ 2%",
        got.throttled_share <= 0.02,
    )
    assert fast
    assert polite


@pytest.mark.perf
def test_auto_rate_finds_a_5_per_second_limit(
    thousand: list[CheckedRow], bench_dir: Path, figures: Figures
) -> None:
    """--rate auto against an untold 5/s limit, 100 rows: ≤ 5% 429s and no failed row."""
    rows = thousand[:100]
    with perfkit.sandbox_process(*LATENCY, "--rate-limit", "5") as sandbox:
        got = order_against(
            sandbox, rows, bench_dir / "auto5.sqlite", RunOptions(concurrency=16, rate=None)
        )
    ideal = len(rows) / 5
    print(f"\n{_summary('auto vs 5/s', got, ideal)}")
    failed = len(rows) - got.statuses["provisioned"]
    assert got.bought == got.statuses["provisioned"]
    figures.record(
        "ordering 100 rows, --rate auto vs untold 5/s limit (time / ideal 20 s)",
        f"{got.seconds / ideal:.2f}× ({got.seconds:.1f} s)",
        "(reference)",
        None,
    )
    polite = figures.record(
        "ordering 100 rows, --rate auto vs untold 5/s limit (429 share)",
        f"{got.throttled_share:.2%} ({got.answers.get('429', 0)}/{got.answers['total']})",
        "≤ 5%",
        got.throttled_share <= 0.05,
    )
    complete = figures.record(
        "ordering 100 rows, --rate auto vs untold 5/s limit (rows not provisioned)",
        str(failed),
        "0",
        failed == 0,
    )
    assert polite
    assert complete
