"""Per-client rate limits: Binance's request weight with its 429-then-418 escalation, plain
request counts per window (Binance futures caps, CoinGecko) and LunarCrush's minute + day quota.

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
    headers: dict[str, str] = field(default_factory=dict)  # added to the answer, whatever it is

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


@dataclass
class CountLimiter:
    """At most `limit` requests per client per fixed window; a 429 beyond it, never a ban.

    Rejected requests are not counted (they are not served), so a client that waits for
    Retry-After gets its full budget in the next window."""

    limit: int
    window_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    _clients: dict[str, tuple[int, int]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds <= 0:
            raise ValueError("limit >= 1 and window_seconds > 0 are required")

    def charge(self, client: str, weight: int = 1) -> Decision:
        now = self.clock()
        window = math.floor(now / self.window_seconds)
        with self._lock:
            w, used = self._clients.get(client, (window, 0))
            if w != window:
                used = 0
            if used >= self.limit:
                self._clients[client] = (window, used)
                return Decision(429, used, retry_after=self._retry(now, window))
            self._clients[client] = (window, used + 1)
            return Decision(200, used + 1)

    def state(self, client: str) -> tuple[int, float]:
        """(requests left in this window, unix time the window ends)."""
        now = self.clock()
        window = math.floor(now / self.window_seconds)
        with self._lock:
            w, used = self._clients.get(client, (window, 0))
        return self.limit - (used if w == window else 0), (window + 1) * self.window_seconds

    def _retry(self, now: float, window: int) -> int:
        return max(1, math.ceil((window + 1) * self.window_seconds - now))

    def snapshot(self) -> dict:
        window = math.floor(self.clock() / self.window_seconds)
        with self._lock:
            return {"used": {ip: n for ip, (w, n) in self._clients.items() if w == window and n}}


@dataclass
class QuotaLimiter:
    """LunarCrush: calls per minute and per day, reported on every answer in its headers."""

    per_minute: int
    per_day: int
    window_seconds: float = 60.0  # the "minute"; the day is 1440 of them
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.minute = CountLimiter(self.per_minute, self.window_seconds, self.clock)
        self.day = CountLimiter(self.per_day, self.window_seconds * 1440, self.clock)
        self._lock = threading.Lock()

    def charge(self, client: str, weight: int = 1) -> Decision:
        with self._lock:  # both windows move together: a call is taken from both or neither
            (m_left, m_end), (d_left, d_end) = self.minute.state(client), self.day.state(client)
            if m_left > 0 and d_left > 0:
                used = self.minute.charge(client).used
                self.day.charge(client)
                m_left, d_left = m_left - 1, d_left - 1
                status, retry = 200, None
            else:
                used = self.per_minute - m_left
                status = 429
                retry = max(1, math.ceil((m_end if m_left <= 0 else d_end) - self.clock()))
                if m_left <= 0 and d_left <= 0:
                    retry = max(1, math.ceil(d_end - self.clock()))
        headers = {"x-rate-limit-minute-remaining": str(m_left),
                   "x-rate-limit-minute-reset": str(math.ceil(m_end)),
                   "x-rate-limit-day-remaining": str(d_left)}
        if retry is not None:
            headers["retry-after"] = str(retry)
        return Decision(status, used, retry_after=retry, headers=headers)

    def snapshot(self) -> dict:
        return {"minute": self.minute.snapshot()["used"], "day": self.day.snapshot()["used"]}
