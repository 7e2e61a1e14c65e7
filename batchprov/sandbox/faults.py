"""Faults the sandbox can inject: scripted for the next requests, or drawn from seeded random
streams so runs are reproducible.

POST create meets exactly one outcome per request: the next one of ``Faults.script`` if any,
else one random draw over the shares. Listings meet the next one of ``Faults.list_script``.
Every request may be delayed and rate limited; the rate limit is a sliding window, so
``Retry-After`` says when a slot frees up.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, TypeVar


class Outcome(Enum):
    """What happens to one create request (the values are the names a script uses)."""

    NORMAL = "ok"
    UNAVAILABLE = "503"  # nothing created; Retry-After: 1
    THROTTLED = "429"  # nothing created; Retry-After: 1
    ERROR_AFTER_CREATE = "500_after"
    DROP_AFTER_CREATE = "drop_after"  # created; the connection closes unanswered
    LATE_AFTER_CREATE = "late"  # created; answered after ``late_seconds``
    TIMEOUT_AFTER_CREATE = "timeout_after"  # created; never answered
    TIMEOUT_BEFORE_CREATE = "timeout_before"  # nothing created; never answered
    CONNECT_ERROR = "connect"  # nothing created; as if the connection never happened
    GARBLED_AFTER_CREATE = "garbled"  # created; a 200 whose body is cut short
    BAD_REQUEST = "400"
    UNAUTHORIZED = "401"
    NOT_FOUND = "404"


class ListOutcome(Enum):
    """What happens to one listing request (GET of a numbers page)."""

    NORMAL = "ok"
    THROTTLED = "429"
    ERROR = "500"
    UNAVAILABLE = "503"
    DROP = "drop"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect"
    GARBLED = "garbled"


_SHARED_OUTCOMES = (
    Outcome.UNAVAILABLE,
    Outcome.ERROR_AFTER_CREATE,
    Outcome.DROP_AFTER_CREATE,
    Outcome.LATE_AFTER_CREATE,
)

E = TypeVar("E", Outcome, ListOutcome)


@dataclass(frozen=True, slots=True)
class Faults:
    """What goes wrong, and how often.

    Attributes:
        latency_ms: fixed delay added to every API request.
        jitter_ms: extra random delay, uniform in [0, jitter_ms].
        rate_limit: requests per second over a sliding window; excess → 429 + Retry-After.
        error_503: share of creates answered 503 (Retry-After: 1) without creating anything.
        error_500_after_create: share of creates that create the number, then answer 500.
        drop_after_create: share of creates that create the number, then close the
            connection without any response.
        late_after_create: share of creates that create the number, then wait
            ``late_seconds`` before answering (a client with a shorter timeout gives up).
        late_seconds: the wait of a late answer.
        list_lag_ms: a new number shows in listings only this long after it was created.
        script: outcomes (`Outcome` values) of the next creates, in order; the shares decide
            again once it is used up. A JSON list is accepted too.
        list_script: outcomes (`ListOutcome` values) of the next listing pages, in order.
        revoke_token_after: the token works for this many creates; from the next create on,
            every request is answered 401.
    """

    latency_ms: float = 0
    jitter_ms: float = 0
    rate_limit: float | None = None
    error_503: float = 0
    error_500_after_create: float = 0
    drop_after_create: float = 0
    late_after_create: float = 0
    late_seconds: float = 5
    list_lag_ms: float = 0
    script: tuple[str, ...] = ()
    list_script: tuple[str, ...] = ()
    revoke_token_after: int | None = None

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, int | float) and value < 0:
                raise ValueError(f"{spec.name} must not be negative, got {value}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")
        if sum(self.shares()) > 1 + 1e-9:  # tolerate float sums like 0.1 + 0.2 + 0.7
            raise ValueError("the shares of 503, 500, drop and late faults add up to more than 1")
        limit = self.revoke_token_after
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValueError(f"revoke_token_after must be a whole number, got {limit!r}")
        # Frozen, but a script given as a JSON list is kept as the tuple it stands for.
        object.__setattr__(self, "script", _names(self.script, Outcome, "script"))
        object.__setattr__(
            self, "list_script", _names(self.list_script, ListOutcome, "list_script")
        )

    def shares(self) -> tuple[float, float, float, float]:
        """The shares of the create outcomes drawn at random (503, 500, drop, late)."""
        return (
            self.error_503,
            self.error_500_after_create,
            self.drop_after_create,
            self.late_after_create,
        )


def parse_outcomes(names: Iterable[Any], kind: type[E], field: str = "script") -> list[E]:
    """Outcomes from their names; ValueError naming the allowed ones otherwise."""
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        raise ValueError(f"{field} must be a list of outcome names, got {names!r}")
    allowed = {outcome.value: outcome for outcome in kind}
    parsed: list[E] = []
    for name in names:
        if name not in allowed:
            choices = ", ".join(allowed)
            raise ValueError(f"{field}: unknown outcome {name!r} (known: {choices})")
        parsed.append(allowed[name])
    return parsed


def _names(names: Iterable[Any], kind: type[E], field: str) -> tuple[str, ...]:
    return tuple(outcome.value for outcome in parse_outcomes(names, kind, field))


class RateLimiter:
    """At most ``rate`` requests per second, counted over a sliding window."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        # Below 1/s the window grows so that one request fits in it.
        self.limit = max(1, math.floor(rate))
        self.window = self.limit / rate
        self._clock = clock
        self._times: deque[float] = deque()

    def admit(self) -> int | None:
        """None when the request may pass, else the whole seconds to wait (Retry-After)."""
        now = self._clock()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            self._times.append(now)
            return None
        return max(1, math.ceil(self._times[0] + self.window - now))


