"""Our own error tree. Vendor and transport errors are translated into these at the client
boundary (marketdata.http); nothing above it catches an httpx or vendor exception type."""
from __future__ import annotations


class MarketDataError(Exception):
    def __init__(self, message: str, *, service: str = "", status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.service = service
        self.status = status
        self.code = code

    def __str__(self) -> str:
        prefix = f"{self.service}: " if self.service else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{prefix}{self.args[0]}{status}"


class RetryableError(MarketDataError):
    """May succeed later: 5xx, timeouts, connection errors, rate limits, malformed bodies."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PermanentError(MarketDataError):
    """Will not succeed by retrying: bad parameters, unknown symbol, authentication."""


class RateLimitedError(RetryableError):
    """HTTP 429: the service asked us to wait `retry_after` seconds."""


class HostBannedError(RetryableError):
    """HTTP 418 (or a ban we already know of): nothing is sent to the service until `banned_until`."""

    def __init__(self, message: str, *, banned_until: float, **kw):
        super().__init__(message, **kw)
        self.banned_until = banned_until


class MalformedResponseError(RetryableError):
    """The body was not what the wire format promises (HTML, truncated JSON, missing fields)."""
