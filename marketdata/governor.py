"""The rate-limit governor: one per outside service, shared by every request to it in a process.

It keeps our own count of the weight spent in the service's current window (windows are aligned
to the epoch, as Binance resets its counters each minute), corrects that count from the usage
header the service returns, pauses every request after a 429 for `Retry-After`, and refuses to
send anything at all while a 418 ban lasts — sending during a ban is what makes it longer.
It needs no lock: asyncio runs one coroutine at a time and `acquire` never awaits between
checking the budget and taking from it.

Another client on the same IP spends the same budget, and we only learn how much from the usage
header. So in each new window one request goes first (the probe) and the rest wait for its
answer: a burst into a window that someone else already used up then costs one 429, not fifty
(and fifty 429s in a row is how an IP gets banned).
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import HostBannedError


@dataclass
class Limits:
    weight_per_window: int | None = None  # None: the service publishes no weight budget
    window_seconds: float = 60.0
    usage_header: str | None = None  # e.g. "x-mbx-used-weight-1m"
    safety: float = 0.9  # share of the budget we allow ourselves; the rest absorbs other users of the IP


@dataclass
class Governor:
    service: str
    limits: Limits
    clock: Callable[[], float] = time.time
    used: int = 0
    window_start: float = 0.0
    paused_until: float = 0.0
    banned_until: float = 0.0
    waits: int = field(default=0)
    synced_window: float = -1.0  # the window whose usage the service last told us
    probing: bool = False

    @property
    def budget(self) -> int | None:
        if self.limits.weight_per_window is None:
            return None
        return max(1, math.floor(self.limits.weight_per_window * self.limits.safety))

    def _roll(self, now: float) -> None:
        start = now - (now % self.limits.window_seconds)
        if start > self.window_start:
            self.window_start, self.used = start, 0

    def learn_limit(self, weight_per_window: int) -> None:
        """The service published its limit (Binance: exchangeInfo rateLimits); never exceed it."""
        if weight_per_window > 0 and (self.limits.weight_per_window is None
                                      or weight_per_window < self.limits.weight_per_window):
            self.limits = Limits(weight_per_window, self.limits.window_seconds, self.limits.usage_header,
                                 self.limits.safety)

    def check_not_banned(self) -> None:
        if self.banned_until > self.clock():
            raise HostBannedError(
                f"banned until {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(self.banned_until))} UTC; not sending",
                service=self.service, banned_until=self.banned_until, retry_after=self.banned_until - self.clock())

    async def acquire(self, weight: int = 1) -> None:
        """Wait until `weight` fits in the budget, then take it. Raises HostBannedError during a ban."""
        while True:
            self.check_not_banned()
            now = self.clock()
            if self.paused_until > now:
                self.waits += 1
                await asyncio.sleep(self.paused_until - now)
                continue
            self._roll(now)
            if self.limits.usage_header and self.synced_window != self.window_start:
                if self.probing:
                    await asyncio.sleep(0.005)  # the probe's answer will tell us the window's usage
                    continue
                self.probing = True
            budget = self.budget
            if budget is None or self.used + weight <= budget or (self.used == 0 and weight > budget):
                self.used += weight
                return
            self.probing = False
            self.waits += 1
            await asyncio.sleep(self.window_start + self.limits.window_seconds - now + 0.01)

    def observe_usage(self, headers) -> None:
        """Trust the service's own count when it is higher than ours (another client shares the IP)."""
        name = self.limits.usage_header
        if not name or name not in headers:
            return
        try:
            reported = int(headers[name])
        except ValueError:
            return
        self._roll(self.clock())
        self.used = max(self.used, reported)
        self.synced_window = self.window_start

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
    """The process-wide governor of a service at a base URL (created on first use)."""
    key = (service, base_url)
    gov = _registry.get(key)
    if gov is None or gov.limits != limits:
        gov = _registry[key] = Governor(service, limits) if gov is None else _carry_over(gov, limits)
    return gov


def _carry_over(old: Governor, limits: Limits) -> Governor:
    new = Governor(old.service, limits, clock=old.clock)
    new.paused_until, new.banned_until = old.paused_until, old.banned_until
    return new


def reset_governors() -> None:
    """Forget every governor (tests use this between simulator instances)."""
    _registry.clear()
