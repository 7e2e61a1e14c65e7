"""The SQLite journal: durability settings, lock, item states and the baseline."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from purchases import committed_state

from batchprov.errors import JournalBusyError
from batchprov.order.client import Number
from batchprov.order.journal import Item, Journal, State, item_key

API = "https://api.test/v3/api/"


def number(i: int, name: str = "A") -> Number:
    return Number(id=str(i), phone_number=f"800555{i:04d}", name=name, route_id="r")


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    with Journal.open(tmp_path / "sub" / "journal.sqlite") as j:
        yield j


def test_durability_pragmas(journal: Journal) -> None:
    """The journal uses WAL with synchronous=FULL and a busy timeout."""
    conn = journal._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_second_open_is_refused(tmp_path: Path) -> None:
    """A journal held by one run cannot be opened by another until it is closed."""
    path = tmp_path / "j.sqlite"
    with Journal.open(path), pytest.raises(JournalBusyError, match="wait for it to finish"):
        Journal.open(path)
    Journal.open(path).close()


def test_keys_ignore_case_spaces_and_trailing_slash() -> None:
    """Items are keyed by API URL, group and casefolded trimmed name, not by row."""
    assert item_key(API, 5, " ABC Co ") == item_key(API.rstrip("/"), 5, "abc co")
    assert item_key(API, 5, "A") != item_key(API, 6, "A")


def test_intent_then_outcome(journal: Journal) -> None:
    """An intent counts an attempt; its outcome closes it; lookups find the item."""
    item = journal.ensure_item(API, 5, "A", "{}")
    run = journal.start_run("t")
    assert journal.begin_attempt(item.key, run, "{}").state == State.INTENT
    done = journal.record_done(item.key, number(1), provisioned_at="now", resolved_by="answer")
    assert (done.state, done.number_id, done.attempts) == (State.DONE, "1", 1)
    assert done == journal.lookup(API, 5, "a")
    assert {"1"} == journal.owned_ids(API, 5)


def test_no_second_intent_while_one_is_open(journal: Journal) -> None:
    """An item with an open intent (or UNKNOWN) cannot get another."""
    item = journal.ensure_item(API, 5, "A", "{}")
    run = journal.start_run("t")
    journal.begin_attempt(item.key, run, "{}")
    with pytest.raises(RuntimeError, match="not PENDING"):
        journal.begin_attempt(item.key, run, "{}")
    journal.record_unknown(item.key, "ReadTimeout")
    with pytest.raises(RuntimeError):
        journal.begin_attempt(item.key, run, "{}")
    assert [item.key] == [i.key for i in journal.unresolved(API, 5)]


def test_one_number_never_serves_two_rows(journal: Journal) -> None:
    """A number already owned by one item sends the other to REVIEW."""
    run = journal.start_run("t")
    a, b = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B"))
    for item in (a, b):
        journal.begin_attempt(item.key, run, "{}")
    journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="answer")
    second = journal.record_done(b.key, number(1), provisioned_at="x", resolved_by="answer")
    assert second.state == State.REVIEW
    assert second.last_error == f"number 1 is already recorded for another row ({a.key})"
    assert [outcome for _, outcome in journal.attempts(b.key)] == ["review"]


def test_a_taken_number_in_a_group_commit_undoes_only_that_update(journal: Journal) -> None:
    """Inside a group commit, a number already owned sends its item to REVIEW and leaves
    the other calls of the group, before and after it, as they were written."""
    run = journal.start_run("t")
    a, b, c = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B", "C"))
    for item in (a, b, c):
        journal.begin_attempt(item.key, run, "{}")
    with journal.group_commit():
        journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="answer")
        second = journal.record_done(b.key, number(1), provisioned_at="x", resolved_by="answer")
        journal.record_done(c.key, number(3), provisioned_at="x", resolved_by="answer")
    assert second.state == State.REVIEW and second.number_id is None
    states = {k: journal.get(k) for k in (a.key, b.key, c.key)}
    assert [(i.state, i.number_id) for i in states.values() if i] == [
        (State.DONE, "1"),
        (State.REVIEW, None),
        (State.DONE, "3"),
    ]


def _attempts_refused(journal: Journal) -> None:
    """Make every new attempt row fail to insert, after its item's UPDATE has written."""
    journal._conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON attempt BEGIN SELECT RAISE(ABORT, 'disk"
        " trouble'); END"
    )


def _committed(journal: Journal, *items: Item) -> tuple[str | None, ...]:
    """The items' states as another connection sees them."""
    return tuple(committed_state(journal.path, item.key) for item in items)


