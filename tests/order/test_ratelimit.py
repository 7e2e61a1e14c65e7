"""Pacing: a steady fixed rate, Retry-After pauses, and the adaptive rate against a limit.

The adaptive rate is also run against the three kinds of limit a server may have: a sliding
window (as the sandbox), a fixed window and a token bucket.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections import deque
from typing import Protocol

import pytest

from batchprov.order.rate import (
    FIXED_HEADROOM,
    MAX_FIXED_HEADROOM,
    CubicRate,
    RateLimiter,
    backoff,
)


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


def spacing_after_pause(limiter: RateLimiter) -> float:
    """The interval between starts once any pause and the one interval of catch-up are over."""
    *_, before, last = starts(limiter, 3)
    return last - before


def test_fixed_rate_widens_its_headroom_on_a_throttle() -> None:
    """A 429 doubles a fixed rate's headroom once per round of requests, up to the maximum."""
    clock = Clock()
    limiter = RateLimiter(50, clock=clock, sleep=clock.sleep)
    starts(limiter, 3)
    sent_before = clock.now
    clock.now += 0.1
    limiter.on_throttle(sent_before, None)
    limiter.on_throttle(sent_before, None)  # the same bunch: no second widening
    wider = spacing_after_pause(limiter)
    assert wider == pytest.approx(1 / (50 * (1 - 2 * FIXED_HEADROOM)), rel=1e-6)
    for _ in range(10):
        clock.now += 0.1
        limiter.on_throttle(clock.now - 0.05, None)
    widest = spacing_after_pause(limiter)
    assert widest == pytest.approx(1 / (50 * (1 - MAX_FIXED_HEADROOM)), rel=1e-6)


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
    limiter.on_throttle(clock.now - 0.6, 1.0)  # a slow answer: no count, a pause
    assert limiter.paused_until == clock.now + 1.0
    paused = limiter.rate()
    starts(limiter, 5)  # waits out the pause
    for _ in range(5):
        limiter.on_answer()
    limiter.on_throttle(clock.now - 0.001, 1.0)
    assert paused * 0.7 == pytest.approx(limiter.rate(), rel=0.05)


def answered(clock: Clock, times: list[float]) -> RateLimiter:
    """An adaptive limiter (starting fast enough) whose requests started and were accepted
    at each of ``times``."""
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep, start=1000.0)
    for at in times:
        clock.now = at
        assert starts(limiter, 1) == [at]
        limiter.on_answer()
    return limiter


def test_a_counted_throttle_pauses_only_the_refused_request() -> None:
    """After a counted 429 nothing pauses: starts resume as the answers of the second before
    age out, a second after each, instead of after the whole-second Retry-After."""
    clock = Clock()
    clock.now = 100.0
    accepted = [100.5 + i * 0.01 for i in range(50)]
    limiter = answered(clock, accepted)
    sent = starts(limiter, 1)[0]
    clock.now = sent + 0.01
    limiter.on_throttle(sent, 1.0)
    assert limiter.paused_until == float("-inf")
    assert limiter.rate() == pytest.approx(50 * CubicRate.GAMMA_COUNTED)
    resumed = []
    for _ in range(10):
        resumed += starts(limiter, 1)
        limiter.on_answer()
    assert resumed[0] == pytest.approx(accepted[0] + 1.0)
    assert all(at >= old + 1.0 for at, old in zip(resumed, accepted, strict=False))
    assert resumed[-1] < sent + 1.0 + 0.5  # a pause would have held them all past sent + 1


def test_a_request_slotted_before_a_counted_cut_is_held_until_there_is_room() -> None:
    """A request that took its slot before the 429 came back waits in `space` until the
    server has room for it, instead of going out to be refused."""
    clock = Clock()
    clock.now = 100.0
    accepted = [100.5 + i * 0.01 for i in range(50)]
    limiter = answered(clock, accepted)
    refused, slotted = starts(limiter, 2)
    clock.now = slotted + 0.01
    limiter.on_throttle(refused, 1.0)
    asyncio.run(limiter.space())
    assert clock.now == pytest.approx(accepted[0] + 1.0)


def test_a_counted_throttle_asking_for_more_than_a_second_pauses_everyone() -> None:
    """A counted 429 whose Retry-After is longer than a second (a limit counted over a longer
    span, or a lock-out) pauses every start for it."""
    clock = Clock()
    clock.now = 100.0
    limiter = answered(clock, [100.5 + i * 0.01 for i in range(50)])
    sent = starts(limiter, 1)[0]
    clock.now = sent + 0.01
    limiter.on_throttle(sent, 5.0)
    assert limiter.rate() == pytest.approx(50 * CubicRate.GAMMA_COUNTED)
    assert limiter.paused_until == pytest.approx(clock.now + 5.0)


def test_a_refused_request_frees_its_place_and_one_still_out_holds_it() -> None:
    """During the drain a request still unanswered counts as held by the server; its 429
    frees the place at once."""
    clock = Clock()
    clock.now = 100.0
    accepted = [100.6 + i * 0.01 for i in range(40)]
    limiter = answered(clock, accepted)
    out = starts(limiter, 10)  # in flight when the first 429 comes back
    clock.now = out[-1] + 0.01
    limiter.on_throttle(out[0], 1.0)  # counted: 40 accepted
    for sent in out[1:5]:
        limiter.on_throttle(sent, 1.0)
    # 40 answers and 5 requests out: 6 places must free before the next start.
    assert starts(limiter, 1)[0] == pytest.approx(accepted[5] + 1.0)


