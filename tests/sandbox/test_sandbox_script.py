"""Scripted sandbox faults: the next creates' and listings' outcomes, and a revoked token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_client import Api

from batchprov.sandbox import Faults, ListOutcome, Outcome, SandboxConfig, create_app

GROUP = 11623282
NUMBERS = f"/v3/api/groups/{GROUP}/numbers"
BODY: Any = {
    "name": "ABC Company",
    "phone_number_request": {"match_type": "tollfree"},
    "call_routes": {"route_type": "Basic", "route": {"termination_number": "4043993433"}},
}
CREATE = f"POST {NUMBERS.replace(str(GROUP), '{group_id}')}"


def api_with(faults: Faults = Faults(), timeout: float = 5.0) -> Api:  # noqa: B008 (frozen)
    """An in-process client of a fresh sandbox with these faults."""
    return Api(create_app(SandboxConfig(faults=faults)), timeout=timeout)


def created(api: Api) -> int:
    """How many numbers the sandbox has created."""
    return len(api.app.sandbox.ledger())


#: outcome → (status or exception, numbers created, the stats outcome)
CREATES: dict[str, tuple[int | type[Exception], int, str]] = {
    "ok": (200, 1, "200"),
    "503": (503, 0, "503"),
    "429": (429, 0, "429"),
    "500_after": (500, 1, "500"),
    "400": (400, 0, "400"),
    "401": (401, 0, "401"),
    "404": (404, 0, "404"),
    "garbled": (200, 1, "200"),
    "drop_after": (httpx.RemoteProtocolError, 1, "dropped"),
    "timeout_after": (httpx.ReadTimeout, 1, "unanswered"),
    "timeout_before": (httpx.ReadTimeout, 0, "unanswered"),
    "connect": (httpx.ConnectError, 0, "refused"),
    "late": (httpx.ReadTimeout, 1, "unanswered"),  # late_seconds 5 ≥ the client's 1 s
}


def test_every_create_outcome_can_be_scripted() -> None:
    """The table above names every create outcome there is."""
    assert set(CREATES) == {outcome.value for outcome in Outcome}


@pytest.mark.parametrize("outcome", list(CREATES))
def test_scripted_create_outcome(outcome: str) -> None:
    """Each scripted outcome gives its answer or connection error, and buys or not as it says."""
    expected, bought, counted = CREATES[outcome]
    api = api_with(Faults(script=(outcome,)), timeout=1.0)
    if isinstance(expected, int):
        assert api.post(NUMBERS, json=BODY).status_code == expected
    else:
        with pytest.raises(expected):
            api.post(NUMBERS, json=BODY)
    assert created(api) == bought
    assert api.app.sandbox.stats[f"{CREATE} {counted}"] == 1
    assert api.post(NUMBERS, json=BODY).status_code == 200  # the script is used up


def test_scripted_refusals_carry_retry_after_and_text() -> None:
    """Scripted 503 and 429 say when to come back; a scripted 404 names the group."""
    api = api_with(Faults(script=("503", "429", "404")))
    answers = [api.post(NUMBERS, json=BODY) for _ in range(3)]
    assert [a.headers.get("retry-after") for a in answers] == ["1", "1", None]
    assert answers[2].text == f"Group {GROUP} not found"


def test_garbled_answer_is_the_created_number_cut_short() -> None:
    """A garbled 200 is JSON cut off half way through the number the sandbox created."""
    api = api_with(Faults(script=("garbled",)))
    answer = api.post(NUMBERS, json=BODY)
    with pytest.raises(ValueError):
        answer.json()
    (entry,) = api.app.sandbox.ledger()
    assert answer.text.startswith(f'{{"id": {entry["id"]}, "name": "ABC Company"')


def test_script_comes_before_the_shares() -> None:
    """Scripted outcomes go first, in order; then the shares decide again."""
    api = api_with(Faults(error_503=1, script=("ok", "500_after")))
    statuses = [api.post(NUMBERS, json=BODY).status_code for _ in range(3)]
    assert (statuses, created(api)) == ([200, 500, 503], 2)


def test_script_is_not_spent_by_refused_or_other_requests() -> None:
    """Listings, and creates refused for their token, leave the create script as it was."""
    api = api_with(Faults(script=("503",)))
    assert api.get(NUMBERS).status_code == 200
    assert api.post(NUMBERS, json=BODY, headers={"x-organization-token": "no"}).status_code == 401
    assert api.post(NUMBERS, json=BODY).status_code == 503


def test_script_extends_a_live_sandbox() -> None:
    """`Sandbox.script` queues after what is already scripted; unknown names are refused."""
    api = api_with(Faults(script=("503",)))
    api.app.sandbox.script("429", "ok")
    assert api.app.sandbox.faults.script == ("503", "429", "ok")
    statuses = [api.post(NUMBERS, json=BODY).status_code for _ in range(3)]
    assert statuses == [503, 429, 200]
    with pytest.raises(ValueError, match="unknown outcome 'teapot'"):
        api.app.sandbox.script("teapot")
    with pytest.raises(ValueError, match="unknown outcome '500_after'"):
        api.app.sandbox.script_listings("500_after")


#: listing outcome → status or exception
LISTINGS: dict[str, int | type[Exception]] = {
    "ok": 200,
    "429": 429,
    "500": 500,
    "503": 503,
    "garbled": 200,
    "drop": httpx.RemoteProtocolError,
    "timeout": httpx.ReadTimeout,
    "connect": httpx.ConnectError,
}


def test_listing_script_answers_each_page_in_turn() -> None:
    """Scripted listing outcomes apply to the next listing pages, in order, then normal."""
    assert set(LISTINGS) == {outcome.value for outcome in ListOutcome}
    api = api_with(Faults(list_script=tuple(LISTINGS)), timeout=1.0)
    api.post(NUMBERS, json=BODY)
    for outcome, expected in LISTINGS.items():
        if isinstance(expected, int):
            answer = api.get(NUMBERS)
            assert answer.status_code == expected, outcome
            if outcome == "garbled":
                assert answer.text.startswith('{"results": [{"id":')
                with pytest.raises(ValueError):
                    answer.json()
        else:
            with pytest.raises(expected):
                api.get("/v3/api/numbers")
    assert api.get(NUMBERS).json()["paging"]["total"] == 1
    assert api.post(NUMBERS, json=BODY).status_code == 200  # creates were never scripted


def test_token_revoked_after_n_creates() -> None:
    """After N creates the token stops working for every request, until faults change."""
    api = api_with(Faults(revoke_token_after=2))
    assert [api.post(NUMBERS, json=BODY).status_code for _ in range(2)] == [200, 200]
    refused = api.post(NUMBERS, json=BODY)
    assert (refused.status_code, refused.text) == (
        401,
        "Unauthorized: the x-organization-token has been revoked",
    )
    assert api.get(NUMBERS).status_code == 401
    assert created(api) == 2
    api.app.sandbox.set_faults(Faults())
    assert api.get(NUMBERS).status_code == 200


def test_token_revoked_before_any_create() -> None:
    """revoke_token_after=0 leaves listings working until the first create arrives."""
    api = api_with(Faults(revoke_token_after=0))
    assert api.get(NUMBERS).status_code == 200
    assert api.post(NUMBERS, json=BODY).status_code == 401
    assert (api.get(NUMBERS).status_code, created(api)) == (401, 0)


def test_scripts_and_revocation_over_http() -> None:
    """PUT /_sandbox/faults sets scripts and revocation; GET shows what is still to come."""
    api = api_with()
    answer = api.put(
        "/_sandbox/faults",
        json={"script": ["503", "drop_after"], "list_script": ["drop"], "revoke_token_after": 5},
    )
    assert answer.status_code == 200
    assert (answer.json()["script"], answer.json()["list_script"]) == (
        ["503", "drop_after"],
        ["drop"],
    )
    assert api.post(NUMBERS, json=BODY).status_code == 503
    shown = api.get("/_sandbox/faults").json()
    assert (shown["script"], shown["list_script"], shown["revoke_token_after"]) == (
        ["drop_after"],
        ["drop"],
        5,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"script": ["503", "teapot"]}, "script: unknown outcome 'teapot'"),
        ({"script": "503"}, "script must be a list"),
        ({"list_script": ["drop_after"]}, "list_script: unknown outcome 'drop_after'"),
        ({"revoke_token_after": -1}, "revoke_token_after must not be negative"),
        ({"revoke_token_after": 1.5}, "revoke_token_after must be a whole number"),
        ({"revoke_token_after": True}, "revoke_token_after must be a whole number"),
    ],
)
def test_bad_scripts_are_refused_over_http(body: dict[str, Any], message: str) -> None:
    """A bad script or revocation count is a 400 naming the problem; the faults stay as set."""
    api = api_with(Faults(script=("429",)))
    answer = api.put("/_sandbox/faults", json=body)
    assert answer.status_code == 400 and message in answer.text
    assert api.get("/_sandbox/faults").json()["script"] == ["429"]
