"""The sandbox's state and behaviour, free of HTTP: what the routes (and tests) call.

One lock serialises every change, so tests may create or inspect numbers from their own
thread while a server thread answers requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from batchprov.clock import now_iso
from batchprov.sandbox.config import SandboxConfig
from batchprov.sandbox.errors import ApiError
from batchprov.sandbox.faults import FaultInjector, Faults, ListOutcome, Outcome, parse_outcomes
from batchprov.sandbox.inventory import Inventory, warm
from batchprov.sandbox.schema import Order, read_name, read_order, read_route, read_sms_routes
from batchprov.sandbox.store import NumberRecord, Store

#: The first number id and route id of the documentation examples (seed 0 starts there).
ID_BASE = 8_660_466
ROUTE_ID_BASE = 30_474_073


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Sandbox:
    """Numbers, inventory, faults and counters of one simulated Telmetrics organization.

    ``clock`` (monotonic seconds) and ``sleep`` are the sandbox's notion of time: list lag,
    latency, late answers and the rate limit follow them, so a test's fake clock rules both
    the client and the sandbox.
    """

    def __init__(
        self, config: SandboxConfig, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.groups = frozenset(config.groups)
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.store = Store(config.state_path)
        self.inventory = Inventory(config.seed, config.stock)
        records = self.store.records.values()
        self.inventory.restore(
            self.store.cursors,
            held=(r.phone_number for r in records if not r.released),
            released=(r.phone_number for r in records if r.released),
        )
        offset = random.Random(f"ids:{config.seed}").randrange(1, 10**6) if config.seed else 0
        self._next_id, self._next_route_id = self.store.next_ids(
            ID_BASE + offset, ROUTE_ID_BASE + 3 * offset
        )
        self.injector = FaultInjector(config.faults, config.seed, clock=clock)
        warm()

    # -- faults -------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults in force; its scripts hold the outcomes still to come."""
        script, list_script = self.injector.pending()
        return dataclasses.replace(self.injector.faults, script=script, list_script=list_script)

    def set_faults(self, faults: Faults) -> None:
        """Change the faults of a live sandbox (random streams and counts restart)."""
        self.injector = FaultInjector(faults, self.config.seed, clock=self.clock)

    def script(self, *outcomes: str) -> None:
        """Queue outcomes (`Outcome` values such as "503") for the next creates."""
        self.injector.extend_script(parse_outcomes(outcomes, Outcome))

    def script_listings(self, *outcomes: str) -> None:
        """Queue outcomes (`ListOutcome` values such as "drop") for the next listing pages."""
        self.injector.extend_list_script(parse_outcomes(outcomes, ListOutcome, "list_script"))

    # -- checks -------------------------------------------------------------------------------

    def check_token(self, token: str | None) -> None:
        """401 unless the request carries this sandbox's token."""
        if token is None:
            raise ApiError(401, "Unauthorized: the x-organization-token header is missing")
        if not hmac.compare_digest(token.encode(), self.config.token.encode()):
            raise ApiError(401, "Unauthorized: the x-organization-token is not valid")
        if self.injector.token_revoked():
            raise ApiError(401, "Unauthorized: the x-organization-token has been revoked")

    def check_group(self, group_id: int) -> None:
        """404 unless the group exists."""
        if group_id not in self.groups:
            raise ApiError(404, f"Group {group_id} not found")

    # -- numbers ------------------------------------------------------------------------------

    def create_number(self, group_id: int, body: Any) -> dict[str, Any]:
        """Create a number as `POST /groups/{group_id}/numbers` does; ApiError when it cannot."""
        self.check_group(group_id)
        order = read_order(body)
        with self._lock:
            number = self._pick(order, random.Random(f"{self.config.seed}:{self._next_id}"))
            record = self._record(group_id, order, number, body)
            self.store.add(record, (number[:6], self.inventory.cursor(number[:6])))
            self._next_id += 1
            self._next_route_id += 1
            return record.to_api()

    def get_number(self, number_id: int) -> dict[str, Any]:
        """One number, as `GET /numbers/{id}` shows it."""
        with self._lock:
            return self._active(number_id).to_api()

    def update_number(self, number_id: int, body: Any) -> dict[str, Any]:
        """Change a number's name, call routes, SMS routes or features (`PUT /numbers/{id}`)."""
        if not isinstance(body, dict):
            raise ApiError(400, "body: must be a JSON object")
        with self._lock:
            record = self._active(number_id)
            self._apply(record, body)
            record.modified_datetime = now_iso()
            record.changes.append(
                {"action": "update", "at": record.modified_datetime, "request": body}
            )
            self.store.save(record)
            return record.to_api()

    def delete_number(self, number_id: int) -> dict[str, Any]:
        """Release a number back to inventory (`DELETE /numbers/{id}`)."""
        with self._lock:
            record = self._active(number_id)
            record.modified_datetime = now_iso()
            record.changes.append({"action": "release", "at": record.modified_datetime})
            self.store.release(record)
            self.inventory.release(record.phone_number)
            return record.to_api()

    def list_numbers(
        self, group_id: int | None, page_size: int | None = None, page_number: int = 1
    ) -> dict[str, Any]:
        """A page of numbers (one group or all) in the documented paging envelope."""
        if group_id is not None:
            self.check_group(group_id)
        size = min(page_size or self.config.page_size_max, self.config.page_size_max)
        now = self.clock()
        with self._lock:
            visible = [r for r in self.store.active(group_id) if r.visible_at <= now]
            start = (page_number - 1) * size
            page = [r.to_api() for r in visible[start : start + size]]
        return {
            "results": page,
            "paging": {"pageNumber": page_number, "pageSize": size, "total": len(visible)},
        }

    def ledger(self) -> list[dict[str, Any]]:
        """Every number ever created, with the request that created it and every update and
        release since (with the update's request)."""
        with self._lock:
            return [r.to_ledger() for r in self.store.records.values()]

    def count(self, key: str) -> None:
        """Count one answered request under "METHOD route status"."""
        with self._lock:
            self.stats[key] += 1

    def close(self) -> None:
        """Release the state file."""
        with self._lock:
            self.store.close()

    # -- helpers ------------------------------------------------------------------------------

    def _pick(self, order: Order, rng: random.Random) -> str:
        filter_ = order.number_match_filter
        if order.match_type == "localtonumber":
            assert order.local_to_number is not None
            return self.inventory.local_to_number(order.local_to_number, filter_, rng)
        if order.match_type == "localtocity":
            assert order.city is not None and order.state is not None
            return self.inventory.local_to_city(order.city, order.state, filter_, rng)
        return self.inventory.tollfree(filter_, rng)

    def _record(self, group_id: int, order: Order, number: str, body: Any) -> NumberRecord:
        stamp = now_iso()
        return NumberRecord(
            id=self._next_id,
            group_id=group_id,
            name=self.store.free_name(group_id, order.name),
            requested_name=order.name,
            phone_number=number,
            route_id=self._next_route_id,
            route_type=order.route.route_type,
            termination_number=order.route.termination_number,
            route_features=order.route.features,
            sms_routes=order.sms_routes,
            features=order.features,
            created_datetime=stamp,
            modified_datetime=stamp,
            request=body,
            visible_at=self.clock() + self.injector.list_lag_seconds(),
        )

    def _active(self, number_id: int) -> NumberRecord:
        record = self.store.records.get(number_id)
        if record is None or record.released:
            raise ApiError(404, f"Number {number_id} not found")
        return record

    def _apply(self, record: NumberRecord, body: dict[str, Any]) -> None:
        """Check every field first, so a bad one changes nothing.

        A body may carry the number's own fields (a client sends back what it read); the
        ones a number cannot change must then be what they are.
        """
        fixed = {"id": record.id, "group_id": record.group_id, "phone_number": record.phone_number}
        for key, value in fixed.items():
            if key in body and str(body[key]) != str(value):
                raise ApiError(400, f"{key}: cannot be changed (is {value})")
        name = read_name(body["name"]) if "name" in body else record.name
        route = read_route(body["call_routes"]) if "call_routes" in body else None
        sms = read_sms_routes(body["sms_routes"]) if "sms_routes" in body else record.sms_routes
        features = body.get("features", record.features)
        if features is not None and not isinstance(features, dict):
            raise ApiError(400, "features: must be a JSON object")
        if name != record.name:
            self.store.rename(record, self.store.free_name(record.group_id, name))
        if route is not None:
            record.route_type = route.route_type
            record.termination_number = route.termination_number
            record.route_features = route.features
        record.sms_routes = sms
        record.features = features