def test_a_throttle_during_the_drain_pauses_everyone() -> None:
    """A 429 for a request sent after a counted cut, within a second of it, says the count
    was wrong: every start pauses for its Retry-After and CUBIC's 0.7× cut applies."""
    clock = Clock()
    clock.now = 100.0
    limiter = answered(clock, [100.5 + i * 0.01 for i in range(50)])
    sent = starts(limiter, 1)[0]
    clock.now = sent + 0.01
    limiter.on_throttle(sent, 1.0)
    counted = limiter.rate()
    later = starts(limiter, 1)[0]
    clock.now = later + 0.01
    limiter.on_throttle(later, 1.0)
    assert limiter.paused_until == pytest.approx(clock.now + 1.0)
    assert counted * CubicRate.BETA == pytest.approx(limiter.rate(), rel=0.05)


def test_a_counted_throttle_after_the_drain_is_counted_again() -> None:
    """A 429 more than a second after a counted cut (jitter at a steady rate) is counted
    too: a small cut and no pause."""
    clock = Clock()
    clock.now = 100.0
    limiter = answered(clock, [100.5 + i * 0.01 for i in range(50)])
    sent = starts(limiter, 1)[0]
    clock.now = sent + 0.01
    limiter.on_throttle(sent, 1.0)
    for _ in range(100):  # two seconds at the counted rate
        starts(limiter, 1)
        limiter.on_answer()
    held = limiter.measured(clock.now)
    sent = starts(limiter, 1)[0]
    clock.now = sent + 0.01
    limiter.on_throttle(sent, 1.0)
    assert limiter.paused_until == float("-inf")
    assert limiter.rate() == pytest.approx(min(held, 50 * 0.97) * CubicRate.GAMMA_COUNTED, rel=0.03)


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


class Server(Protocol):
    def admit(self, now: float) -> bool: ...


class SlidingWindow:
    """At most ``limit`` accepted requests in any second (as the sandbox)."""

    def __init__(self, limit: float) -> None:
        self.limit, self.times = limit, deque[float]()

    def admit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - 1.0:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


class FixedWindow:
    """At most ``limit`` requests per clock second, counted from a boundary at ``offset``."""

    def __init__(self, limit: float, offset: float = 0.37) -> None:
        self.limit, self.offset, self.window, self.count = limit, offset, -1, 0

    def admit(self, now: float) -> bool:
        window = math.floor(now - self.offset)
        if window != self.window:
            self.window, self.count = window, 0
        if self.count >= self.limit:
            return False
        self.count += 1
        return True


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a request takes one."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, burst, 0.0

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def simulate(
    server: Server, limit: float, seconds: float = 60.0, latency: float = 0.02
) -> tuple[float, float]:
    """Adaptive pacing against ``server`` with Retry-After 1: (share of ``limit`` accepted,
    share of requests answered 429)."""
    clock = Clock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    answers: list[tuple[float, float, bool]] = []
    ok = refused = 0

    async def go() -> None:
        nonlocal ok, refused
        while clock.now < seconds:
            while answers and answers[0][0] <= clock.now:
                _, sent, accepted = heapq.heappop(answers)
                limiter.on_answer() if accepted else limiter.on_throttle(sent, 1.0)
            sent = await limiter.acquire()
            accepted = server.admit(sent + latency / 2)
            ok, refused = ok + accepted, refused + (not accepted)
            heapq.heappush(answers, (sent + latency, sent, accepted))

    asyncio.run(go())
    return ok / seconds / limit, refused / (ok + refused)


@pytest.mark.parametrize("limit", [20.0, 50.0, 200.0])
def test_adaptive_finds_an_unknown_limit(limit: float) -> None:
    """Adaptive pacing reaches ≥ 90% of an unknown sliding-window limit with ≤ 2% 429s."""
    share, throttled = simulate(SlidingWindow(limit), limit)
    print(f"\nadaptive vs {limit:g}/s: {share:.0%} of the limit, {throttled:.1%} 429s")
    assert share >= 0.9
    assert throttled <= 0.02


@pytest.mark.parametrize("limit", [5.0, 50.0])
def test_adaptive_against_a_fixed_window(limit: float) -> None:
    """Against a fixed window (whose count may span two windows) the adaptive rate still
    reaches ≥ 85% of the limit with ≤ 2% 429s."""
    share, throttled = simulate(FixedWindow(limit), limit)
    print(f"\nadaptive vs fixed window {limit:g}/s: {share:.0%}, {throttled:.1%} 429s")
    assert share >= 0.85
    assert throttled <= 0.02


@pytest.mark.parametrize(
    ("rate", "burst", "reached"), [(50.0, 50.0, 0.9), (5.0, 5.0, 0.9), (50.0, 5.0, 0.6)]
)
def test_adaptive_against_a_token_bucket(rate: float, burst: float, reached: float) -> None:
    """Against a token bucket (whose burst inflates the first count) the adaptive rate draws
    ≤ 3% 429s. A small burst makes the first count low, and a count is held before probing."""
    share, throttled = simulate(TokenBucket(rate, burst), rate)
    print(f"\nadaptive vs bucket {rate:g}/s burst {burst:g}: {share:.0%}, {throttled:.1%} 429s")
    assert share >= reached
    assert throttled <= 0.03


def test_backoff_is_full_jitter_and_capped() -> None:
    """Backoff grows as base·2^n with full jitter, never above the cap."""
    rng = random.Random(1)
    values = [backoff(n, base=0.5, cap=4.0, rng=rng) for n in range(1, 30)]
    assert all(0 <= v <= 4.0 for v in values)
    assert all(v <= 0.5 for v in values[:1])
