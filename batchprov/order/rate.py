"""Request pacing shared by every worker of a run: a fixed rate, or one that adapts to 429s.

`RateLimiter.acquire` hands out start times one interval apart (a GCRA schedule with a burst
of one extra request, so scheduling slop does not eat into the rate) and holds everyone while
a ``Retry-After`` pause is in force; `RateLimiter.space` keeps the requests themselves that far
apart when the work between slot and send (the journal commit) bunches them. A fixed rate is
paced a little under the rate given (`FIXED_HEADROOM`), so network jitter does not push a
server counting arrivals over its limit; every 429 pauses every start for its Retry-After and
widens that headroom.

The adaptive rate follows the AWS SDKs' adaptive retry mode: CUBIC growth while answers are
clean, never more than twice the rate actually measured (so an idle period does not build up
a rate nobody has tried). On a throttle answered quickly, the answers of the last second
(creates and listing pages) count what the server accepts: the rate goes straight to 97% of
that count and stays there (`CubicRate.HOLD`) before probing.

Such a *counted* throttle does not pause the run, unless its Retry-After is longer than a
second (a limit not counted over a second). The refused request waits out its own
Retry-After (its caller re-queues it); the others go on as soon as the server has room, which
a whole-second Retry-After overstates (a sliding window frees as its oldest requests age
out). The server counted every request it accepted before answering it, so the accepted
answers of the last second plus the requests still unanswered bound what it holds in any
window of a second; for a second and a round trip after the cut (the *drain*), a start also
waits until that bound is under the count (and a request slotted before the cut waits in
`space` until it fits). Against a sliding window this resumes as the window frees, and no
delay between slot and arrival can make the bound too low; against a fixed window, the
requests of the full window keep it at the count until the window turns.

Whatever the count cannot foresee shows as another 429 (a token bucket whose burst inflated
the count, a server that also counts the requests it refused, one that locks a client out for
its Retry-After): a throttle of a request started within a second of the last cut or pause,
or one answered slowly, pauses every start for its Retry-After and gets CUBIC's ×0.7 cut. One
throttle cuts the rate once per round trip: answers to requests sent before the last cut say
nothing about the new rate.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Where an adaptive run starts, in requests per second. (At 5/s, the first second went on
#: listing the groups before their first orders.)
ADAPTIVE_START = 10.0
#: The adaptive rate never drops below this.
MIN_RATE = 0.5
#: Longest pause a Retry-After may impose; longer values are clamped.
MAX_RETRY_AFTER = 120.0
#: A fixed rate is paced this much under the rate given, to begin with. A server counts
#: requests as they arrive, and network jitter bunches requests that left evenly spaced: sent
#: at exactly its limit, some are refused, and each 429 costs a whole Retry-After pause. 3%
#: absorbs about 30 ms of jitter per second of requests (2% drew 429s over loopback with 20 ms
#: of jitter); each round of 429s doubles it for the rest of the run (`RateLimiter._widen`).
FIXED_HEADROOM = 0.03
#: The widest a fixed rate's headroom grows.
MAX_FIXED_HEADROOM = 0.24
#: The shortest span a measured rate is taken over (a few first starts are not a rate).
_MEASURE_MIN_SPAN = 0.25
#: A 429 answered within this many seconds comes with a trustworthy count of what the server
#: accepted over the last second.
QUICK_ANSWER = 0.5
#: The window a count is taken over, in seconds. A counted 429 asking to wait longer than this
#: pauses every start all the same.
COUNTED_WINDOW = 1.0


class CubicRate:
    """The adaptive send-rate curve: slow start, then CUBIC regrowth and slow probing.

    Before the first throttle the rate doubles every ``DOUBLING`` seconds from ``start``.
    A throttle while sending at ``r`` drops the rate to ``β·r`` and aims a plateau at
    ``w = γ·r`` (a little under the rate that was refused, which is above the true limit):
    ``rate(t) = w + C·(t − K)³`` with ``K`` chosen so that ``rate(0) = β·r``, using a steep
    ``C`` to climb back and a shallow one to probe above the plateau. A *counted* throttle
    (``r`` is what the server was seen to accept) sets ``w = floor = γ_counted·r`` at once
    and holds it ``HOLD`` seconds before probing.
    """

    BETA = 0.7
    GAMMA = 0.95
    #: Share of a counted capacity to send at: what absorbs the network's jitter.
    GAMMA_COUNTED = 0.97
    C_CLIMB = 0.4
    C_PROBE = 0.0005  # a failed probe costs a whole Retry-After pause: probe slowly
    #: Seconds a counted capacity is kept before probing above it.
    HOLD = 30.0
    DOUBLING = 0.25

    def __init__(self, start: float, now: float) -> None:
        self._start = start
        self._t0 = now
        self._w_max: float | None = None
        self._k = 0.0
        self._counted = False
        self.floor = start

    def rate(self, now: float) -> float:
        """The send rate the curve allows at ``now``."""
        dt = max(now - self._t0, 0.0)
        if self._w_max is None:
            return self._start * 2 ** min(dt / self.DOUBLING, 40.0)
        x = dt - self._k
        if self._counted:
            x = max(x - self.HOLD, 0.0)
        c = self.C_CLIMB if x < 0 else self.C_PROBE
        return max(self._w_max + c * x**3, MIN_RATE)

    def cut(self, now: float, current: float, *, counted: bool = False) -> None:
        """Register a throttle while sending at ``current`` requests per second.

        ``counted``: ``current`` is what the server was seen to accept over its window, not
        a rate it refused; the rate goes straight to just under it, with no dip to climb out of.
        """
        current = max(current, MIN_RATE)
        self._counted = counted
        if counted:
            self._w_max = self.floor = max(current * self.GAMMA_COUNTED, MIN_RATE)
            self._k = 0.0
        else:
            self._w_max = current * self.GAMMA
            self.floor = max(current * self.BETA, MIN_RATE)
            self._k = (max(self._w_max - self.floor, 0.0) / self.C_CLIMB) ** (1 / 3)
        self._t0 = now


class RateLimiter:
    """Paces request starts: fixed (``rate`` given) or adaptive (``rate=None``)."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Clock,
        sleep: Sleep,
        start: float = ADAPTIVE_START,
        space_sleep: Sleep | None = None,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self._fixed = rate
        self._headroom = FIXED_HEADROOM
        self._clock = clock
        self._sleep = sleep
        # `space` holds a request whose intent is already journaled: a stop must not cut it.
        self._space_sleep = space_sleep or sleep
        self._cubic = CubicRate(start, clock())
        self._next = clock()
        self._paused_until = float("-inf")  # (a clock may start at 0)
        self._last_cut = float("-inf")  # the last cut (or widening, at a fixed rate)
        self._starts: deque[float] = deque()
        self._first_start: float | None = None
        self._spaced = float("-inf")  # when the latest request held by `space` may go
        self._answers: deque[float] = deque()
        # Starts of the last second with no answer yet; an answer is taken for the oldest.
        self._unresolved: deque[float] = deque()
        self._cap = 0  # while draining: fewer than this many held by the server
        self._drain_until = float("-inf")
        self._cut_paused = False  # the last cut paused every start
        self._lock = asyncio.Lock()

    def rate(self) -> float:
        """The current allowed rate in requests per second."""
        if self._fixed is not None:
            return self._fixed
        now = self._clock()
        # Grow only while the rate is used: at most twice what was sent in the last second,
        # but never below the post-cut floor (a Retry-After pause empties the window).
        used = max(self._cubic.floor, 2 * self.measured(now))
        return min(self._cubic.rate(now), used)

    def _pace(self) -> float:
        """The rate starts are spaced at: a fixed rate less its headroom, or the adaptive rate."""
        if self._fixed is not None:
            return self._fixed * (1.0 - self._headroom)
        return self.rate()

    def measured(self, now: float) -> float:
        """Requests started per second over the last second (or since the first start, when
        that is more recent: a run's first second is not a second of idleness)."""
        count = _count_recent(self._starts, now)
        if self._first_start is None:
            return count
        return count / min(max(now - self._first_start, _MEASURE_MIN_SPAN), 1.0)

    def on_answer(self) -> None:
        """The server accepted a request (any answer but a 429, listings too): evidence of its
        capacity."""
        if self._fixed is None:
            now = self._clock()
            _count_recent(self._answers, now)
            self._answers.append(now)
            if self._unresolved:
                self._unresolved.popleft()

    async def acquire(self) -> float:
        """Wait for the next start slot (and any pause); return the start time."""
        async with self._lock:
            while True:
                now = self._clock()
                frees = self._window_frees(now)
                wait = max(self._paused_until, self._next, frees) - now
                if wait <= 0:
                    break
                if frees - now >= wait:
                    # A refusal coming back frees room too: look again after an interval.
                    wait = min(wait, 1.0 / self._pace())
                await self._sleep(wait)
            if self._first_start is None:
                self._first_start = now
            # This start counts in the rate measured: below 1/s, a one-second window would
            # otherwise hold no start at all and the growth cap would pin the rate down.
            self._starts.append(now)
            _count_recent(self._unresolved, now)  # (one never answered does not stay)
            self._unresolved.append(now)
            interval = 1.0 / self._pace()
            # Allow one interval of catch-up so oversleeping does not lower the rate.
            self._next = max(self._next, now - interval) + interval
            return now

    async def space(self) -> None:
        """Hold a request that has its slot until one interval after the previous one went.

        Slots are handed out evenly, but the journal commit between a slot and its request
        takes a variable time: a slow commit would let requests bunch up behind it, and a
        server counting arrivals over a second would see more than the rate allows.

        A request that took its slot before a counted cut is also held, at most until the
        drain ends, until the server has room for it: sent now, it would only be refused.
        """
        now = self._clock()
        at = max(now, self._spaced + 1.0 / self._pace())
        self._spaced = at  # reserved at once: the next caller spaces itself after this one
        if at > now:
            await self._space_sleep(at - now)
        while (frees := self._window_frees(now := self._clock(), own=1)) > now:
            await self._space_sleep(min(frees - now, 1.0 / self._pace()))

    def pause(self, seconds: float) -> None:
        """Hold every start for ``seconds`` from now (a Retry-After)."""
        until = self._clock() + min(max(seconds, 0.0), MAX_RETRY_AFTER)
        self._paused_until = max(self._paused_until, until)
        self._next = max(self._next, self._paused_until)  # no catch-up burst after a pause

    def on_throttle(self, sent_at: float, retry_after: float | None) -> None:
        """A 429 answered a request started at ``sent_at``: slow down (cut an adaptive rate,
        widen a fixed rate's headroom), and pause every start for ``retry_after`` unless the
        cut was a counted one.

        The refused request always waits out its own ``Retry-After`` (its caller re-queues
        it); this decides whether the others wait too.
        """
        _forget(self._unresolved, sent_at)  # refused: not in what the server holds
        if sent_at > self._last_cut:
            if self._fixed is None:
                self._cut(sent_at)
            else:
                self._widen()
        if retry_after is None:
            return
        # A longer wait than a second says the limit is not one counted over a second.
        if self._fixed is not None or self._cut_paused or retry_after > COUNTED_WINDOW:
            self.pause(retry_after)

    def _widen(self) -> None:
        """Double a fixed rate's headroom: the jitter on the way is more than it absorbed.

        Requests already under way when the first 429 came back were paced the old way, so
        only a throttle of one started after this widens again.
        """
        self._headroom = min(2 * self._headroom, MAX_FIXED_HEADROOM)
        self._last_cut = self._clock()

    def _cut(self, sent_at: float) -> None:
        """Cut the adaptive rate for a throttle of a request sent after the last cut."""
        now = self._clock()
        rate, counted = self._throttled_rate(now, now - sent_at)
        self._cubic.cut(now, rate, counted=counted)
        self._last_cut = now
        self._cut_paused = not counted
        if counted:
            self._cap = max(int(rate), 1)
            self._drain_until = now + 1.0 + (now - sent_at)

    def _throttled_rate(self, now: float, round_trip: float) -> tuple[float, bool]:
        """Best estimate of the rate that was refused, and whether it is a count of what the
        server accepted over the last second (its capacity) rather than a guess.

        The accepted count is only trusted over a second without a pause or a cut in it: a
        throttle right after one says the estimate was wrong (or the limit changed), and
        CUBIC's cautious cut applies.
        """
        rate = self.rate()
        if now - max(self._paused_until, self._last_cut) < 1.0:
            return rate, False
        accepted = _count_recent(self._answers, now)
        if round_trip <= QUICK_ANSWER and accepted >= 1:
            # Quick answers count what the server took within its window while the requests
            # that were refused went out. Slow start overshoots the limit up to 2x before the
            # first 429 comes back, so the allowed rate says little; the count says how much
            # the server takes. After less than a second of sending, the count is below what
            # a second allows, so trusting it errs on the slow side.
            return min(rate, accepted), True
        # Slow answers, or nothing accepted yet, say little: cap the cut.
        return min(rate, max(accepted, rate / 2, MIN_RATE)), False

    def _window_frees(self, now: float, *, own: int = 0) -> float:
        """While draining: when fewer than the cap of requests (besides the caller's ``own``,
        already started) can still be in the server's window of a second (-inf: now, or not
        draining).

        Each accepted request was counted before its answer came, so it is out of any window
        a second after its answer; an unanswered one may be counted at any moment.
        """
        if now >= self._drain_until:
            return float("-inf")
        held = _count_recent(self._answers, now) + _count_recent(self._unresolved, now)
        excess = int(held) - own - self._cap + 1
        if excess <= 0:
            return float("-inf")
        return heapq.nsmallest(excess, itertools.chain(self._answers, self._unresolved))[-1] + 1.0

    @property
    def paused_until(self) -> float:
        """Clock time before which nothing may start."""
        return self._paused_until


def _count_recent(times: deque[float], now: float) -> float:
    """Drop entries older than a second; count the rest."""
    while times and times[0] <= now - 1.0:
        times.popleft()
    return float(len(times))


def _forget(times: deque[float], at: float) -> None:
    """Drop the entry ``at``; if an answer took it already, the oldest (still out) instead."""
    try:
        times.remove(at)
    except ValueError:
        if times:
            times.popleft()


def backoff(attempt: int, *, base: float = 0.5, cap: float = 20.0, rng: random.Random) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    return rng.uniform(0.0, min(cap, base * 2 ** max(attempt - 1, 0)))
