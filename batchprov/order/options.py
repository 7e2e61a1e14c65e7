"""How a run orders (`RunOptions`): a small module of its own, so that configuring a run does
not import the HTTP client and the journal."""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchprov.errors import OptionError

__all__ = ["RunOptions"]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run orders: concurrency, rate, patience and persistence."""

    concurrency: int = 8
    rate: float | None = None  # requests/s; None = adaptive ("auto")
    timeout: float = 30.0  # seconds to wait for an answer before the outcome is unknown
    retry_failed: bool = False
    settle_delay: float | None = None  # wait before trusting "absent" in a reconcile
    max_attempts: int = 6  # sends per row (never-sent / reconciled-absent)
    breaker_threshold: int = 5  # consecutive transport failures before pausing dispatch
    breaker_give_up: float = 60.0  # seconds of failing probes before the run stops
    max_purchases: int | None = None  # the most numbers this run may buy (None: no cap)
    max_retry_after: float = 900.0  # a longer Retry-After stops the run like an outage

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 64:
            raise OptionError(f"--concurrency must be 1 to 64, not {self.concurrency}")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise OptionError(f"--rate must be a number above 0 or 'auto', not {self.rate}")
        if self.max_purchases is not None and self.max_purchases < 0:
            raise OptionError(f"the purchase cap must be 0 or more, not {self.max_purchases}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise OptionError(f"--timeout must be a number of seconds above 0, not {self.timeout}")

    @property
    def settle(self) -> float:
        """The settle delay: given, or max(2 s, half the read timeout)."""
        if self.settle_delay is not None:
            return self.settle_delay
        return max(2.0, self.timeout / 2)
