"""Injected faults: server errors, held requests (so the client's timeout fires) and 200s whose
body is truncated or not JSON.

Faults are drawn from their own RNG, never the market's, so turning them on changes no price.
The server rolls once per request that its rate limiter let through (a faulted request has
been charged, as on a real host), never for `/sim/*`.
"""
from __future__ import annotations

import json
import random
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .server import Reply

ERROR, TIMEOUT, MALFORMED = "error", "timeout", "malformed"
HTML_502 = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
"""
# What a 200 with a broken body looks like in the wild: a proxy's page, an empty body, text.
_NOT_JSON = [(b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
              b"Checking your browser before accessing the API.</body></html>", "text/html"),
             (b"", "application/json"),
             (b"upstream connect error or disconnect/reset before headers", "text/plain")]


def _default_error(status: int) -> Any:
    return {"code": -1000, "msg": "An unknown error occurred while processing the request."}


class Faults:
    """Decides per request whether to inject a fault, and counts what it injected."""

    def __init__(self, seed: int, error_rate: float = 0.0, timeout_rate: float = 0.0,
                 malformed_rate: float = 0.0, timeout_seconds: float = 30.0) -> None:
        rates = (error_rate, timeout_rate, malformed_rate)
        if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be in [0, 1] and add up to at most 1")
        if timeout_seconds < 0:
            raise ValueError("timeout_seconds must be >= 0")
        self.error_rate, self.timeout_rate, self.malformed_rate = rates
        self.timeout_seconds = timeout_seconds
        self._rng = random.Random(seed * 7919 + 0xFA17)
        self._lock = threading.Lock()
        self.counts = {ERROR: 0, TIMEOUT: 0, MALFORMED: 0}

    @property
    def active(self) -> bool:
        return self.error_rate + self.timeout_rate + self.malformed_rate > 0

    def roll(self) -> tuple[str | None, float]:
        """(fault kind or None, a uniform number to pick the fault's variant)."""
        if not self.active:
            return None, 0.0
        with self._lock:
            u, v = self._rng.random(), self._rng.random()
            kind = None
            if u < self.error_rate:
                kind = ERROR
            elif u < self.error_rate + self.timeout_rate:
                kind = TIMEOUT
            elif u < self.error_rate + self.timeout_rate + self.malformed_rate:
                kind = MALFORMED
            if kind:
                self.counts[kind] += 1
        return kind, v

    def error_reply(self, v: float, error_body: Callable[[int], Any] | None) -> "Reply":
        """A 500/502/503 with the service's JSON error body, or a CDN's HTML 502 page."""
        from .server import Reply
        if v < 0.25:
            return Reply(502, HTML_502, content_type="text/html")
        status = (500, 502, 503)[min(2, int((v - 0.25) / 0.75 * 3))]
        return Reply(status, (error_body or _default_error)(status))

    @staticmethod
    def malformed_reply(reply: "Reply", v: float) -> "Reply":
        """A 200 whose body is the real answer cut short, or something that is not JSON."""
        from .server import Reply
        if v < 0.6:
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(
                reply.body, separators=(",", ":")).encode()
            cut = max(1, min(len(body) - 1, int(len(body) * (0.2 + v))))
            return Reply(200, body[:cut], reply.headers)
        payload, ctype = _NOT_JSON[min(len(_NOT_JSON) - 1, int((v - 0.6) / 0.4 * len(_NOT_JSON)))]
        return Reply(200, payload, reply.headers, content_type=ctype)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)
