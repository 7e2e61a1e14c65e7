"""Shared test fixtures. Fixtures used by one test module live in that module."""

from __future__ import annotations

import os

# Tests never ask the real API and never read a user's journal.
os.environ.pop("TELMETRICS_TOKEN", None)
os.environ.pop("TELMETRICS_API_URL", None)
os.environ.pop("BATCHPROV_JOURNAL", None)
