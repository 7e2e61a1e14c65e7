"""The test suite's own layout: folders mirror the package, module names never collide."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_module_names_are_unique() -> None:
    """Every folder is on sys.path (conftest), so two test files must never share a name."""
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [] == [name for name, count in names.items() if count > 1]


def test_tests_mirror_the_stages() -> None:
    """Each stage of the package has its folder of tests."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir()}
    assert {"read", "check", "numbering", "order", "write", "sandbox", "web", "e2e"} <= folders
