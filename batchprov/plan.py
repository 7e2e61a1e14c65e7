"""What a run is about to order, shown before anything is bought.

The plan counts the orders per group, match type and expected area code (`numbering.area`),
lists the rows predicted to fail — invalid ones, and those the numbering-plan data says will
likely find no number — with the fallbacks they may use, and estimates the time (and, given a
price per number, the monthly cost). The terminal shows `Plan.describe`; the Summary sheet
shows `Plan.facts` and the two tables; ``--json`` shows `Plan.as_dict`.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batchprov.models import CheckedRow, OrderRequest
from batchprov.numbering.area import locality_of
from batchprov.order.rate import FIXED_HEADROOM
from batchprov.wording import match_type_words

#: Request rate assumed for estimates when the rate is found adaptively.
ASSUMED_AUTO_RATE = 10.0
#: Lines of each list the terminal shows; the Summary sheet shows them all.
SHOWN_LINES = 12

#: (group_id, match type, expected area codes, rows)
AreaLine = tuple[int, str, str, int]
#: (Excel row, why no number is likely, the fallbacks it may use: '' when none)
RiskLine = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Plan:
    """The orders of one run, counted the way an account manager checks them.

    Attributes:
        api_url: where the orders go (or a sandbox URL).
        sandbox: True when nothing real is bought.
        per_group: (group_id, match_type) → rows to order, sorted.
        to_order: rows that will be sent.
        already: rows skipped because they already have a number.
        released: rows skipped because their own result columns say their number was released.
        invalid: rows that will not be ordered because they are invalid.
        rate: requests per second assumed for the estimate.
        per_area: rows to order per group, match type and expected area code(s), sorted.
        at_risk: rows the numbering-plan data says will likely find no number.
        with_fallback: rows to order that have fallbacks.
        rate_auto: True when ``rate`` is assumed (the run finds the API's rate itself).
        price_per_number: the monthly price of one number, for the cost estimate.
        dry_run: True when nothing will be sent at all.
        found: rows whose name already names a number in the group (found in the account):
            reported already provisioned, not bought.
        recovered: rows an earlier run sent without hearing back whose number the account
            holds: adopted (provisioned), not bought again.
        held: valid rows not sent: failed before, to review, several numbers with their
            name in the account, or a group the API refused to list.
        account_checked: True when the groups were listed before this plan (offline dry
            runs are not).
        max_numbers: the cap on numbers bought (``--max-numbers``), if any.
        max_cost: the cap on the monthly cost (``--max-cost``), if any.
        hidden: rows left out because Excel hides them (``--include-hidden`` reads them).
        named_anyway: rows to order whose name already names a number in the group, bought
            again because of ``--existing order``.
        rows_to_order: the Excel rows of the rows that will be sent, in sheet order (what a
            confirmation holds the run to).
    """

    api_url: str
    sandbox: bool
    per_group: tuple[tuple[int, str, int], ...]
    to_order: int
    already: int
    invalid: int
    rate: float
    per_area: tuple[AreaLine, ...] = ()
    at_risk: tuple[RiskLine, ...] = ()
    with_fallback: int = 0
    rate_auto: bool = False
    price_per_number: float | None = None
    dry_run: bool = False
    found: int = 0
    recovered: int = 0
    released: int = 0
    held: int = 0
    account_checked: bool = False
    max_numbers: int | None = None
    max_cost: float | None = None
    hidden: int = 0
    #: Numbers ``run --update`` will change (PUT), and one line per change.
    to_update: int = 0
    update_lines: tuple[str, ...] = ()
    #: Rows ``--update`` will not change: several numbers share the name, or it is unreadable.
    not_updated: int = 0
    named_anyway: int = 0
    rows_to_order: tuple[int, ...] = ()
    #: Valid rows not ordered because ``--strict`` is set and some row is invalid.
    strict_held: int = 0

    @property
    def rescued(self) -> int:
        """Rows likely to find no number that have a fallback to try."""
        return sum(1 for _, _, fallbacks in self.at_risk if fallbacks)

    @property
    def predicted_failures(self) -> int:
        """Invalid rows plus rows likely to find no number (some may have a fallback)."""
        return self.invalid + len(self.at_risk)

    @property
    def estimated_seconds(self) -> float:
        """Time to send every order at the chosen rate (a fallback costs one more request).

        A fixed rate is paced a little under the rate given (see `order.rate.FIXED_HEADROOM`).
        """
        pace = self.rate if self.rate_auto else self.rate * (1.0 - FIXED_HEADROOM)
        return (self.to_order + self.rescued) / pace if pace > 0 else 0.0

    @property
    def estimated_cost(self) -> float | None:
        """The monthly cost of every order, at ``price_per_number`` (None without a price)."""
        return None if self.price_per_number is None else self.to_order * self.price_per_number

    def target(self) -> str:
        return "SANDBOX (simulated; nothing is bought)" if self.sandbox else self.api_url

    def describe(self) -> str:
        """A few plain lines for the terminal."""
        verb = "Would order" if self.dry_run else "About to order"
        if self.to_order == 0:
            lines = [f"Nothing to order from {self.target()}"]
            lines += self._skipped_lines() + self._risk_lines()
            return "\n".join(lines + self._update_lines())
        lines = [f"{verb} {self.to_order} number(s) from {self.target()}"]
        lines += self._order_lines()
        lines += self._skipped_lines()
        lines += self._risk_lines()
        if self.with_fallback:
            lines.append(f"  {self.with_fallback} row(s) have fallbacks if no number matches")
        lines.append(f"  estimated time: {self.time_text()}")
        if self.estimated_cost is not None:
            lines.append(f"  estimated monthly cost: {self.cost_text()}")
        lines += [f"  {cap}" for cap in self.cap_lines()]
        return "\n".join(lines + self._update_lines())

    def _update_lines(self) -> list[str]:
        """The changes ``run --update`` will make, one line each."""
        lines = []
        if self.to_update:
            lines = [f"About to update {self.to_update} number(s) (--update):", *self.update_lines]
        if self.not_updated:
            lines.append(
                f"  {self.not_updated} row(s) will not be updated (--update): see the workbook"
            )
        return lines

    def over_cap(self) -> str | None:
        """Why this plan breaks a cap ('' parts omitted), or None when it fits."""
        if self.max_numbers is not None and self.to_order > self.max_numbers:
            return f"it orders {self.to_order} number(s), over --max-numbers {self.max_numbers}"
        cost = self.estimated_cost
        if self.max_cost is not None and cost is not None and cost > self.max_cost + 1e-9:
            return f"it costs up to {cost:,.2f} a month, over --max-cost {self.max_cost:,.2f}"
        return None

    @property
    def purchase_cap(self) -> int | None:
        """The most numbers the run may buy, fallbacks included (None: no cap)."""
        caps = [] if self.max_numbers is None else [self.max_numbers]
        if self.max_cost is not None and self.price_per_number:
            caps.append(int(self.max_cost / self.price_per_number + 1e-9))
        return min(caps) if caps else None

    def cap_lines(self) -> list[str]:
        lines = []
        if self.max_numbers is not None:
            lines.append(f"cap: at most {self.max_numbers} number(s) (--max-numbers)")
        if self.max_cost is not None:
            lines.append(f"cap: at most {self.max_cost:,.2f} a month (--max-cost)")
        return lines

    def _skipped_lines(self) -> list[str]:
        lines = []
        if self.already:
            lines.append(f"  {self.already} row(s) already have a number and will be skipped")
        if self.released:
            lines.append(f"  {self.released} row(s) show a released number and will be skipped;")
            lines.append("    to buy them again, run the original sheet with --retry-failed")
        if self.found:
            lines.append(
                f"  {self.found} row(s) found in the account (a number already has the name): "
                "not bought"
            )
        if self.recovered:
            lines.append(
                f"  {self.recovered} row(s) an earlier run sent without hearing back: their "
                "numbers are in the account and are kept, not bought again"
            )
        if self.held:
            lines.append(f"  {self.held} row(s) reported again, not sent (see the workbook)")
        if self.strict_held:
            lines.append(
                f"  {self.strict_held} valid row(s) not ordered: --strict is set and "
                f"{self.invalid} row(s) are invalid"
            )
        if self.hidden:
            lines.append(
                f"  {self.hidden} hidden row(s) left out, as Excel hides them "
                "(--include-hidden reads them)"
            )
        if not self.account_checked and not self.sandbox:
            lines.append("  the account was not checked (offline); --online lists the groups")
        if self.named_anyway:
            lines.append(
                f"  {self.named_anyway} of them already have a number by that name in the "
                "account: another is bought (--existing order)"
            )
        elif self.account_checked and self.to_order and not (self.found or self.recovered):
            lines.append("  the account was checked: no row to order has a number by its name yet")
        return lines

    def time_text(self) -> str:
        """``3 s at 10 requests/s``."""
        seconds = self.estimated_seconds
        took = format_duration(seconds) if seconds >= 0.5 else "under 1 s"
        text = f"{took} at {self.rate:g} requests/s"
        return text + " (assumed; --rate auto finds the API's own)" if self.rate_auto else text

    def cost_text(self) -> str:
        """``up to 65.00 (26 × 2.50)``."""
        price = self.price_per_number or 0.0
        return f"up to {self.estimated_cost or 0.0:,.2f} ({self.to_order} × {price:,.2f})"

    def facts(self) -> list[tuple[str, str | int]]:
        """(label, value) lines for the Summary sheet's Plan block."""
        facts: list[tuple[str, str | int]] = [
            ("Orders to send", self.to_order),
            ("Already provisioned", self.already),
            ("Released before, skipped", self.released),
            ("Found in the account", self.found),
            ("Sent before, found and kept", self.recovered),
            ("Reported again, not sent", self.held),
            ("Hidden rows left out", self.hidden),
            ("Not ordered (--strict)", self.strict_held),
            ("Account checked", "yes" if self.account_checked else "no (offline)"),
            ("Invalid (not ordered)", self.invalid),
            ("Likely no number", len(self.at_risk)),
            ("… with a fallback", self.rescued),
            ("Predicted to fail", self.predicted_failures),
            ("Rows with fallbacks", self.with_fallback),
            ("Estimated time", self.time_text()),
        ]
        if self.estimated_cost is not None:
            facts.append(("Estimated monthly cost", self.cost_text()))
        facts += [("Cap", line.removeprefix("cap: ")) for line in self.cap_lines()]
        return facts

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (``--json``)."""
        return {
            "to_order": self.to_order,
            "already": self.already,
            "released_before": self.released,
            "found_in_account": self.found,
            "recovered_from_account": self.recovered,
            "held": self.held,
            "hidden_left_out": self.hidden,
            "held_by_strict": self.strict_held,
            "named_in_account_ordered_anyway": self.named_anyway,
            "account_checked": self.account_checked,
            "invalid": self.invalid,
            "per_area": [_named(_AREA_KEYS, line) for line in self.per_area],
            "at_risk": [_named(_RISK_KEYS, line) for line in self.at_risk],
            "with_fallback": self.with_fallback,
            "predicted_failures": self.predicted_failures,
            "estimated_seconds": round(self.estimated_seconds, 1),
            "rate": self.rate,
            "estimated_monthly_cost": self.estimated_cost,
            "max_numbers": self.max_numbers,
            "max_cost": self.max_cost,
            "to_update": self.to_update,
            "not_updated": self.not_updated,
        }

    def _order_lines(self) -> list[str]:
        """One line per group and match type, with its expected area codes (most rows first)."""
        lines = []
        for group, match_type, count in self.per_group:
            head = f"  group {group:<10} {match_type_words(match_type):<16} {count:>6}"
            areas = sorted(
                ((-n, a) for g, m, a, n in self.per_area if (g, m) == (group, match_type))
            )
            if not areas:
                lines.append(head)
                continue
            shown = [a if n == -1 else f"{a} ×{-n}" for n, a in areas[:SHOWN_LINES]]
            if len(areas) > SHOWN_LINES:
                shown.append(f"… {len(areas) - SHOWN_LINES} more")
            head += "   area codes: "
            indent = " " * len(head)
            lines += textwrap.wrap(
                ", ".join(shown), width=96, initial_indent=head, subsequent_indent=indent
            )
        return lines

    def _risk_lines(self) -> list[str]:
        if not self.invalid and not self.at_risk:
            return []
        lines = [f"  predicted to fail: {self.predicted_failures} row(s)"]
        if self.invalid:
            lines.append(f"    {self.invalid} invalid row(s) will not be ordered")
        if self.at_risk:
            lines.append(
                f"    {len(self.at_risk)} row(s) will likely find no number, by the "
                f"numbering-plan data ({self.rescued} with a fallback):"
            )
        for row, why, fallbacks in self.at_risk:
            then = f" — if so, batchprov tries {fallbacks}" if fallbacks else ""
            lines.append(f"    row {row}: {why}{then}")
        return _shortened(lines, 3 + SHOWN_LINES)


def make_plan(
    orders: Sequence[OrderRequest],
    *,
    api_url: str,
    sandbox: bool,
    already: int,
    invalid: int,
    rate: float | None,
    rows: Sequence[CheckedRow] = (),
    price_per_number: float | None = None,
    dry_run: bool = False,
    found: int = 0,
    recovered: int = 0,
    released: int = 0,
    held: int = 0,
    account_checked: bool = False,
    max_numbers: int | None = None,
    max_cost: float | None = None,
    named_anyway: int = 0,
    strict_held: int = 0,
) -> Plan:
    """Count the orders per group and match type; ``rows`` (the rows to order) add the areas,
    the rows likely to find no number, and their fallbacks."""
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
        per_area=_per_area(rows),
        at_risk=_at_risk(rows),
        with_fallback=sum(1 for row in rows if row.fallbacks),
        rate_auto=rate is None,
        price_per_number=price_per_number,
        dry_run=dry_run,
        found=found,
        recovered=recovered,
        released=released,
        held=held,
        account_checked=account_checked,
        max_numbers=max_numbers,
        max_cost=max_cost,
        named_anyway=named_anyway,
        strict_held=strict_held,
        rows_to_order=tuple(sorted(row.excel_row for row in rows)),
    )


def _per_area(rows: Sequence[CheckedRow]) -> tuple[AreaLine, ...]:
    counts = Counter(
        (row.order.group_id, row.order.match_type.value, locality_of(row.order).area_codes())
        for row in rows
        if row.order is not None
    )
    return tuple((g, m, a, n) for (g, m, a), n in sorted(counts.items()))


def _at_risk(rows: Sequence[CheckedRow]) -> tuple[RiskLine, ...]:
    risks = []
    for row in rows:
        problem = locality_of(row.order).problem if row.order is not None else ""
        if problem:
            fallbacks = ", then ".join(f.label for f in row.fallbacks)
            risks.append((row.excel_row, problem, fallbacks))
    return tuple(risks)


_AREA_KEYS = ("group_id", "match_type", "area_codes", "rows")
_RISK_KEYS = ("row", "why", "fallbacks")


def _named(keys: tuple[str, ...], line: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(keys, line, strict=True))


def _shortened(lines: list[str], keep: int) -> list[str]:
    """At most ``keep`` lines, then how many more there are."""
    if len(lines) <= keep:
        return lines
    return [*lines[:keep], f"    … and {len(lines) - keep} more (see the Summary sheet)"]


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
