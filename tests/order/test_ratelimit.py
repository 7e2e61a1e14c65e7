"""Pacing: a steady fixed rate, Retry-After pauses, and the adaptive rate against a limit."""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import deque

import pytest

from batchprov.order.rate import FIXED_HEADROOM, CubicRate, RateLimiter, backoff


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def starts(limiter: RateLimiter, count: int) -> list[float]:
    async def go() -> list[float]:
        return [await limiter.acquire() for _ in range(count)]

    return asyncio.run(go())


def test_fixed_rate_is_steady() -> None:
    """A fixed rate of 50/s spaces 500 starts evenly, FIXED_HEADROOM under 50/s, within 1%."""
    clock = Clock()
    times = starts(RateLimiter(50, clock=clock, sleep=clock.sleep), 500)
    assert times[-1] - times[0] == pytest.approx(499 / (50 * (1 - FIXED_HEADROOM)), rel=0.01)
    assert max(sum(1 for t in times if s <= t < s + 1) for s in times) <= 51


def test_pause_holds_every_start() -> None:
    """After pause(2) nothing starts for two seconds."""
    clock = Clock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.pause(2.0)
    assert starts(limiter, 1)[0] >= 2.0


def test_fixed_rate_does_not_cut_on_throttle() -> None:
    """A 429 pauses a fixed rate but leaves it unchanged."""
    clock = Clock()
    limiter = RateLimiter(50, clock=clock, sleep=clock.sleep)
    limiter.on_throttle(0.0, 1.0)
    assert (limiter.rate(), limiter.paused_until) == (50, 1.0)


def test_adaptive_cuts_once_per_round_trip() -> None:
    """A quick throttle sets the rate just under what the server took; older 429s don't cut."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        starts(limiter, 1)
        limiter.on_answer()
    accepted = limiter.measured(clock.now)
    before = limiter.rate()
    limiter.on_throttle(clock.now - 0.01, None)
    after = limiter.rate()
    assert after < before
    assert accepted * CubicRate.GAMMA_COUNTED == pytest.approx(after)
    limiter.on_throttle(clock.now - 0.02, None)
    assert after == limiter.rate()


def test_counted_capacity_is_held_before_probing() -> None:
    """After a counted cut the rate stays flat for HOLD seconds, then grows slowly."""
    rate = CubicRate(10.0, 0.0)
    rate.cut(5.0, 50.0, counted=True)
    held = 50.0 * CubicRate.GAMMA_COUNTED
    assert held == pytest.approx(rate.rate(5.0))
    assert held == pytest.approx(rate.rate(5.0 + CubicRate.HOLD))
    assert held < rate.rate(5.0 + CubicRate.HOLD + 10) < held + 1.0


def test_a_throttle_right_after_a_pause_cuts_cautiously() -> None:
    """A 429 within a second of a pause is not trusted as a count: CUBIC's 0.7× cut applies."""
    clock = Clock()
    clock.now = 100.0
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        starts(limiter, 1)
        limiter.on_answer()
    limiter.on_throttle(clock.now - 0.01, 1.0)
    counted = limiter.rate()
    starts(limiter, 5)  # waits out the pause
    for _ in range(5):
        limiter.on_answer()
    limiter.on_throttle(clock.now - 0.001, 1.0)
    assert counted * 0.7 == pytest.approx(limiter.rate(), rel=0.05)


def test_the_first_second_is_measured_over_the_time_since_the_first_start() -> None:
    """0.5 s into a run, 5 starts measure 10/s (not 5/s), so slow start is not held back."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    starts(limiter, 1)
    assert 1 / 0.25 == limiter.measured(clock.now)  # a single start: over the shortest span
    for _ in range(4):
        clock.now += 0.125
        starts(limiter, 1)
    assert 10.0 == pytest.approx(limiter.measured(clock.now))
    clock.now += 2.0
    assert 0.0 == limiter.measured(clock.now)  # later: the last second, as always


def simulate(limit: float, seconds: float = 60.0, latency: float = 0.02) -> tuple[float, float]:
    """Adaptive pacing against a sliding-window limit with Retry-After 1 (as the sandbox)."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    window: deque[float] = deque()
    answers: list[tuple[float, float, bool]] = []
    ok = refused = 0

    async def go() -> None:
        nonlocal ok, refused
        while clock.now < seconds:
            while answers and answers[0][0] <= clock.now:
                _, sent, accepted = heapq.heappop(answers)
                limiter.on_answer() if accepted else limiter.on_throttle(sent, 1.0)
            sent = await limiter.acquire()
            while window and window[0] <= sent - 1.0:
                window.popleft()
            accepted = len(window) < limit
            window.extend([sent] if accepted else [])
            ok, refused = ok + accepted, refused + (not accepted)
            heapq.heappush(answers, (sent + latency, sent, accepted))

    asyncio.run(go())
    return ok / seconds / limit, refused / (ok + refused)


@pytest.mark.parametrize("limit", [20.0, 50.0, 200.0])
def test_adaptive_finds_an_unknown_limit(limit: float) -> None:
    """Adaptive pacing reaches ≥ 90% of an unknown limit with ≤ 2% 429s."""
    share, throttled = simulate(limit)
    print(f"\nadaptive vs {limit:g}/s: {share:.0%} of the limit, {throttled:.1%} 429s")
    assert share >= 0.9
    assert throttled <= 0.02


def test_backoff_is_full_jitter_and_capped() -> None:
    """Backoff grows as base·2^n with full jitter, never above the cap."""
    rng = random.Random(1)
    values = [backoff(n, base=0.5, cap=4.0, rng=rng) for n in range(1, 30)]
    assert all(0 <= v <= 4.0 for v in values)
    assert all(v <= 0.5 for v in values[:1])
