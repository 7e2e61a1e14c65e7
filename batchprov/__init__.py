"""batchprov: order call-tracking numbers for a spreadsheet of advertisers, exactly once.

Use it from Python the way the command line does::

    import batchprov

    report = batchprov.validate_file("advertisers.xlsx")
    report = batchprov.run_file("advertisers.xlsx", sandbox=True)
    print(report.counts(), report.output_path)
"""

from __future__ import annotations

__version__ = "0.1.0"

from batchprov.errors import (  # noqa: E402
    BatchprovError,
    ConfigError,
    InputError,
    RunAborted,
)
from batchprov.models import Issue, Report, RowResult, Severity, Status  # noqa: E402
from batchprov.pipeline import check_file, run_file, validate_file  # noqa: E402
from batchprov.runner import RunOptions  # noqa: E402

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
