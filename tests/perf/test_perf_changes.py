"""Changes made for throughput must not weaken the run's promises.

The journal's group commit still makes each intent durable before its caller hears back; the
rate limiter's send spacing never lets requests bunch up. (Not benchmarks: these run in the
normal suite. They live beside the benchmarks that motivated the changes; move them to
tests/test_journal.py and tests/test_ratelimit.py when convenient.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from batchprov.order.journal import Journal, State
from batchprov.order.rate import FIXED_HEADROOM, RateLimiter
from batchprov.order.state import JournalThread

API = "https://api.test/v3/api"


def other_connection_state(path: Path, key: str) -> str | None:
    """An item's state as another connection sees it: only committed writes."""
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT state FROM item WHERE item_key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def test_a_group_commits_once_and_a_failing_call_undoes_only_its_own_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run("test")
        a = journal.ensure_item(API, 5, "A", "{}")
        b = journal.ensure_item(API, 5, "B", "{}")
        with journal.group_commit():
            journal.begin_attempt(a.key, run, "{}")
            assert other_connection_state(path, a.key) == "PENDING"  # not committed yet
            with pytest.raises(RuntimeError):
                journal.begin_attempt(a.key, run, "{}")  # a second intent is refused
            journal.begin_attempt(b.key, run, "{}")
        assert other_connection_state(path, a.key) == "INTENT"
        assert other_connection_state(path, b.key) == "INTENT"
        assert journal.get(a.key).attempts == 1  # type: ignore[union-attr]


def test_the_journal_thread_answers_only_after_the_commit(tmp_path: Path) -> None:
    """Concurrent calls share a commit; each answer is durable when the caller gets it."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run("test")
        keys = [journal.ensure_item(API, 5, f"N{i}", "{}").key for i in range(40)]

        async def go() -> list[str | None]:
            jx = JournalThread(journal)
            try:

                async def intent(key: str) -> str | None:
                    item = await jx(journal.begin_attempt, key, run, "{}")
                    assert item.state is State.INTENT
                    return other_connection_state(path, key)  # what a crash would leave

                return await asyncio.gather(*(intent(k) for k in keys))
            finally:
                jx.close()

        assert asyncio.run(go()) == ["INTENT"] * len(keys)


def test_the_journal_thread_passes_each_call_its_own_exception(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        run = journal.start_run("test")
        key = journal.ensure_item(API, 5, "A", "{}").key

        async def go() -> list[object]:
            jx = JournalThread(journal)
            try:
                return await asyncio.gather(
                    jx(journal.begin_attempt, key, run, "{}"),
                    jx(journal.begin_attempt, key, run, "{}"),
                    return_exceptions=True,
                )
            finally:
                jx.close()

        first, second = asyncio.run(go())
        assert not isinstance(first, BaseException)
        assert isinstance(second, RuntimeError)
        assert journal.get(key).state is State.INTENT  # type: ignore[union-attr]


def test_a_call_failing_after_writing_fails_every_call_of_its_batch(tmp_path: Path) -> None:
    """Intents have no savepoint each: when one fails after writing, the journal thread's
    whole batch is undone and each caller hears that error; none of them is durable."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run("test")
        a, b = (journal.ensure_item(API, 5, n, "{}").key for n in ("A", "B"))
        journal._conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON attempt"
            f" WHEN NEW.item_key = '{b}' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )

        async def go() -> list[object]:
            jx = JournalThread(journal, linger=5.0, busy=lambda: 2)  # one batch of both
            try:
                return await asyncio.gather(
                    jx(journal.begin_attempt, a, run, "{}"),
                    jx(journal.begin_attempt, b, run, "{}"),
                    return_exceptions=True,
                )
            finally:
                jx.close()

        answers = asyncio.run(go())
        assert [type(x) for x in answers] == [sqlite3.IntegrityError] * 2
        assert [other_connection_state(path, k) for k in (a, b)] == ["PENDING", "PENDING"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def test_space_holds_bunched_requests_one_interval_apart() -> None:
    """Requests that got their slots evenly but reach `space` together leave evenly."""
    clock = Clock()
    limiter = RateLimiter(50, clock=clock, sleep=clock.sleep)
    interval = 1 / (50 * (1 - FIXED_HEADROOM))

    async def go() -> list[float]:
        slots = [await limiter.acquire() for _ in range(5)]
        assert slots[-1] - slots[0] == pytest.approx(4 * interval)
        clock.now += 0.2  # a slow journal commit: all five reach `space` at once
        sent = []
        for _ in range(5):
            await limiter.space()
            sent.append(clock.now)
        return sent

    sent = asyncio.run(go())
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert gaps == pytest.approx([interval] * 4)
