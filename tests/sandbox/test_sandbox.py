"""The sandbox API: endpoints, matching on real numbering-plan data, names, paging, state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_client import AUTH, Api

from batchprov.numbering import nanp
from batchprov.sandbox import SandboxConfig, create_app, serve_in_thread

GROUP = 11623282
NUMBERS = f"/v3/api/groups/{GROUP}/numbers"


def body(name: str = "ABC Company", termination: str = "4165551234", **request: Any) -> Any:
    """A create body in the shape of the documentation examples."""
    request.setdefault("match_type", "tollfree")
    return {
        "name": name,
        "phone_number_request": request,
        "call_routes": {"route_type": "Basic", "route": {"termination_number": termination}},
    }


def local(number: str = "9056372046", **extra: Any) -> Any:
    """A localtonumber body."""
    return body(match_type="localtonumber", local_to_number=number, **extra)


def city(name: str, state: str, **extra: Any) -> Any:
    """A localtocity body."""
    return body(match_type="localtocity", city=name, state=state, **extra)


def client(**config: Any) -> Api:
    """An in-process client of a fresh sandbox."""
    return Api(create_app(SandboxConfig(**config)))


def create(api: Api, payload: Any, group: int = GROUP) -> dict[str, Any]:
    """Create a number and return it, failing the test on any non-200."""
    response = api.post(f"/v3/api/groups/{group}/numbers", json=payload)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- the documentation examples ---------------------------------------------------------------


def test_doc_example_local_to_number_overlay() -> None:
    """9056372046 with filter 289 gives a 289 number of Burlington, ON, shaped like the docs."""
    number = create(client(), local(number_match_filter="289"))
    assert number["phone_number"].startswith("289")
    assert str(nanp.place_of(number["phone_number"])) == "Burlington, ON"
    assert number["id"] == 8660466 and number["group_id"] == GROUP
    assert number["status"] == "Active" and number["name"] == "ABC Company"
    assert number["created_datetime"].endswith("Z") and "modified_datetime" in number
    assert number["sms_routes"] == {"route_type": "None"}
    assert number["call_routes"] == {
        "route_type": "Basic",
        "route": {"id": 30474073, "termination_number": "4165551234"},
    }


def test_doc_example_local_to_city() -> None:
    """atlanta/ga with filter 404 gives a 404 number of Atlanta, GA."""
    number = create(client(), city("atlanta", "ga", number_match_filter="404"))
    assert number["phone_number"].startswith("404")
    assert str(nanp.place_of(number["phone_number"])) == "Atlanta, GA"


def test_doc_example_tollfree() -> None:
    """tollfree with filter 833 gives an 833 number."""
    number = create(client(), body(match_type="tollfree", number_match_filter="833"))
    assert number["phone_number"].startswith("833") and len(number["phone_number"]) == 10


# -- matching -------------------------------------------------------------------------------


def test_local_to_number_without_filter() -> None:
    """Without a filter the number is in the same rate centre, any of its area codes."""
    api = client()
    for _ in range(20):
        number = create(api, local())["phone_number"]
        assert str(nanp.place_of(number)) == "Burlington, ON"
        assert number != "9056372046"


def test_local_to_number_six_digit_filter() -> None:
    """A 6-digit filter gives a number of exactly that exchange."""
    number = create(client(), local(number_match_filter="905637"))["phone_number"]
    assert number.startswith("905637")


@pytest.mark.parametrize("filter_", ["212", "212555", "905100", "833"])
def test_local_to_number_filter_not_local(filter_: str) -> None:
    """A filter that does not serve the rate centre is a 400 saying what did not match."""
    response = client().post(NUMBERS, json=local(number_match_filter=filter_))
    assert response.status_code == 400
    assert f"No numbers available local to 9056372046 matching {filter_}" in response.text


def test_local_to_number_region_only_exchange() -> None:
    """A number whose rate centre the data does not name still gets its own exchange."""
    assert nanp.place_of("2033201234") is None
    number = create(client(), local("2033201234"))["phone_number"]
    assert number.startswith("203320")


def test_local_to_number_tollfree_is_no_match() -> None:
    """A toll-free number has no local numbers."""
    response = client().post(NUMBERS, json=local("8005551234"))
    assert response.status_code == 400 and "toll-free" in response.text


def test_local_to_city_filters() -> None:
    """localtocity without filter, with a 3-digit and with a 6-digit filter."""
    api = client()
    atlanta = nanp.find_place("Atlanta", "GA")
    assert nanp.place_of(create(api, city("Atlanta", "GA"))["phone_number"]) == atlanta
    three = create(api, city("Atlanta", "GA", number_match_filter="678"))["phone_number"]
    assert three.startswith("678")
    six = create(api, city("ATLANTA", "ga", number_match_filter="404209"))["phone_number"]
    assert six.startswith("404209")


@pytest.mark.parametrize(
    ("name", "state", "expected"),
    [
        ("St. Louis", "MO", "St. Louis, MO"),
        ("Saint Louis", "mo", "St. Louis, MO"),
        ("Montréal", "QC", "Montreal, QC"),
        ("  burlington ", "on", "Burlington, ON"),
    ],
)
def test_local_to_city_tolerant_spelling(name: str, state: str, expected: str) -> None:
    """City names are matched ignoring case, accents, spacing and St./Saint."""
    number = create(client(), city(name, state))["phone_number"]
    assert str(nanp.place_of(number)) == expected


def test_local_to_city_unknown_city_suggests() -> None:
    """An unknown city is a 400 that names it and suggests close names."""
    response = client().post(NUMBERS, json=city("Atlnta", "GA"))
    assert response.status_code == 400
    assert "No numbers available in Atlnta, GA" in response.text and "Atlanta" in response.text


def test_local_to_city_filter_elsewhere() -> None:
    """A filter of another place is a 400 naming the filter."""
    response = client().post(NUMBERS, json=city("Atlanta", "GA", number_match_filter="212"))
    assert response.status_code == 400
    assert "No numbers available in Atlanta, GA matching 212" in response.text


def test_tollfree_filters() -> None:
    """Toll-free numbers come from the seven toll-free area codes; filters are honoured."""
    api = client()
    assert create(api, body())["phone_number"][:3] in nanp.TOLLFREE_NPAS
    assert create(api, body(number_match_filter="888"))["phone_number"].startswith("888")
    assert create(api, body(number_match_filter="833201"))["phone_number"].startswith("833201")
    response = api.post(NUMBERS, json=body(number_match_filter="404"))
    assert response.status_code == 400
    assert "No toll-free numbers available matching 404" in response.text


def test_never_handed_out_twice() -> None:
    """Numbers held are unique, even when one exchange serves every request until it runs out."""
    app = create_app(SandboxConfig(stock=400))
    numbers = [
        app.sandbox.create_number(GROUP, body(number_match_filter="833201"))["phone_number"]
        for _ in range(400)
    ]
    assert len(set(numbers)) == 400
    response = Api(app).post(NUMBERS, json=body(number_match_filter="833201"))
    assert response.status_code == 400 and "sold out" in response.text


def test_exhaustion_and_release() -> None:
    """With a small stock the exchange runs out (400), and a released number is sold again."""
    api = client(stock=2)
    first = create(api, local(number_match_filter="905637"))
    create(api, local(number_match_filter="905637"))
    response = api.post(NUMBERS, json=local(number_match_filter="905637"))
    assert response.status_code == 400
    assert "matching 905637" in response.text and "sold out" in response.text
    assert api.delete(f"/v3/api/numbers/{first['id']}").status_code == 200
    again = create(api, local(number_match_filter="905637"))
    assert again["phone_number"] == first["phone_number"]


# -- names, enums, validation ------------------------------------------------------------------


def test_name_suffixing() -> None:
    """A name in use in the group gets the smallest free suffix from 2; other groups are apart."""
    api = client()
    names = [create(api, body())["name"] for _ in range(3)]
    assert names == ["ABC Company", "ABC Company 2", "ABC Company 3"]
    assert create(api, body(), group=11623283)["name"] == "ABC Company"
    second = api.get(f"{NUMBERS}?pagesize=2&pagenumber=1").json()["results"][1]
    api.delete(f"/v3/api/numbers/{second['id']}")
    assert create(api, body())["name"] == "ABC Company 2"
    assert create(api, body())["name"] == "ABC Company 4"


def test_preseeded_number_forces_suffix() -> None:
    """A number created directly on the state object counts as a name in use."""
    app = create_app(SandboxConfig())
    app.state.sandbox.create_number(GROUP, body("Joe's Pizza"))
    api = Api(app)
    assert create(api, body("Joe's Pizza"))["name"] == "Joe's Pizza 2"


def test_enums_any_case() -> None:
    """Match types and route types are accepted in any case, answered canonically."""
    api = client()
    payload = body(match_type="Tollfree")
    payload["call_routes"]["route_type"] = "basic"
    assert create(api, payload)["call_routes"]["route_type"] == "Basic"
    create(api, body(match_type="LocalToNumber", local_to_number="9056372046"))
    create(api, body(match_type="LOCALTOCITY", city="Atlanta", state="GA"))


def test_features_echoed() -> None:
    """Route features and top-level features are echoed on the route and the number."""
    payload = body()
    features = {"call_record": {"enabled": True, "record": True}}
    payload["call_routes"]["route"]["features"] = features
    payload["features"] = {"call_verify": {"enabled": True, "key_press": 1}}
    number = create(client(), payload)
    assert number["call_routes"]["route"]["features"] == features
    assert number["features"]["call_verify"]["key_press"] == 1


def _without(path: str) -> Any:
    payload = local(number_match_filter="289")
    *parents, last = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    del target[last]
    return payload


def _with(path: str, value: Any) -> Any:
    payload = city("Atlanta", "GA")
    *parents, last = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    target[last] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_without("name"), "name"),
        (_with("name", "   "), "name"),
        (_without("phone_number_request"), "phone_number_request"),
        (_without("phone_number_request.match_type"), "phone_number_request.match_type"),
        (_with("phone_number_request.match_type", "nearby"), "phone_number_request.match_type"),
        (_without("phone_number_request.local_to_number"), "local_to_number"),
        (_with("phone_number_request.state", "Georgia"), "phone_number_request.state"),
        (_with("phone_number_request.city", ""), "phone_number_request.city"),
        (_with("phone_number_request.number_match_filter", "40"), "number_match_filter"),
        (_without("call_routes"), "call_routes"),
        (_with("call_routes.route_type", "KeyPress"), "call_routes.route_type"),
        (_without("call_routes.route.termination_number"), "termination_number"),
        (_with("call_routes.route.termination_number", "555-1234"), "termination_number"),
        ([1, 2], "body"),
    ],
)
def test_invalid_body_names_field(payload: Any, field: str) -> None:
    """A missing or invalid field is a 400 whose text names the field."""
    response = client().post(NUMBERS, json=payload)
    assert response.status_code == 400
    assert field in response.text


def test_malformed_json() -> None:
    """A body that is not JSON is a 400 saying so."""
    response = client().post(NUMBERS, content=b"{not json")
    assert response.status_code == 400 and "Malformed JSON" in response.text


# -- auth, groups, ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", NUMBERS),
        ("GET", NUMBERS),
        ("GET", "/v3/api/numbers"),
        ("GET", "/v3/api/numbers/8660466"),
        ("PUT", "/v3/api/numbers/8660466"),
        ("DELETE", "/v3/api/numbers/8660466"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_token_required(method: str, path: str, token: str | None) -> None:
    """Every API call without the right x-organization-token is a 401."""
    api = Api(create_app(SandboxConfig()), headers={})
    headers = {"x-organization-token": token} if token else {}
    response = api.request(method, path, json=body(), headers=headers)
    assert response.status_code == 401
    assert "x-organization-token" in response.text


def test_custom_token() -> None:
    """The sandbox accepts its configured token and no other."""
    api = Api(create_app(SandboxConfig(token="s3cret")), headers={})
    assert api.get("/v3/api/numbers", headers=AUTH).status_code == 401
    assert api.get("/v3/api/numbers", headers={"x-organization-token": "s3cret"}).status_code == 200


def test_unknown_group_and_number() -> None:
    """An unknown group or number id is a 404."""
    api = client(groups=(42,))
    assert api.post("/v3/api/groups/11623282/numbers", json=body()).status_code == 404
    assert api.get("/v3/api/groups/7/numbers").status_code == 404
    assert create(api, body(), group=42)["group_id"] == 42
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, "/v3/api/numbers/1", json={"name": "x"})
        assert response.status_code == 404


# -- other endpoints ----------------------------------------------------------------------------


def test_get_put_delete_number() -> None:
    """GET shows a number; PUT renames and reroutes it (route id kept); DELETE releases it."""
    api = client()
    number = create(api, body())
    path = f"/v3/api/numbers/{number['id']}"
    assert api.get(path).json() == number
    route = {"route_type": "basic", "route": {"termination_number": "4165550000"}}
    changed = api.put(path, json={"name": "Renamed", "call_routes": route}).json()
    assert changed["name"] == "Renamed" and changed["phone_number"] == number["phone_number"]
    assert changed["call_routes"]["route"] == {
        "id": number["call_routes"]["route"]["id"],
        "termination_number": "4165550000",
    }
    assert api.put(path, json={"call_routes": {"route": {}}}).status_code == 400
    assert api.get(path).json()["name"] == "Renamed"
    deleted = api.delete(path)
    assert deleted.status_code == 200 and deleted.json()["status"] == "Inactive"
    assert api.get(path).status_code == 404
    assert api.get(NUMBERS).json()["paging"]["total"] == 0


def test_put_name_collision_suffixes() -> None:
    """Renaming to a name in use gets a suffix, as creating does."""
    api = client()
    create(api, body("Taken"))
    other = create(api, body("Other"))
    renamed = api.put(f"/v3/api/numbers/{other['id']}", json={"name": "Taken"}).json()
    assert renamed["name"] == "Taken 2"


def test_paging() -> None:
    """Listings page by id ascending, either parameter casing; past the end is empty."""
    api = client()
    ids = [create(api, body(f"N{i}"))["id"] for i in range(5)]
    page = api.get(f"{NUMBERS}?pagesize=2&pagenumber=2").json()
    assert [n["id"] for n in page["results"]] == ids[2:4]
    assert page["paging"] == {"pageNumber": 2, "pageSize": 2, "total": 5}
    last = api.get(f"{NUMBERS}?pageSize=2&pageNumber=3").json()
    assert [n["id"] for n in last["results"]] == ids[4:]
    beyond = api.get(f"{NUMBERS}?pagesize=2&pagenumber=9").json()
    assert beyond == {"results": [], "paging": {"pageNumber": 9, "pageSize": 2, "total": 5}}
    default = api.get(NUMBERS).json()
    assert default["paging"] == {"pageNumber": 1, "pageSize": 10000, "total": 5}
    assert api.get(f"{NUMBERS}?pagesize=50000").json()["paging"]["pageSize"] == 10000
    assert api.get(f"{NUMBERS}?pagesize=0").status_code == 400
    assert api.get(f"{NUMBERS}?pagenumber=x").status_code == 400


def test_list_all_groups() -> None:
    """GET /numbers lists every group's numbers; a group listing only its own."""
    api = client()
    create(api, body("A"))
    create(api, body("B"), group=11623283)
    everything = api.get("/v3/api/numbers").json()
    assert [n["group_id"] for n in everything["results"]] == [GROUP, 11623283]
    assert api.get(NUMBERS).json()["paging"]["total"] == 1


