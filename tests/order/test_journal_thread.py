"""The journal thread: calls that arrive close together share a commit, never a promise."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from purchases import committed_state

from batchprov.order.journal import Journal, State
from batchprov.order.state import JournalThread

API = "https://api.test/v3/api"


def count_commits(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each group commit the journal thread runs, as the number of calls it holds."""
    commits: list[int] = []
    group_commit = journal.group_commit

    @contextmanager
    def counted() -> Iterator[None]:
        commits.append(0)
        with group_commit():
            yield

    monkeypatch.setattr(journal, "group_commit", counted)
    return commits


def intents(
    path: Path, journal: Journal, keys: list[str], *, linger: float, busy: int, gap: float
) -> list[str | None]:
    """Begin each key's attempt through one journal thread, ``gap`` seconds apart; return
    what another connection saw of each item the moment its caller got the answer."""
    run = journal.start_run("test")

    async def go() -> list[str | None]:
        jx = JournalThread(journal, linger=linger, busy=lambda: busy)
        try:

            async def intent(key: str, delay: float) -> str | None:
                await asyncio.sleep(delay)
                item = await jx(journal.begin_attempt, key, run, "{}")
                assert item.state is State.INTENT
                return committed_state(path, key)

            return await asyncio.gather(*(intent(k, i * gap) for i, k in enumerate(keys)))
        finally:
            jx.close()

    return asyncio.run(go())


def test_calls_a_moment_apart_share_one_commit_while_sends_are_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sends in flight, the thread waits a little for their calls: calls 10 ms apart
    share a commit, each on disk before its caller hears back, and the wait ends as soon as
    every send in flight has its call queued."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        keys = [journal.ensure_item(API, 5, f"N{i}", "{}").key for i in range(3)]
        commits = count_commits(journal, monkeypatch)
        started = time.monotonic()
        seen = intents(path, journal, keys, linger=5.0, busy=3, gap=0.01)
        took = time.monotonic() - started
    assert seen == ["INTENT"] * 3
    assert len(commits) == 1
    assert took < 2.5  # not the whole 5 s: the third call ended the wait


def test_a_lingering_thread_is_woken_by_a_batch_first_call_and_its_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While it waits for the calls of the sends in flight, the thread is not woken by each
    one (every wake-up takes the interpreter from the event loop): only by the first and by
    the one that completes the batch."""
    woken: list[int] = []
    ours: list[threading.Condition] = []
    real_init, real_notify = JournalThread.__init__, threading.Condition.notify

    def init(self: JournalThread, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        ours.append(self._ready)

    def counted(self: threading.Condition, n: int = 1) -> None:
        if any(self is c for c in ours):
            woken.append(n)
        real_notify(self, n)

    monkeypatch.setattr(JournalThread, "__init__", init)
    monkeypatch.setattr(threading.Condition, "notify", counted)
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        keys = [journal.ensure_item(API, 5, f"N{i}", "{}").key for i in range(5)]
        commits = count_commits(journal, monkeypatch)
        seen = intents(path, journal, keys, linger=5.0, busy=5, gap=0.01)
    assert seen == ["INTENT"] * 5
    assert len(commits) == 1
    assert len(woken) == 3  # the first call, the fifth, and closing


def test_a_lone_call_is_committed_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no other send in flight, nothing more can come: the thread does not wait."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        keys = [journal.ensure_item(API, 5, f"N{i}", "{}").key for i in range(2)]
        commits = count_commits(journal, monkeypatch)
        started = time.monotonic()
        seen = intents(path, journal, keys, linger=5.0, busy=1, gap=0.05)
        took = time.monotonic() - started
    assert seen == ["INTENT"] * 2
    assert len(commits) == 2  # one each: neither waited for the other
    assert took < 2.5  # far less than one wait of 5 s


def test_closing_ends_the_wait_and_commits_what_is_queued(tmp_path: Path) -> None:
    """A thread asked to close while it waits for more calls commits the queued ones at once."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run("test")
        key = journal.ensure_item(API, 5, "A", "{}").key

        async def go() -> tuple[float, State]:
            jx = JournalThread(journal, linger=5.0, busy=lambda: 10)
            call = asyncio.ensure_future(jx(journal.begin_attempt, key, run, "{}"))
            await asyncio.sleep(0.05)  # the thread holds the call and waits for more
            assert not call.done()
            started = time.monotonic()
            await asyncio.to_thread(jx.close)
            took = time.monotonic() - started
            return took, (await call).state

        took, state = asyncio.run(go())
    assert took < 2.5
    assert state is State.INTENT
    assert committed_state(path, key) == "INTENT"


def test_an_answer_that_cannot_be_set_does_not_strand_the_rest_of_its_batch() -> None:
    """A call whose exception a future refuses (StopIteration) gets a RuntimeError in its
    place, and the calls after it in the batch still get their answers."""
    from batchprov.order.state import _settle_all

    async def go() -> list[object]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(3)]
        _settle_all(
            [(futures[0], True, "a"), (futures[1], False, StopIteration()), (futures[2], True, "c")]
        )
        return await asyncio.gather(*futures, return_exceptions=True)

    first, second, third = asyncio.run(go())
    assert (first, third) == ("a", "c")
    assert isinstance(second, RuntimeError) and "StopIteration" in str(second)
