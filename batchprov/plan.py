"""What a run is about to order, shown before anything is bought."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from batchprov.models import OrderRequest

#: Request rate assumed for estimates when the rate is found adaptively.
ASSUMED_AUTO_RATE = 10.0


@dataclass(frozen=True, slots=True)
class Plan:
    """The orders of one run, counted the way an account manager checks them.

    Attributes:
        api_url: where the orders go (or a sandbox URL).
        sandbox: True when nothing real is bought.
        per_group: (group_id, match_type) → rows to order, sorted.
        to_order: rows that will be sent.
        already: rows skipped because they already have a number.
        invalid: rows that will not be ordered because they are invalid.
        rate: requests per second assumed for the estimate.
    """

    api_url: str
    sandbox: bool
    per_group: tuple[tuple[int, str, int], ...]
    to_order: int
    already: int
    invalid: int
    rate: float

    @property
    def estimated_seconds(self) -> float:
        """Time to send every order at the chosen rate."""
        return self.to_order / self.rate if self.rate > 0 else 0.0

    def describe(self) -> str:
        """A few plain lines for the terminal."""
        target = "SANDBOX (simulated; nothing is bought)" if self.sandbox else self.api_url
        lines = [f"About to order {self.to_order} number(s) from {target}"]
        for group_id, match_type, count in self.per_group:
            lines.append(f"  group {group_id:<10} {match_type:<14} {count:>6}")
        if self.already:
            lines.append(f"  {self.already} row(s) already have a number and will be skipped")
        if self.invalid:
            lines.append(f"  {self.invalid} invalid row(s) will not be ordered")
        lines.append(f"  estimated time: {format_duration(self.estimated_seconds)}")
        return "\n".join(lines)


def make_plan(
    orders: Sequence[OrderRequest],
    *,
    api_url: str,
    sandbox: bool,
    already: int,
    invalid: int,
    rate: float | None,
) -> Plan:
    """Count the orders per group and match type."""
    counts = Counter((o.group_id, o.match_type.value) for o in orders)
    per_group = tuple((g, m, n) for (g, m), n in sorted(counts.items()))
    return Plan(
        api_url=api_url,
        sandbox=sandbox,
        per_group=per_group,
        to_order=len(orders),
        already=already,
        invalid=invalid,
        rate=rate or ASSUMED_AUTO_RATE,
    )


def format_duration(seconds: float) -> str:
    """`42 s`, `3 min 5 s`, `1 h 12 min`."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