def test_ledger_and_stats() -> None:
    """The ledger keeps every number with its request; stats count route and status."""
    api = client()
    payload = body()
    created = create(api, payload)
    create(api, body())
    api.delete(f"/v3/api/numbers/{created['id']}")
    api.post(NUMBERS, json={})
    ledger = api.get("/_sandbox/ledger").json()
    assert [entry["name"] for entry in ledger] == ["ABC Company", "ABC Company 2"]
    assert ledger[0]["request"] == payload and ledger[0]["released"] is True
    assert ledger[1]["requested_name"] == "ABC Company" and ledger[1]["released"] is False
    assert set(ledger[0]) >= {"id", "group_id", "phone_number", "created_datetime"}
    stats = api.get("/_sandbox/stats").json()
    assert stats["POST /v3/api/groups/{group_id}/numbers 200"] == 2
    assert stats["POST /v3/api/groups/{group_id}/numbers 400"] == 1
    assert stats["DELETE /v3/api/numbers/{number_id} 200"] == 1


def test_async_client_in_process() -> None:
    """httpx.AsyncClient over ASGITransport reaches the same application without a port."""

    async def order() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(SandboxConfig()))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sandbox/v3/api", headers=AUTH
        ) as api:
            posts = [api.post(f"/groups/{GROUP}/numbers", json=body(f"R{i}")) for i in range(20)]
            return [r.status_code for r in await asyncio.gather(*posts)]

    assert asyncio.run(order()) == [200] * 20


