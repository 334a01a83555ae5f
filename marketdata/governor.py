"""The rate-limit governor: one per outside service, shared by every request to it in a process.

A service has a weight budget per window (Binance: weight per minute; CoinGecko and LunarCrush:
one unit per call) and may have extra request-count buckets for groups of endpoints (Binance
futures: 1,000 `/futures/data` calls and 500 `fundingRate` calls per 5 minutes). The governor
counts what we spend in each window (windows are aligned to the epoch, as Binance resets its
counters each minute), corrects the count from the usage header the service returns, pauses
every request after a 429 for `Retry-After` or when a quota header says nothing is left, and
refuses to send anything at all while a 418 ban lasts: sending during a ban makes it longer.

Another client on the same IP spends the same budget, and we only learn how much from the usage
header. So in each new window one request goes first (the probe) and the rest wait for its
answer: a burst into a window someone else already used up then costs one 429, not fifty (and
fifty 429s in a row is how an IP gets banned).

No lock is needed: asyncio runs one coroutine at a time and `acquire` never awaits between
checking the budgets and taking from them.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import HostBannedError


@dataclass(frozen=True)
class Limits:
    weight_per_window: int | None = None  # None: the service publishes no budget
    window_seconds: float = 60.0
    usage_header: str | None = None  # e.g. "x-mbx-used-weight-1m"
    safety: float = 0.9  # share of each budget we allow ourselves; the rest absorbs other users of the IP
    buckets: tuple[tuple[str, int, float], ...] = ()  # (name, requests, window seconds)
    # The plan's own pacing (RATE_LIMIT_PER_SECOND batches of PARALLEL_MAX_CONCURRENT a second): a
    # ceiling on request starts whatever the service's budget says, as a token bucket of `burst`.
    starts_per_second: float | None = None
    burst: int = 1


@dataclass
class Bucket:
    limit: int | None
    window_seconds: float
    safety: float = 0.9
    used: int = 0
    window_start: float = 0.0

    @property
    def budget(self) -> int | None:
        return None if self.limit is None else max(1, math.floor(self.limit * self.safety))

    def roll(self, now: float) -> None:
        start = now - (now % self.window_seconds)
        if start > self.window_start:
            self.window_start, self.used = start, 0

    def fits(self, cost: int) -> bool:
        budget = self.budget
        return budget is None or self.used + cost <= budget or (self.used == 0 and cost > budget)

    def window_end(self) -> float:
        return self.window_start + self.window_seconds


@dataclass
class Governor:
    service: str
    limits: Limits
    clock: Callable[[], float] = time.time
    paused_until: float = 0.0
    banned_until: float = 0.0
    waits: int = 0
    synced_window: float = -1.0  # the window whose usage the service last told us
    probing: bool = False
    tokens: float = field(init=False)
    tokens_at: float = 0.0
    weight: Bucket = field(init=False)
    buckets: dict[str, Bucket] = field(init=False)

    def __post_init__(self) -> None:
        self.weight = Bucket(self.limits.weight_per_window, self.limits.window_seconds, self.limits.safety)
        self.buckets = {name: Bucket(n, w, self.limits.safety) for name, n, w in self.limits.buckets}
        self.tokens = float(max(1, self.limits.burst))

    def _start_wait(self, now: float) -> float:
        """Seconds until the start-rate ceiling lets one more request go (0: now)."""
        rate = self.limits.starts_per_second
        if not rate:
            return 0.0
        self.tokens = min(float(max(1, self.limits.burst)), self.tokens + (now - self.tokens_at) * rate)
        self.tokens_at = now
        # The tolerance keeps float rounding from asking for sleeps too short to move a clock.
        return 0.0 if self.tokens >= 1 - 1e-9 else max((1 - self.tokens) / rate, 1e-4)

    # Kept for readability at call sites and in tests.
    @property
    def used(self) -> int:
        return self.weight.used

    @property
    def budget(self) -> int | None:
        return self.weight.budget

    def learn_limit(self, weight_per_window: int) -> None:
        """The service published its limit (Binance: exchangeInfo rateLimits); never exceed it."""
        if weight_per_window > 0 and (self.weight.limit is None or weight_per_window < self.weight.limit):
            self.weight.limit = weight_per_window

    def check_not_banned(self) -> None:
        now = self.clock()
        if self.banned_until > now:
            raise HostBannedError(
                f"banned until {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(self.banned_until))} UTC; not sending",
                service=self.service, banned_until=self.banned_until, retry_after=self.banned_until - now)

    async def acquire(self, weight: int = 1, bucket: str | None = None) -> None:
        """Wait until the request fits every budget it draws on, then take from them.
        Raises HostBannedError during a ban."""
        extra = self.buckets.get(bucket) if bucket else None
        while True:
            self.check_not_banned()
            now = self.clock()
            if self.paused_until > now:
                self.waits += 1
                await asyncio.sleep(self.paused_until - now)
                continue
            self.weight.roll(now)
            if extra:
                extra.roll(now)
            if self.limits.usage_header and self.synced_window != self.weight.window_start:
                if self.probing:
                    await asyncio.sleep(0.005)  # the probe's answer will tell us the window's usage
                    continue
                self.probing = True
            if self.weight.fits(weight) and (extra is None or extra.fits(1)):
                start_wait = self._start_wait(now)
                if start_wait:
                    self.probing = False
                    self.waits += 1
                    await asyncio.sleep(start_wait)
                    continue
                self.tokens -= 1
                self.weight.used += weight
                if extra:
                    extra.used += 1
                return
            self.probing = False
            self.waits += 1
            full = self.weight if not self.weight.fits(weight) else extra
            await asyncio.sleep(full.window_end() - now + 0.01)

    def observe_usage(self, headers) -> None:
        """Trust the service's own count when it is higher than ours (another client shares the IP)."""
        name = self.limits.usage_header
        if not name or name not in headers:
            return
        try:
            reported = int(headers[name])
        except ValueError:
            return
        self.weight.roll(self.clock())
        self.weight.used = max(self.weight.used, reported)
        self.synced_window = self.weight.window_start

    def observe_quota(self, remaining: int | None, reset_at: float | None) -> None:
        """A quota header says how many calls are left until `reset_at` (epoch seconds); at zero, wait."""
        if remaining is not None and remaining <= 0 and reset_at:
            self.paused_until = max(self.paused_until, reset_at)

    def release(self) -> None:
        """A request finished (answered or not): let the next probe go if this one told us nothing."""
        self.probing = False

    def pause(self, seconds: float) -> None:
        """After a 429: nobody sends until the window the service named has passed."""
        self.paused_until = max(self.paused_until, self.clock() + max(seconds, 1.0))

    def ban(self, seconds: float) -> None:
        self.banned_until = max(self.banned_until, self.clock() + max(seconds, 1.0))


_registry: dict[tuple[str, str], Governor] = {}


def governor_for(service: str, base_url: str, limits: Limits) -> Governor:
    """The process-wide governor of a service at a base URL (created on first use; a change of
    configured limits starts fresh counts but keeps pauses and bans)."""
    key = (service, base_url)
    gov = _registry.get(key)
    if gov is None:
        gov = _registry[key] = Governor(service, limits)
    elif gov.limits != limits:
        new = Governor(service, limits, clock=gov.clock)
        new.paused_until, new.banned_until = gov.paused_until, gov.banned_until
        gov = _registry[key] = new
    return gov


def reset_governors() -> None:
    """Forget every governor (tests use this between simulator instances)."""
    _registry.clear()
