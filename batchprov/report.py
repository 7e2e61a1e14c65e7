"""What a command returns: the facts of the run (`RunInfo`) and every row's result (`Report`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchprov.models import CLEAN, Issue, RowResult, Status
from batchprov.plan import Plan

__all__ = ["Report", "RunInfo"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Facts about a run for the Summary sheet and the final summary."""

    mode: str  # "validate", "dry-run" or "run"
    input_name: str
    input_sha256: str
    api_url: str | None
    sandbox: bool
    started_at: str
    ended_at: str
    tool_version: str
    stopped_reason: str | None = None
    plan: Plan | None = None  # what the run set out to order (dry runs and runs)


@dataclass(frozen=True, slots=True)
class Report:
    """What a validate or run call returns: every row's result and every problem found."""

    info: RunInfo
    results: tuple[RowResult, ...]
    issues: tuple[Issue, ...]
    output_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The file of the rows needing attention alone (``--failed-only``), when asked.
    failed_only_path: Path | None = None

    def counts(self) -> dict[str, int]:
        """Rows per status, in the order of ``Status``."""
        seen = Counter(r.status for r in self.results)
        return {s.value: seen[s] for s in Status if seen[s]}

    @property
    def exit_code(self) -> int:
        """0 all clean, 1 some rows invalid or failed (an update or release of a number
        included), 3 the run was cut short."""
        if self.info.stopped_reason:
            return 3
        clean = all(r.status in CLEAN and not r.change_failed for r in self.results)
        return 0 if clean else 1
