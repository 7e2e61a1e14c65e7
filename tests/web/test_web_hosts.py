"""The web page answers only its own Host (DNS rebinding) and refuses POSTs from other sites."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

from batchprov.web import create_app
from batchprov.web.cli import serve_command
from batchprov.web.security import allowed_hosts, host_allowed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "advertisers.csv"
OWN = "http://127.0.0.1:8000"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A sandbox server bound to 127.0.0.1:8000, as `serve` builds it."""
    app = create_app(
        data_dir=tmp_path / "data",
        sandbox=True,
        api_url=None,
        auth=None,
        hosts=allowed_hosts("127.0.0.1", 8000),
    )
    with TestClient(app, base_url=OWN) as test_client:
        yield test_client


def csrf(client: TestClient, host: str | None = None) -> str:
    headers = {"host": host} if host else {}
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/", headers=headers).text)
    assert found
    return found.group(1)


def post_upload(client: TestClient, headers: dict[str, str]) -> Any:
    data = {"group_id": "", "csrf_token": csrf(client)}
    files = {"file": ("advertisers.csv", EXAMPLE.read_bytes(), "text/csv")}
    return client.post("/upload", data=data, files=files, headers=headers, follow_redirects=False)


def test_allowed_hosts_are_the_bound_address_and_its_loopback_forms() -> None:
    """127.0.0.1:8000 answers as itself, localhost:8000 and [::1]:8000; nothing else."""
    hosts = allowed_hosts("127.0.0.1", 8000)
    assert {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"} <= hosts
    assert not host_allowed("evil.example", hosts)
    assert not host_allowed("evil.example:8000", hosts)
    assert not host_allowed("127.0.0.1:9000", hosts)
    assert not host_allowed(None, hosts)
    assert host_allowed("LOCALHOST:8000", hosts)


def test_extra_names_with_and_without_port() -> None:
    """--allow-host adds a name (on the bound port, or as given with a port)."""
    hosts = allowed_hosts("0.0.0.0", 8080, ["box.lan", "proxy.example:443"])
    assert host_allowed("box.lan:8080", hosts) and host_allowed("box.lan", hosts)
    assert host_allowed("proxy.example:443", hosts)
    assert not host_allowed("proxy.example:8080", hosts)
    assert host_allowed("localhost:8080", hosts)
    assert not host_allowed("0.0.0.0:8081", hosts)


def test_port_zero_allows_any_port_of_the_own_names() -> None:
    """Port 0 (the system picks): the own names on any port, still no other name."""
    hosts = allowed_hosts("127.0.0.1", 0)
    assert host_allowed("127.0.0.1:53122", hosts)
    assert not host_allowed("evil.example:53122", hosts)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000"])
def test_own_host_is_answered(client: TestClient, host: str) -> None:
    """The page answers its own Host values."""
    assert client.get("/", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1:1234", ""])
def test_foreign_host_gets_400(client: TestClient, host: str) -> None:
    """Any other Host is answered 400, on every path (health check included)."""
    for path in ("/", "/healthz", "/static/app.js"):
        response = client.get(path, headers={"host": host})
        assert response.status_code == 400
        assert "Unknown host" in response.text


def test_rebinding_attack_cannot_upload_order_or_download(client: TestClient) -> None:
    """upload → order → download with Host: evil.example is refused at the first step."""
    evil = {"host": "evil.example"}
    sent = post_upload(client, evil)
    assert sent.status_code == 400
    assert client.get("/jobs", headers=evil).status_code == 400
    jobs = list((client.app.state.web.data_dir).glob("**/*.csv"))  # type: ignore[attr-defined]
    assert jobs == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "http://127.0.0.1:9999"},
        {"origin": "null"},
        {"referer": "http://evil.example/page"},
    ],
)
def test_post_from_another_origin_gets_403(client: TestClient, headers: dict[str, str]) -> None:
    """A POST whose Origin (or, without one, Referer) is another site is refused with 403."""
    response = post_upload(client, headers)
    assert response.status_code == 403
    assert "another site" in response.text


@pytest.mark.parametrize(
    "headers", [{"origin": OWN}, {"origin": "http://localhost:8000"}, {"referer": f"{OWN}/"}, {}]
)
def test_post_from_the_page_itself_goes_through(
    client: TestClient, headers: dict[str, str]
) -> None:
    """The page's own Origin, a loopback form of it, or no Origin at all are accepted."""
    response = post_upload(client, headers)
    assert response.status_code == 303, response.text


def test_without_allow_list_origin_must_match_host(tmp_path: Path) -> None:
    """A library-built app without a Host list still refuses a foreign Origin."""
    app = create_app(data_dir=tmp_path / "data", sandbox=True, api_url=None, auth=None)
    with TestClient(app) as plain:
        token = csrf(plain)
        data = {"group_id": "", "csrf_token": token}
        files = {"file": ("advertisers.csv", EXAMPLE.read_bytes(), "text/csv")}
        refused = plain.post(
            "/upload", data=data, files=files, headers={"origin": "http://evil.example"}
        )
        assert refused.status_code == 403
        same = plain.post(
            "/upload",
            data=data,
            files=files,
            headers={"origin": "http://testserver"},
            follow_redirects=False,
        )
        assert same.status_code == 303


def test_serve_builds_the_allow_list_from_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --host --port --allow-host` hands the app exactly those Host values."""
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    args = ["--port", "8123", "--sandbox", "--data-dir", str(tmp_path), "--allow-host", "box.lan"]
    result = CliRunner().invoke(serve_command, args)
    assert result.exit_code == 0, result.output
    with TestClient(served["app"], base_url="http://127.0.0.1:8123") as app_client:
        assert app_client.get("/", headers={"host": "box.lan:8123"}).status_code == 200
        assert app_client.get("/", headers={"host": "localhost:8123"}).status_code == 200
        assert app_client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_pages_keep_their_origin_on_own_posts(client: TestClient) -> None:
    """Referrer-Policy same-origin: the page's own form posts carry its Origin (not "null")."""
    assert client.get("/").headers["referrer-policy"] == "same-origin"
