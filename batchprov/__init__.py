"""batchprov: order call-tracking numbers for a spreadsheet of advertisers, exactly once.

Use it from Python the way the command line does::

    import batchprov
    from batchprov.sandbox import sandbox_session

    report = batchprov.validate_file("advertisers.xlsx")
    with sandbox_session() as sandbox:                  # a simulated API on loopback
        report = batchprov.run_file("advertisers.xlsx", api=sandbox.api)
    print(report.counts(), report.exit_code, report.output_path)

Names are imported on first use, so ``import batchprov`` (and the command line's ``--help``)
stays fast.
"""

from __future__ import annotations

from importlib import import_module

from batchprov._version import __version__

#: `typing.TYPE_CHECKING`, without importing `typing` (a process that only looks a number up
#: in `batchprov.numbering` needs nothing more than this package's root).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from batchprov.config import Api, Environment, Existing, RunConfig
    from batchprov.errors import (
        BatchprovError,
        CapExceeded,
        ConfigError,
        ConfirmationRefused,
        InputError,
        RunAborted,
    )
    from batchprov.models import CheckedRow, Issue, RowResult, Severity, Status
    from batchprov.order.options import RunOptions
    from batchprov.order.state import Progress
    from batchprov.pipeline import Checked, check_file, plan_run, run_file, validate_file
    from batchprov.plan import Plan
    from batchprov.report import Report, RunInfo

#: Each public name and the module that defines it.
_WHERE = {
    "Api": "batchprov.config",
    "Environment": "batchprov.config",
    "Existing": "batchprov.config",
    "RunConfig": "batchprov.config",
    "BatchprovError": "batchprov.errors",
    "CapExceeded": "batchprov.errors",
    "ConfigError": "batchprov.errors",
    "ConfirmationRefused": "batchprov.errors",
    "InputError": "batchprov.errors",
    "RunAborted": "batchprov.errors",
    "CheckedRow": "batchprov.models",
    "Issue": "batchprov.models",
    "RowResult": "batchprov.models",
    "Severity": "batchprov.models",
    "Status": "batchprov.models",
    "Progress": "batchprov.order.state",
    "RunOptions": "batchprov.order.options",
    "Checked": "batchprov.pipeline",
    "check_file": "batchprov.pipeline",
    "plan_run": "batchprov.pipeline",
    "run_file": "batchprov.pipeline",
    "validate_file": "batchprov.pipeline",
    "Plan": "batchprov.plan",
    "Report": "batchprov.report",
    "RunInfo": "batchprov.report",
}

__all__ = [
    "Api",
    "BatchprovError",
    "CapExceeded",
    "Checked",
    "CheckedRow",
    "ConfigError",
    "ConfirmationRefused",
    "Environment",
    "Existing",
    "InputError",
    "Issue",
    "Plan",
    "Progress",
    "Report",
    "RowResult",
    "RunAborted",
    "RunConfig",
    "RunInfo",
    "RunOptions",
    "Severity",
    "Status",
    "__version__",
    "check_file",
    "plan_run",
    "run_file",
    "validate_file",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'batchprov' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return __all__
