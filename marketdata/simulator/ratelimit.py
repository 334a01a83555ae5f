"""Per-client request-weight windows with Binance's 429-then-418 escalation.

Pure logic with an injectable clock (seconds), so it is unit-testable without sleeping.
Binance resets weight per calendar minute; we use fixed windows of `window_seconds` aligned
to the epoch, which is the same thing for 60 s and lets tests use 1-2 s windows.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

MAX_BAN_SECONDS = 3 * 24 * 3600  # Binance bans last from 2 minutes up to 3 days


@dataclass
class Decision:
    """The verdict on one request: status 200 (go ahead), 429 (over limit) or 418 (banned)."""

    status: int
    used: int  # weight used in the current window, this request included
    retry_after: int | None = None  # whole seconds, for 429 and 418
    banned_until_ms: int | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


@dataclass
class _Client:
    window: int = -1
    used: int = 0
    after_429: int | None = None  # requests sent after this window's first 429
    banned_until: float = 0.0
    offences: int = 0


@dataclass
class WeightLimiter:
    """REQUEST_WEIGHT limit per client IP; a client that ignores 429s gets banned (418)."""

    limit: int
    window_seconds: float = 60.0
    ban_after: int = 10
    clock: Callable[[], float] = time.time
    ban_seconds: float | None = None  # first ban; default 120 s scaled to the window length
    _clients: dict[str, _Client] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds <= 0 or self.ban_after < 0:
            raise ValueError("limit >= 1, window_seconds > 0 and ban_after >= 0 are required")
        if self.ban_seconds is None:
            # 2 minutes per 1-minute window, so tests with 2 s windows get 4 s bans.
            self.ban_seconds = 120.0 * self.window_seconds / 60.0

    def charge(self, client: str, weight: int) -> Decision:
        """Count one request of `weight` for `client` and say whether it may be served."""
        now = self.clock()
        with self._lock:
            c = self._clients.setdefault(client, _Client())
            window = math.floor(now / self.window_seconds)
            if window != c.window:
                c.window, c.used, c.after_429 = window, 0, None
            if now < c.banned_until:
                return self._banned(c, now)
            c.used += weight  # rejected requests count too, as on Binance
            if c.after_429 is not None:
                c.after_429 += 1
                if c.after_429 > self.ban_after:
                    c.offences += 1
                    length = min(self.ban_seconds * 2 ** (c.offences - 1), MAX_BAN_SECONDS)
                    c.banned_until = now + length
                    c.after_429 = None  # a fresh 429 count once the ban is over
                    return self._banned(c, now)
            if c.used > self.limit:
                if c.after_429 is None:
                    c.after_429 = 0
                window_end = (window + 1) * self.window_seconds
                return Decision(429, c.used, retry_after=max(1, math.ceil(window_end - now)))
            return Decision(200, c.used)

    def _banned(self, c: _Client, now: float) -> Decision:
        return Decision(418, c.used, retry_after=max(1, math.ceil(c.banned_until - now)),
                        banned_until_ms=int(c.banned_until * 1000))

    def used(self, client: str) -> int:
        """Weight used by `client` in the current window (0 once the window has rolled over)."""
        now = self.clock()
        with self._lock:
            c = self._clients.get(client)
            if c is None or c.window != math.floor(now / self.window_seconds):
                return 0
            return c.used

    def snapshot(self) -> dict:
        """{"weights": {client: used now}, "bans": {client: until_ms}} for clients with either."""
        now = self.clock()
        window = math.floor(now / self.window_seconds)
        with self._lock:
            weights = {ip: c.used for ip, c in self._clients.items()
                       if c.window == window and c.used}
            bans = {ip: int(c.banned_until * 1000) for ip, c in self._clients.items()
                    if c.banned_until > now}
        return {"weights": weights, "bans": bans}
