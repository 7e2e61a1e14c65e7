"""Reading the JSON body of a create or update request: every field checked and named.

Enum values are accepted in any case (the documentation itself writes `Basic` and `basic`,
`tollfree` and `Tollfree`) and answered in their canonical spelling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from batchprov.sandbox.errors import ApiError

MATCH_TYPES = ("localtonumber", "localtocity", "tollfree")
_NANP10 = re.compile(r"[2-9]\d{2}[2-9]\d{6}")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_FILTER = re.compile(r"\d{3}|\d{6}")
_STATE = re.compile(r"[A-Za-z]{2}")
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class Route:
    """A call route: its type, where calls go, and its features as sent."""

    route_type: str
    termination_number: str
    features: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Order:
    """A checked create request."""

    name: str
    match_type: str
    local_to_number: str | None
    city: str | None
    state: str | None
    number_match_filter: str | None
    route: Route
    sms_routes: dict[str, Any]
    features: dict[str, Any] | None


def bad(field: str, message: str) -> ApiError:
    """A 400 naming the field."""
    return ApiError(400, f"{field}: {message}")


def parse_json(raw: bytes) -> Any:
    """The decoded body, or 400 when it is not JSON."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Malformed JSON body: {exc}") from None


def read_order(body: Any) -> Order:
    """A create request from its JSON body; 400 naming the first bad field."""
    body = _object(body, "body")
    request = _object(body.get("phone_number_request"), "phone_number_request")
    if str(request.get("number_type", "")).casefold() == "international":
        raise bad("phone_number_request.number_type", "international numbers are not offered")
    match_type = _enum(request.get("match_type"), "phone_number_request.match_type", MATCH_TYPES)
    local = city = state = None
    if match_type == "localtonumber":
        local = _number(request.get("local_to_number"), "phone_number_request.local_to_number")
    elif match_type == "localtocity":
        city = _text(request.get("city"), "phone_number_request.city")
        state = _state(request.get("state"))
    return Order(
        name=read_name(body.get("name")),
        match_type=match_type,
        local_to_number=local,
        city=city,
        state=state,
        number_match_filter=_filter(request.get("number_match_filter")),
        route=read_route(body.get("call_routes")),
        sms_routes=read_sms_routes(body.get("sms_routes")),
        features=_optional_object(body.get("features"), "features"),
    )


def read_name(value: Any) -> str:
    """A non-empty name of at most MAX_NAME characters, trimmed."""
    name = _text(value, "name")
    if len(name) > MAX_NAME:
        raise bad("name", f"must be at most {MAX_NAME} characters")
    return name


def read_route(value: Any) -> Route:
    """The `call_routes` object: a Basic route with a termination number."""
    routes = _object(value, "call_routes")
    route_type = _enum(routes.get("route_type"), "call_routes.route_type", ("Basic",))
    route = _object(routes.get("route"), "call_routes.route")
    termination = route.get("termination_number")
    field = "call_routes.route.termination_number"
    if not isinstance(termination, str | int) or isinstance(termination, bool):
        raise bad(field, "is required (10 digits, or + and the international number)")
    termination = str(termination).strip()
    if not (_NANP10.fullmatch(termination) or _E164.fullmatch(termination)):
        raise bad(field, f"'{termination}' is not a 10-digit number or a +E.164 number")
    features = _optional_object(route.get("features"), "call_routes.route.features")
    return Route(route_type, termination, features)


def read_sms_routes(value: Any) -> dict[str, Any]:
    """The `sms_routes` object as sent, defaulting to no SMS routing."""
    routes = _optional_object(value, "sms_routes")
    return routes if routes else {"route_type": "None"}


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        raise bad(field, "is required")
    if not isinstance(value, dict):
        raise bad(field, "must be a JSON object")
    return value


def _optional_object(value: Any, field: str) -> dict[str, Any] | None:
    return None if value is None else _object(value, field)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(field, "is required (non-empty text)")
    return value.strip()


def _enum(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    text = _text(value, field)
    for choice in allowed:
        if text.casefold() == choice.casefold():
            return choice
    raise bad(field, f"'{text}' is not one of {', '.join(allowed)}")


def _number(value: Any, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    number = _text(value, field)
    if not _NANP10.fullmatch(number):
        raise bad(field, f"'{number}' is not a 10-digit North American number")
    return number


def _state(value: Any) -> str:
    field = "phone_number_request.state"
    state = _text(value, field)
    if not _STATE.fullmatch(state):
        raise bad(field, f"'{state}' is not a two-letter state/province code")
    return state.upper()


def _filter(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _FILTER.fullmatch(value.strip()):
        raise bad("phone_number_request.number_match_filter", f"'{value}' is not 3 or 6 digits")
    return value.strip()