# -- determinism and state ----------------------------------------------------------------------


def _run(seed: int) -> list[tuple[int, str]]:
    api = client(seed=seed)
    payloads = [local(), city("Atlanta", "GA"), body(), local(number_match_filter="289")]
    return [(n["id"], n["phone_number"]) for n in (create(api, p) for p in payloads * 3)]


def test_deterministic_by_seed() -> None:
    """The same seed and requests give the same ids and numbers; another seed differs."""
    assert _run(3) == _run(3)
    assert [n for _, n in _run(3)] != [n for _, n in _run(4)]
    assert _run(0)[0][0] == 8660466 and _run(3)[0][0] != 8660466


def test_state_survives_restart(tmp_path: Path) -> None:
    """With a state file, numbers, names, ids and used-up stock survive a restart."""
    config = SandboxConfig(state_path=tmp_path / "sandbox.sqlite", stock=1)
    with serve_in_thread(config) as server, httpx.Client(headers=AUTH) as api:
        url = f"{server.url}/groups/{GROUP}/numbers"
        first = api.post(url, json=local(number_match_filter="905637"))
        assert first.status_code == 200
        second = api.post(url, json=body("Toll"))
        api.delete(f"{server.url}/numbers/{second.json()['id']}")
    app = create_app(config)
    try:
        api2 = Api(app)
        listed = api2.get(NUMBERS).json()
        assert listed["results"] == [first.json()]
        exhausted = api2.post(NUMBERS, json=local(number_match_filter="905637"))
        assert exhausted.status_code == 400  # the exchange's one number is still sold
        again = create(api2, body("ABC Company"))
        assert again["name"] == "ABC Company 2" and again["id"] == second.json()["id"] + 1
        assert len(api2.get("/_sandbox/ledger").json()) == 3
    finally:
        app.sandbox.close()


def test_memory_state_is_fresh() -> None:
    """Without a state file every sandbox starts empty."""
    create(client(), body())
    assert client().get(NUMBERS).json()["paging"]["total"] == 0
