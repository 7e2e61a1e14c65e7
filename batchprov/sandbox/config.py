"""How a sandbox is set up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchprov.sandbox.faults import Faults

#: The group of the API documentation's examples comes first.
DEFAULT_GROUPS = (11623282, 11623283, 11623284, 11623285)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything that makes one sandbox differ from another.

    Attributes:
        token: the `x-organization-token` the sandbox accepts.
        groups: the number groups that exist; others answer 404.
        seed: makes number picks, ids and faults reproducible.
        stock: numbers per exchange (None: all 10,000), to make inventory run out.
        state_path: SQLite file keeping numbers across restarts; None keeps them in memory.
        faults: what goes wrong, and how often.
        page_size_max: the largest (and default) page of a listing.
    """

    token: str = "sandbox"
    groups: tuple[int, ...] = DEFAULT_GROUPS
    seed: int = 0
    stock: int | None = None
    state_path: Path | None = None
    faults: Faults = Faults()
    page_size_max: int = 10_000

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("a sandbox needs at least one group")
        if self.page_size_max < 1:
            raise ValueError(f"page_size_max must be positive, got {self.page_size_max}")
