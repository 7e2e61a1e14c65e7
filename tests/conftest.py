"""Shared test fixtures. Fixtures used by one test module live in that module."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Tests never ask the real API and never read a user's journal.
os.environ.pop("TELMETRICS_TOKEN", None)
os.environ.pop("TELMETRICS_API_URL", None)
os.environ.pop("BATCHPROV_JOURNAL", None)

# Test modules share helpers across folders (e.g. `from test_checks import check`): every
# folder of the suite is importable whichever tests are selected.
_HERE = Path(__file__).parent
sys.path[:0] = [str(d) for d in sorted(_HERE.iterdir()) if d.is_dir() and d.name.isidentifier()]


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default journal (in the user's data directory) is a fresh one in every test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


# The numbering-plan cache goes to a folder of this test session, shared with the processes the
# tests start, never to the user's cache.
if "BATCHPROV_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="batchprov-test-cache-")
    os.environ["BATCHPROV_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
