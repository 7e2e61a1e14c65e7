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
from purchases import committed_state

from batchprov.order.journal import Journal, State
from batchprov.order.rate import FIXED_HEADROOM, RateLimiter
from batchprov.order.state import JournalThread

API = "https://api.test/v3/api"


def _intents_through_one_thread(
    journal: Journal, run: str, keys: list[str], *, linger: float = 0.0
) -> list[object]:
    """Begin each key's attempt at once through one journal thread (with ``linger``, it
    waits for all of them); each caller's answer or exception."""

    async def go() -> list[object]:
        jx = JournalThread(journal, linger=linger, busy=lambda: len(keys))
        try:
            calls = (jx(journal.begin_attempt, key, run, "{}") for key in keys)
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            jx.close()

    return asyncio.run(go())


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
            assert committed_state(path, a.key) == "PENDING"  # not committed yet
            with pytest.raises(RuntimeError):
                journal.begin_attempt(a.key, run, "{}")  # a second intent is refused
            journal.begin_attempt(b.key, run, "{}")
        assert committed_state(path, a.key) == "INTENT"
        assert committed_state(path, b.key) == "INTENT"
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
                    return committed_state(path, key)  # what a crash would leave

                return await asyncio.gather(*(intent(k) for k in keys))
            finally:
                jx.close()

        assert asyncio.run(go()) == ["INTENT"] * len(keys)


def test_the_journal_thread_passes_each_call_its_own_exception(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "journal.sqlite") as journal:
        run = journal.start_run("test")
        key = journal.ensure_item(API, 5, "A", "{}").key

        first, second = _intents_through_one_thread(journal, run, [key, key])
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

        answers = _intents_through_one_thread(journal, run, [a, b], linger=5.0)  # one batch
        assert [type(x) for x in answers] == [sqlite3.IntegrityError] * 2
        assert [committed_state(path, k) for k in (a, b)] == ["PENDING", "PENDING"]


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
