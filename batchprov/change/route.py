"""A number as the API shows it, seen as the columns of a batchprov sheet, and back.

The sheet's ``termination_number``, ``record_calls``, ``recording_message`` and
``whisper_message`` live in the number's ``call_routes.route`` (its ``features``): `row_fields`
reads them, `differences` compares them with a row's order, and `updated_body` makes the body
of a ``PUT /numbers/{id}``: the number as returned, with only the changed fields replaced.
"""

from __future__ import annotations

import copy
from typing import Any

from batchprov.models import OrderRequest

__all__ = ["ROUTE_FIELDS", "differences", "row_fields", "updated_body"]

#: The sheet columns a number's call route holds, in sheet order.
ROUTE_FIELDS = ("termination_number", "record_calls", "recording_message", "whisper_message")


def row_fields(data: dict[str, Any] | None) -> dict[str, str]:
    """The route columns of a number as sheet text (``yes``/``no`` for recording; '' unset)."""
    route = _route(data)
    features = _object(route.get("features"))
    record = _object(features.get("call_record")) if "call_record" in features else None
    whisper = _object(features.get("whisper")) if "whisper" in features else None
    recording = ""
    if record is not None:
        recording = "yes" if record.get("enabled") and record.get("record", True) else "no"
    whisper_text = ""
    if whisper is not None and whisper.get("enabled", True):
        whisper_text = _text(whisper.get("notification_text"))
    return {
        "termination_number": _text(route.get("termination_number")),
        "record_calls": recording,
        "recording_message": _text(record.get("notification_text")) if record else "",
        "whisper_message": whisper_text,
    }


def wanted_fields(order: OrderRequest) -> dict[str, str]:
    """The route columns a row asks for, as the same text as `row_fields` gives."""
    body = order.body()
    return row_fields({"call_routes": body["call_routes"]})


def differences(data: dict[str, Any] | None, order: OrderRequest) -> list[tuple[str, str, str]]:
    """(field, account's value, row's value) for each route column that differs.

    A column the row leaves blank (no recording asked, no whisper) differs only when the
    account has it set: an empty cell means "none", as it does when ordering.
    """
    have, want = row_fields(data), wanted_fields(order)
    return [
        (name, have[name], want[name])
        for name in ROUTE_FIELDS
        if _comparable(name, have[name]) != _comparable(name, want[name])
    ]


def updated_body(data: dict[str, Any], order: OrderRequest) -> dict[str, Any]:
    """The number as the API returned it, with the route's termination number and features
    replaced by the row's (everything else — name, SMS routes, route id — as it was)."""
    body = copy.deepcopy(data)
    wanted = order.body()["call_routes"]["route"]
    routes = body.setdefault("call_routes", {})
    if not isinstance(routes, dict):
        routes = body["call_routes"] = {}
    routes.setdefault("route_type", order.route_type)
    route = routes.setdefault("route", {})
    if not isinstance(route, dict):
        route = routes["route"] = {}
    route["termination_number"] = wanted["termination_number"]
    features = dict(route.get("features") or {}) if isinstance(route.get("features"), dict) else {}
    features.pop("call_record", None)
    features.pop("whisper", None)
    features.update(wanted.get("features", {}))
    if features:
        route["features"] = features
    else:
        route.pop("features", None)
    return body


def _comparable(name: str, value: str) -> str:
    """A value as compared: no recording is "no" or blank; a NANP number with or without +1."""
    if name == "record_calls":
        return "" if value == "no" else value
    if name == "termination_number":
        digits = "".join(c for c in value if c.isdigit())
        return digits[1:] if len(digits) == 11 and digits.startswith("1") else value
    return value


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _route(data: dict[str, Any] | None) -> dict[str, Any]:
    routes = data.get("call_routes") if isinstance(data, dict) else None
    route = routes.get("route") if isinstance(routes, dict) else None
    return route if isinstance(route, dict) else {}


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
