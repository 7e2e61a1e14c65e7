"""A fake monotonic clock for the run engine and the in-process sandbox alike."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` and let other tasks run once."""
        seconds = max(seconds, 0.0)
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)
