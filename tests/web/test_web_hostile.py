"""The web page survives hostile uploads: each is one clear 400, and the next upload works."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_files import damaged_xls, lying_dimension_xlsx, xfd_xlsx
from starlette.testclient import TestClient
from test_web import client, good_file, job_url, upload

__all__ = ["client", "good_file"]  # fixtures used below

_HOSTILE: dict[str, Callable[[Path], Path]] = {
    "xfd": xfd_xlsx,
    "lying": lying_dimension_xlsx,
    "damaged-xls": damaged_xls,
}


@pytest.mark.parametrize("kind", list(_HOSTILE))
def test_hostile_uploads_are_refused_and_the_server_survives(
    client: TestClient, tmp_path: Path, good_file: Path, kind: str
) -> None:
    """A file that would abort the parser is one clear message; the next upload is read."""
    path = _HOSTILE[kind](tmp_path)
    response = upload(client, path, name=f"advertisers{path.suffix}")
    assert response.status_code == 400
    assert f"advertisers{path.suffix} could not be read: " in response.text
    assert "Traceback" not in response.text
    page = client.get(job_url(upload(client, good_file)))
    assert page.status_code == 200


def test_utf16_csv_uploads_are_read(client: TestClient, tmp_path: Path) -> None:
    """Excel's "Unicode Text" (UTF-16, tab separated) is accepted and reviewed."""
    rows = [["name", "group_id", "match_type", "termination_number"]]
    rows += [["Café Olé", "11623282", "tollfree", "4165551234"]]
    text = "".join("\t".join(row) + "\r\n" for row in rows)
    path = tmp_path / "list.txt"
    path.write_bytes(text.encode("utf-16"))
    page = client.get(job_url(upload(client, path)))
    assert "Café Olé" in page.text
    assert "ready to order" in page.text
