"""batchprov: order call-tracking numbers for a spreadsheet of advertisers, exactly once."""

from __future__ import annotations

__version__ = "0.1.0"
