"""PUT and DELETE of one number: the create's validation and faults, recorded in the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_client import Api
from test_sandbox import body, client, create

from batchprov.sandbox import Faults

DELETES = "DELETE /v3/api/numbers/{number_id}"
PUTS = "PUT /v3/api/numbers/{number_id}"


def rerouted(number: dict[str, Any], termination: str = "9055550000") -> dict[str, Any]:
    """The number as read, with another termination number (what batchprov sends)."""
    changed = {**number, "call_routes": {**number["call_routes"]}}
    changed["call_routes"]["route"] = {**number["call_routes"]["route"]}
    changed["call_routes"]["route"]["termination_number"] = termination
    return changed


def test_update_recorded_with_its_request() -> None:
    """A PUT of the number as read, one field changed, changes only that and is in the ledger."""
    api = client()
    number = create(api, body(termination="4165551234"))
    path = f"/v3/api/numbers/{number['id']}"
    sent = rerouted(api.get(path).json())
    answer = api.put(path, json=sent).json()
    assert answer["call_routes"]["route"]["termination_number"] == "9055550000"
    assert (answer["name"], answer["phone_number"]) == (number["name"], number["phone_number"])
    (entry,) = api.get("/_sandbox/ledger").json()
    assert [c["action"] for c in entry["changes"]] == ["update"]
    assert entry["changes"][0]["request"] == sent


@pytest.mark.parametrize("field", ["id", "group_id", "phone_number"])
def test_update_cannot_change_what_a_number_is(field: str) -> None:
    """A PUT that changes the id, group or phone number is a 400 naming the field."""
    api = client()
    number = create(api, body())
    sent = {**number, field: 2125550000 if field != "group_id" else 11623283}
    answer = api.put(f"/v3/api/numbers/{number['id']}", json=sent)
    assert answer.status_code == 400 and field in answer.text
    assert api.get("/_sandbox/ledger").json()[0]["changes"] == []


def test_503_changes_nothing() -> None:
    """A 503 to a PUT or DELETE applies nothing."""
    api = client()
    number = create(api, body())
    path = f"/v3/api/numbers/{number['id']}"
    api.app.sandbox.set_faults(Faults(error_503=1.0))
    assert api.put(path, json=rerouted(number)).status_code == 503
    assert api.delete(path).status_code == 503
    api.app.sandbox.set_faults(Faults())
    entry = api.get("/_sandbox/ledger").json()[0]
    assert (entry["changes"], entry["released"]) == ([], False)


def test_drop_after_the_change_applies_it() -> None:
    """A dropped DELETE released the number: a GET then says 404, and the ledger says so."""
    api = client()
    number = create(api, body())
    path = f"/v3/api/numbers/{number['id']}"
    api.app.sandbox.set_faults(Faults(drop_after_create=1.0))
    with pytest.raises(Exception, match="disconnected"):
        api.delete(path)
    api.app.sandbox.set_faults(Faults())
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404
    entry = api.get("/_sandbox/ledger").json()[0]
    assert entry["released"] and [c["action"] for c in entry["changes"]] == ["release"]
    stats: dict[str, int] = api.get("/_sandbox/stats").json()
    assert stats[f"{DELETES} dropped"] == 1 and stats[f"{DELETES} 404"] == 1


def test_unknown_number_is_404_for_every_method() -> None:
    """GET, PUT and DELETE of an id the sandbox never made answer 404."""
    api: Api = client()
    for method in ("GET", "PUT", "DELETE"):
        kwargs = {"json": {}} if method == "PUT" else {}
        assert api.request(method, "/v3/api/numbers/1", **kwargs).status_code == 404
