"""`batchprov serve`: a small web application over `batchprov.pipeline`."""

from __future__ import annotations

from batchprov.web.app import create_app

__all__ = ["create_app"]