def test_an_intent_failing_after_its_first_write_undoes_its_whole_group(journal: Journal) -> None:
    """An intent has no savepoint of its own: one that fails after writing its item undoes
    every write of its group, and the group's end raises that error for all its callers."""
    run = journal.start_run("t")
    a, b = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B"))
    journal.begin_attempt(a.key, run, "{}")  # committed before the group
    _attempts_refused(journal)
    group_end = pytest.raises(sqlite3.IntegrityError, match="disk trouble")
    with group_end, journal.group_commit():
        journal.record_unknown(a.key, "timeout")
        with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):  # the call itself
            journal.begin_attempt(b.key, run, "{}")
    assert _committed(journal, a, b) == ("INTENT", "PENDING")
    assert [outcome for _, outcome in journal.attempts(a.key)] == [None]


def test_an_unexpected_error_in_an_outcome_spoils_its_group_even_with_nothing_counted(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the refusals known to come before any write leave a group whole: any other error
    of a call without a savepoint undoes the group, whatever SQLite has counted so far."""
    from batchprov.order import journal as module

    run = journal.start_run("t")
    a, b = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B"))
    for item in (a, b):
        journal.begin_attempt(item.key, run, "{}")

    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError

    with pytest.raises(MemoryError), journal.group_commit():
        journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="answer")
        monkeypatch.setattr(module, "_set", broken)
        with pytest.raises(MemoryError):
            journal.record_unknown(b.key, "timeout")
    assert _committed(journal, a, b) == ("INTENT", "INTENT")


def test_an_intent_failing_alone_outside_a_group_undoes_only_itself(journal: Journal) -> None:
    """Outside a group, the same failure rolls back that intent's own transaction."""
    run = journal.start_run("t")
    a = journal.ensure_item(API, 5, "A", "{}")
    _attempts_refused(journal)
    with pytest.raises(sqlite3.IntegrityError, match="disk trouble"):
        journal.begin_attempt(a.key, run, "{}")
    assert _committed(journal, a) == ("PENDING",)
    assert journal.get(a.key).attempts == 0  # type: ignore[union-attr]


def test_a_call_failing_before_it_writes_leaves_its_group_to_commit(journal: Journal) -> None:
    """A second intent, refused before it writes anything, spoils nothing: the group's other
    writes commit, the refused call alone raising."""
    run = journal.start_run("t")
    a, b = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B"))
    journal.begin_attempt(a.key, run, "{}")
    with journal.group_commit():
        with pytest.raises(RuntimeError, match="not PENDING"):
            journal.begin_attempt(a.key, run, "{}")
        journal.begin_attempt(b.key, run, "{}")
        journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="answer")
    assert _committed(journal, a, b) == ("DONE", "INTENT")


def test_the_same_number_recorded_twice_for_one_item_stays_done(journal: Journal) -> None:
    """Recording an item's own number again is no conflict: it stays DONE with it."""
    run = journal.start_run("t")
    a = journal.ensure_item(API, 5, "A", "{}")
    journal.begin_attempt(a.key, run, "{}")
    journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="answer")
    again = journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="reconcile")
    assert (again.state, again.number_id) == (State.DONE, "1")


def test_baseline_is_recorded_per_group(journal: Journal) -> None:
    """A group's pre-existing numbers are kept, and the group is marked as snapshotted."""
    assert not journal.has_baseline(API, 5)
    journal.add_baseline(API, 5, [number(1), number(2)])
    journal.add_baseline(API, 5, [number(2), number(3)])
    assert journal.has_baseline(API, 5)
    assert {"1", "2", "3"} == journal.baseline_ids(API, 5)
    assert set() == journal.baseline_ids(API, 6)


def test_failed_item_can_be_reopened(journal: Journal) -> None:
    """A FAILED item goes back to PENDING with the new payload for another try."""
    item = journal.ensure_item(API, 5, "A", "{}")
    journal.begin_attempt(item.key, journal.start_run("t"), "{}")
    journal.record_failed(item.key, "HTTP 400: bad")
    assert journal.reopen(item.key, '{"new": 1}').state == State.PENDING


def test_a_reconcile_after_an_unknown_answer_credits_the_attempt_that_bought(
    journal: Journal,
) -> None:
    """A number adopted by a reconcile after an unknown answer marks that attempt as bought."""
    run = journal.start_run("t")
    item = journal.ensure_item(API, 5, "A", "{}")
    journal.begin_attempt(item.key, run, "{}")
    journal.record_unknown(item.key, "no complete answer within 6 s")
    journal.record_done(item.key, number(1), provisioned_at="x", resolved_by="reconcile")
    assert [outcome for _, outcome in journal.attempts(item.key)] == ["reconcile"]
    assert [(i.number_id, o) for i, _, o, _ in journal.run_attempts(run)] == [("1", "reconcile")]
    assert [r.bought for r in journal.runs(run)] == [1]