class FaultInjector:
    """Draws delays and outcomes for one sandbox: scripts first, then seeded random streams."""

    def __init__(
        self, faults: Faults, seed: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.faults = faults
        self._outcomes = random.Random(f"outcomes:{seed}")
        self._jitter = random.Random(f"jitter:{seed}")
        self.limiter = RateLimiter(faults.rate_limit, clock) if faults.rate_limit else None
        self._script = deque(parse_outcomes(faults.script, Outcome))
        self._list_script = deque(parse_outcomes(faults.list_script, ListOutcome))
        self.creates = 0  # create requests received since these faults were set

    def delay_seconds(self) -> float:
        """The latency to add to one request."""
        faults = self.faults
        if not faults.latency_ms and not faults.jitter_ms:
            return 0.0
        return (faults.latency_ms + self._jitter.uniform(0, faults.jitter_ms)) / 1000

    def retry_after(self) -> int | None:
        """None when the rate limit lets a request through, else seconds to wait."""
        return self.limiter.admit() if self.limiter else None

    def received_create(self) -> None:
        """Count a create request (for ``revoke_token_after``)."""
        self.creates += 1

    def token_revoked(self) -> bool:
        """True once more creates arrived than ``revoke_token_after`` allows."""
        limit = self.faults.revoke_token_after
        return limit is not None and self.creates > limit

    def outcome(self) -> Outcome:
        """The fate of one create request: the script's next, else one draw over the shares."""
        if self._script:
            return self._script.popleft()
        draw = self._outcomes.random()
        for outcome, share in zip(_SHARED_OUTCOMES, self.faults.shares(), strict=True):
            if draw < share:
                return outcome
            draw -= share
        return Outcome.NORMAL

    def list_outcome(self) -> ListOutcome:
        """The fate of one listing request: the listing script's next, else normal."""
        return self._list_script.popleft() if self._list_script else ListOutcome.NORMAL

    def extend_script(self, outcomes: Iterable[Outcome]) -> None:
        """Queue outcomes for the creates after those already scripted."""
        self._script.extend(outcomes)

    def extend_list_script(self, outcomes: Iterable[ListOutcome]) -> None:
        """Queue outcomes for the listings after those already scripted."""
        self._list_script.extend(outcomes)

    def pending(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The create and listing outcomes still scripted."""
        return (
            tuple(o.value for o in self._script),
            tuple(o.value for o in self._list_script),
        )

    def list_lag_seconds(self) -> float:
        """How long a new number stays out of listings."""
        return self.faults.list_lag_ms / 1000
