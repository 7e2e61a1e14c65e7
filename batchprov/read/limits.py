"""How much a single input file may cost to read: the reader child's limits and the size checks.

Every input is parsed in a child process (see `isolate`), under an address-space limit, a CPU
limit and a wall-clock timeout; before the parser starts, a workbook's zip directory (or an
.xls's compound-file structure) and declared sheet sizes are checked against the size limits.
The defaults read a 500,000-row workbook comfortably; three of them can be changed from the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from batchprov.errors import ConfigError

__all__ = ["ENV_NAMES", "ReadLimits"]

#: environment variable → the ReadLimits field it sets.
ENV_NAMES: dict[str, str] = {
    "BATCHPROV_READ_MEMORY_MB": "memory_mb",
    "BATCHPROV_READ_CPU_SECONDS": "cpu_seconds",
    "BATCHPROV_READ_TIMEOUT_SECONDS": "timeout_seconds",
}


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """The limits of reading one file.

    Attributes:
        memory_mb: memory the reader child may allocate, beyond what it starts with.
        cpu_seconds: CPU time the reader child may use.
        timeout_seconds: wall-clock time after which the reader child is killed.
        max_file_mb: the largest input file accepted.
        max_unpacked_mb: the largest total a workbook's parts may unpack to.
        max_part_mb: the largest size one part (a sheet's XML, say) may unpack to.
        max_shared_strings_mb: the largest size the shared-strings part may unpack to.
        max_ratio: the highest compression ratio of a part over 1 MB unpacked (ordinary
            sheets compress 5-20 times; a zip bomb, hundreds to thousands of times).
        max_cells: the most cells (rows × columns) a sheet may declare or span (an .xlsx's
            ``<dimension>``, an .xls's ``DIMENSIONS`` record).
        max_parts: the most parts (zip members) an .xlsx may hold, or sheets an .xls may list.
    """

    memory_mb: int = 2048
    cpu_seconds: int = 60
    timeout_seconds: int = 120
    max_file_mb: int = 256
    max_unpacked_mb: int = 1024
    max_part_mb: int = 768
    max_shared_strings_mb: int = 256
    max_ratio: int = 100
    max_cells: int = 20_000_000
    max_parts: int = 10_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"Read limit {field.name} must be a positive whole number.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        """The defaults, with what ``BATCHPROV_READ_*`` variables set (see ``ENV_NAMES``).

        Raises:
            ConfigError: a variable is set to something other than a positive whole number.
        """
        source = os.environ if environ is None else environ
        chosen: dict[str, int] = {}
        for name, field in ENV_NAMES.items():
            text = source.get(name, "").strip()
            if not text:
                continue
            if not text.isdigit() or int(text) <= 0:
                raise ConfigError(f"{name} must be a positive whole number, not '{text[:20]}'.")
            chosen[field] = int(text)
        return replace(cls(), **chosen)