def test_a_verdict_after_unknown_keeps_the_answer_that_made_it_unknown(journal: Journal) -> None:
    """The audit still shows the 503 that left an attempt unknown, after a reconcile adopts."""
    run = journal.start_run("t")
    item = journal.ensure_item(API, 5, "A", "{}")
    journal.begin_attempt(item.key, run, "{}")
    journal.record_unknown(item.key, "HTTP 503: busy", status=503)
    journal.record_done(item.key, number(1), provisioned_at="x", resolved_by="reconcile")
    row = journal._conn.execute("SELECT outcome, http_status, detail FROM attempt").fetchone()
    assert tuple(row) == ("reconcile", 503, "HTTP 503: busy")


def test_a_later_runs_reconcile_credits_the_run_whose_attempt_bought(journal: Journal) -> None:
    """An unknown left by an interrupted run and adopted by the next counts for the first run."""
    first = journal.start_run("t")
    a, b = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B"))
    for item in (a, b):
        journal.begin_attempt(item.key, first, "{}")
    journal.record_unknown(a.key, "no complete answer within 6 s")  # b stays INTENT
    journal.end_run(first, "interrupted")
    second = journal.start_run("t")
    journal.record_done(a.key, number(1), provisioned_at="x", resolved_by="reconcile")
    journal.record_done(b.key, number(2), provisioned_at="x", resolved_by="reconcile")
    journal.end_run(second, "finished")
    assert [(r.run_id, r.bought) for r in journal.runs()] == [(first, 2), (second, 0)]


def test_absent_or_review_replaces_an_unknown_outcome_but_no_definite_one(
    journal: Journal,
) -> None:
    """A reconcile's absent or review replaces an attempt's unknown; a later outcome of the
    same attempt (used up after absent, the same number again) leaves a definite one."""
    run = journal.start_run("t")
    a, b, c = (journal.ensure_item(API, 5, n, "{}") for n in ("A", "B", "C"))
    for item in (a, b, c):
        journal.begin_attempt(item.key, run, "{}")
        journal.record_unknown(item.key, "HTTP 502")
    journal.record_pending(a.key, "absent", "not found after: HTTP 502")
    journal.record_failed(a.key, "Not bought after 1 attempts")
    journal.record_review(b.key, "possible duplicate purchase", ["7", "8"])
    journal.record_done(c.key, number(3), provisioned_at="x", resolved_by="reconcile")
    journal.record_done(c.key, number(3), provisioned_at="x", resolved_by="answer")
    assert [journal.attempts(i.key)[0][1] for i in (a, b, c)] == ["absent", "review", "reconcile"]


def _bought_run(path: Path, count: int) -> None:
    """A journal whose run R1 bought ``count`` numbers (written straight into its tables)."""
    with Journal.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO item(item_key, api_url, group_id, name, payload, state, attempts,"
        " number_id, phone, updated_at) VALUES (?, 'http://x', 1, ?, '{}', 'DONE', 1, ?,"
        " '9055550000', 't')",
        [(f"k{i}", f"n{i}", str(i)) for i in range(count)],
    )
    conn.executemany(
        "INSERT INTO attempt(intent_id, item_key, run_id, sent_at, finished_at, outcome,"
        " number_id) VALUES (?, ?, 'R1', 't', 't', 'answer', ?)",
        [(f"i{i}", f"k{i}", str(i)) for i in range(count)],
    )
    conn.commit()
    conn.close()


def _steps_of_run_purchases(path: Path) -> int:
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    with Journal.open(path) as j:
        j._conn.set_progress_handler(count, 100)
        assert len(j.run_purchases("R1")) == int(path.stem)
        j._conn.set_progress_handler(None, 0)
    return steps


def test_a_run_s_purchases_are_read_in_time_linear_in_its_attempts(tmp_path: Path) -> None:
    """Four times the attempts cost about four times the work, not sixteen (SQLite steps)."""
    small, large = tmp_path / "500.sqlite", tmp_path / "2000.sqlite"
    _bought_run(small, 500)
    _bought_run(large, 2000)
    ratio = _steps_of_run_purchases(large) / _steps_of_run_purchases(small)
    assert ratio < 6, ratio
