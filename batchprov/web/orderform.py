"""The order form: fallbacks, price per number and caps, as the page sends them and a job keeps.

`OrderOptions.parse` reads the form (or the confirm page's query) into options and the messages
of the fields that are wrong; `config` turns them into the `RunConfig` of the plan and the run,
so the plan the user confirms and the run that follows are built from the same values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from batchprov.config import RunConfig
from batchprov.models import Fallback
from batchprov.plan import Plan

__all__ = ["FALLBACK_CHOICES", "FALLBACK_FIELDS", "OrderOptions", "cap_problem"]

#: The form's three fallback selects, tried in this order.
FALLBACK_FIELDS = ("fallback1", "fallback2", "fallback3")
#: What each fallback kind does, as the form's drop-downs say it.
FALLBACK_CHOICES: tuple[tuple[str, str], ...] = (
    (Fallback.DROP_FILTER.value, "the same request without its area-code filter"),
    (Fallback.OVERLAY.value, "another area code serving the same place"),
    (Fallback.TOLLFREE.value, "a toll-free number"),
)
_KINDS = {kind.value: kind for kind in Fallback}


@dataclass(frozen=True, slots=True)
class OrderOptions:
    """How the user asked a job to be ordered (all optional)."""

    fallback: tuple[Fallback, ...] = ()
    price_per_number: float | None = None
    max_numbers: int | None = None
    max_cost: float | None = None

    @classmethod
    def parse(cls, form: Mapping[str, Any]) -> tuple[OrderOptions, dict[str, str]]:
        """The options of a submitted form, and a message per field that is wrong."""
        errors: dict[str, str] = {}
        kinds: list[Fallback] = []
        for name in FALLBACK_FIELDS:
            word = _text(form.get(name))
            if not word:
                continue
            kind = _KINDS.get(word)
            if kind is None:
                errors[name] = "Choose one of the fallbacks in the list."
            elif kind in kinds:
                errors[name] = f"{kind.value} is already chosen above; pick another or none."
            else:
                kinds.append(kind)
        price = _amount(form, "price_per_number", errors)
        cost = _amount(form, "max_cost", errors)
        count = _count(form, "max_numbers", errors)
        if cost is not None and price is None and "price_per_number" not in errors:
            errors["max_cost"] = "A cost cap needs the price per number, to count the cost."
        return cls(tuple(kinds), price, count, cost), errors

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderOptions:
        """Options stored with a job (see `as_json`); the stored values were checked."""
        options, _ = cls.parse(_fields(data))
        return options

    def as_json(self) -> dict[str, Any]:
        return {
            "fallback": [kind.value for kind in self.fallback],
            "price_per_number": self.price_per_number,
            "max_numbers": self.max_numbers,
            "max_cost": self.max_cost,
        }

    def fields(self) -> dict[str, str]:
        """The form fields that give these options back (hidden fields, links, refilled forms)."""
        return _fields(self.as_json())

    def config(self, base: RunConfig) -> RunConfig:
        """``base`` with these options."""
        return replace(
            base,
            fallback=self.fallback,
            price_per_number=self.price_per_number,
            max_numbers=self.max_numbers,
            max_cost=self.max_cost,
        )


def cap_problem(plan: Plan) -> str | None:
    """Why a plan is over one of its caps (`Plan.over_cap`: then nothing is ordered), in the
    page's words, or None."""
    if plan.over_cap() is None:
        return None
    cost = plan.estimated_cost
    if plan.max_numbers is not None and plan.to_order > plan.max_numbers:
        said = f"is for {plan.to_order} numbers, more than your cap of {plan.max_numbers}"
    else:
        said = (
            f"would cost up to {cost or 0:,.2f} a month, more than your cap of "
            f"{plan.max_cost or 0:,.2f}"
        )
    return f"This order {said}. Nothing will be ordered: raise the cap or order fewer rows."


def _fields(data: Mapping[str, Any]) -> dict[str, str]:
    kinds = list(data.get("fallback") or [])
    shown = {
        name: str(kinds[i]) if i < len(kinds) else "" for i, name in enumerate(FALLBACK_FIELDS)
    }
    for name in ("price_per_number", "max_numbers", "max_cost"):
        value = data.get(name)
        shown[name] = (
            "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        )
    return shown


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _amount(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> float | None:
    """An optional amount of money: 0 or more, at most two decimals' worth of sense."""
    text = _text(form.get(name)).replace(",", "").lstrip("$")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or len(text) > 20:
        errors[name] = "Write an amount of 0 or more, such as 2.50."
        return None
    return value


def _count(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    text = _text(form.get(name)).replace(",", "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        errors[name] = "Write a whole number of 0 or more, such as 250."
        return None
    return int(text)
