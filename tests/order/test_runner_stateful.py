"""A hypothesis state machine: random rows, faults, crashes and restarts never buy twice."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from fake_clock import FakeClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from orders import order, rows
from purchases import TOKEN, bought, ledger_ids, money, sandbox_transport

from batchprov.models import OWNED
from batchprov.order.client import Number
from batchprov.order.journal import Journal, State
from batchprov.order.reconcile import refresh_baseline
from batchprov.order.runner import RunOptions, order_rows
from batchprov.sandbox import Faults
from batchprov.sandbox.inprocess import URL as API

GID = 11623282
FAULTS = [
    "ok",
    "503",
    "429",
    "500_after",
    "drop_after",
    "timeout_after",
    "timeout_before",
    "late",
    "connect",
    "garbled",
]
#: New numbers show in listings only this late (as long as the settle delay): a late answer's
#: number, like any other, is not in the first listing after the create.
LIST_LAG_MS = 500
OPTIONS = RunOptions(
    concurrency=3, timeout=1.0, settle_delay=0.5, max_attempts=4, breaker_threshold=50
)


class OrderingMachine(RuleBasedStateMachine):
    """Rows come and go through runs, faults and crashes; the ledger must stay clean."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="batchprov-stateful-"))
        self.journal = self.dir / "journal.sqlite"
        self.clock = FakeClock()
        self.api = sandbox_transport(self.clock)
        self.names: list[str] = []

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, faults: list[str], *, retry_failed: bool, seed: int) -> None:
        self.api.sandbox.set_faults(Faults(script=tuple(faults), list_lag_ms=LIST_LAG_MS))
        names = list(self.names)
        random.Random(seed).shuffle(names)
        options = RunOptions(**{**_fields(OPTIONS), "retry_failed": retry_failed})
        checked = rows(names)
        before = len(self.api.sandbox.ledger())
        outcome = order_rows(
            checked,
            api_url=API,
            token=TOKEN,
            journal_path=self.journal,
            options=options,
            transport=self.api,
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        card = money(self.api.sandbox.ledger(), API, checked, outcome, self.journal, before=before)
        assert card.clean(), card

    @rule(count=st.integers(1, 3))
    def add_rows(self, count: int) -> None:
        start = len(self.names)
        self.names += [f"Row {start + i}" for i in range(count)]

    @precondition(lambda self: self.names)
    @rule(
        faults=st.lists(st.sampled_from(FAULTS), max_size=6),
        retry=st.booleans(),
        seed=st.integers(0, 99),
    )
    def order(self, faults: list[str], retry: bool, seed: int) -> None:
        self.run(faults, retry_failed=retry, seed=seed)

    @precondition(lambda self: self.names)
    @rule(data=st.data(), bought=st.booleans())
    def crash_mid_flight(self, data: st.DataObject, bought: bool) -> None:
        """A run killed after its intent commit (and maybe after the server bought)."""
        name = data.draw(st.sampled_from(self.names))
        body = order(name).body_json()
        with Journal.open(self.journal) as j:
            item = j.lookup(API, GID, name) or j.ensure_item(API, GID, name, body)
            if item.state is not State.PENDING:
                return
            listing = [
                Number(str(n["id"]), n["phone_number"], n["name"])
                for n in self.api.sandbox.list_numbers(GID)["results"]
            ]
            if not j.has_baseline(API, GID):
                refresh_baseline(j, API, GID, listing)
            j.begin_attempt(item.key, j.start_run("crashed"), body)
        if bought:
            self.api.sandbox.create_number(GID, order(name).body())

    @rule(seconds=st.floats(0, 5))
    def wait(self, seconds: float) -> None:
        self.clock.now += seconds

    @invariant()
    def at_most_one_purchase_per_row(self) -> None:
        assert all(count == 1 for count in bought(self.api).values())

    @invariant()
    def every_done_item_is_on_the_server(self) -> None:
        ids = set(ledger_ids(self.api))
        with Journal.open(self.journal) as j:
            done = [i.number_id for i in j.items() if i.state is State.DONE]
        assert set(done) <= ids

    def check_quiescence(self) -> None:
        """Without faults, one more run resolves every row: each owns exactly one number."""
        if not self.names:
            return
        self.api.sandbox.set_faults(Faults())
        self.clock.now += 10
        checked = rows(self.names)
        before = len(self.api.sandbox.ledger())
        outcome = order_rows(
            checked,
            api_url=API,
            token=TOKEN,
            journal_path=self.journal,
            options=RunOptions(**{**_fields(OPTIONS), "retry_failed": True}),
            transport=self.api,
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        assert all(r.status in OWNED for r in outcome.results), outcome.results
        card = money(self.api.sandbox.ledger(), API, checked, outcome, self.journal, before=before)
        assert card.clean(), card
        assert {n.casefold() for n in self.names} == set(bought(self.api))
        with Journal.open(self.journal) as j:
            assert not [i for i in j.items() if i.unresolved]


def _fields(options: RunOptions) -> dict[str, object]:
    return {name: getattr(options, name) for name in RunOptions.__dataclass_fields__}


class FinishingMachine(OrderingMachine):
    def teardown(self) -> None:
        try:
            self.check_quiescence()
        finally:
            super().teardown()


FinishingMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_random_runs_never_buy_twice() -> None:
    """Random rows, faults, crashes and restarts: one purchase per row, none lost, all resolved."""
    FinishingMachine.TestCase().runTest()
