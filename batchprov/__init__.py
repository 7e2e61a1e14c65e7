"""batchprov: order call-tracking numbers for a spreadsheet of advertisers, exactly once.

Use it from Python the way the command line does::

    import batchprov

    report = batchprov.validate_file("advertisers.xlsx")
    report = batchprov.run_file("advertisers.xlsx", sandbox=True)
    print(report.counts(), report.output_path)
"""

from __future__ import annotations

from batchprov._version import __version__  # noqa: E402
from batchprov.errors import (  # noqa: E402
    BatchprovError,
    ConfigError,
    InputError,
    RunAborted,
)
from batchprov.models import Issue, RowResult, Severity, Status  # noqa: E402
from batchprov.order.runner import RunOptions  # noqa: E402
from batchprov.pipeline import check_file, run_file, validate_file  # noqa: E402
from batchprov.report import Report  # noqa: E402

__all__ = [
    "BatchprovError",
    "ConfigError",
    "InputError",
    "Issue",
    "Report",
    "RowResult",
    "RunAborted",
    "RunOptions",
    "Severity",
    "Status",
    "__version__",
    "check_file",
    "run_file",
    "validate_file",
]
