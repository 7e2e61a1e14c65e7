"""Faults the sandbox can inject, drawn from seeded random streams so runs are reproducible.

POST create draws exactly one outcome per request; every request may be delayed and rate
limited. The rate limit is a sliding window, so ``Retry-After`` says when a slot frees up.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum


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

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is not None and value < 0:
                raise ValueError(f"{spec.name} must not be negative, got {value}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")
        if sum(self.shares()) > 1 + 1e-9:  # tolerate float sums like 0.1 + 0.2 + 0.7
            raise ValueError("the shares of 503, 500, drop and late faults add up to more than 1")

    def shares(self) -> tuple[float, float, float, float]:
        """The shares of the create outcomes, in the order of ``Outcome``'s faults."""
        return (
            self.error_503,
            self.error_500_after_create,
            self.drop_after_create,
            self.late_after_create,
        )


class Outcome(Enum):
    """What happens to one create request."""

    UNAVAILABLE = "503"  # nothing created
    ERROR_AFTER_CREATE = "500"
    DROP_AFTER_CREATE = "drop"
    LATE_AFTER_CREATE = "late"
    NORMAL = "ok"


_FAULT_OUTCOMES = (
    Outcome.UNAVAILABLE,
    Outcome.ERROR_AFTER_CREATE,
    Outcome.DROP_AFTER_CREATE,
    Outcome.LATE_AFTER_CREATE,
)


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
    """Draws delays and create outcomes for one sandbox from seeded random streams."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._outcomes = random.Random(f"outcomes:{seed}")
        self._jitter = random.Random(f"jitter:{seed}")
        self.limiter = RateLimiter(faults.rate_limit) if faults.rate_limit else None

    def delay_seconds(self) -> float:
        """The latency to add to one request."""
        faults = self.faults
        if not faults.latency_ms and not faults.jitter_ms:
            return 0.0
        return (faults.latency_ms + self._jitter.uniform(0, faults.jitter_ms)) / 1000

    def retry_after(self) -> int | None:
        """None when the rate limit lets a request through, else seconds to wait."""
        return self.limiter.admit() if self.limiter else None

    def outcome(self) -> Outcome:
        """The fate of one create request: one draw, so shares never overlap."""
        draw = self._outcomes.random()
        for outcome, share in zip(_FAULT_OUTCOMES, self.faults.shares(), strict=True):
            if draw < share:
                return outcome
            draw -= share
        return Outcome.NORMAL

    def list_lag_seconds(self) -> float:
        """How long a new number stays out of listings."""
        return self.faults.list_lag_ms / 1000
