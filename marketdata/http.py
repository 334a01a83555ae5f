"""The one governed, pooled HTTP layer every outside-service client goes through.

A `ServiceClient` owns one `httpx.AsyncClient` (one connection pool) for one service, asks the
service's governor before each request, translates every failure into RetryableError or
PermanentError, retries what may succeed later (at most `max_retries` times, exponential backoff
with jitter) and counts requests, weight and errors for the ScanRun.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from functools import lru_cache
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import httpx
import orjson

from .errors import (HostBannedError, MalformedResponseError, MarketDataError, PermanentError,
                     RateLimitedError, RetryableError)
from .governor import Governor

log = logging.getLogger(__name__)
SIMULATOR_HEADER = "x-cryptosatx-simulator"
T = TypeVar("T")
POOL_SHARD = 10


@dataclass
class RequestStats:
    requests: int = 0
    weight: int = 0
    retries: int = 0
    errors: int = 0
    ok: int = 0  # answers that parsed
    statuses: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, int] = field(default_factory=dict)  # calls per capped endpoint group
    round_trips: list[float] = field(default_factory=list)  # seconds per answered request (benchmarks)
    simulated: bool = False
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "weight": self.weight, "retries": self.retries,
                "errors": self.errors, "statuses": dict(self.statuses), "buckets": dict(self.buckets)}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_message(response: httpx.Response) -> tuple[str, int | None]:
    """The vendor's own message and code when the body is JSON, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return (text[:200] or response.reason_phrase), None
    if isinstance(body, dict):
        msg = body.get("msg") or body.get("description") or body.get("error") or body.get("status") or body
        code = body.get("code") if isinstance(body.get("code"), int) else None
        return str(msg)[:300], code
    return str(body)[:300], None


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One certificate store per process: loading it costs ~20 ms, and a session opens a pool per shard."""
    return httpx.create_ssl_context()


def _header_int(headers, name: str) -> int | None:
    try:
        return int(float(headers[name])) if name in headers else None
    except ValueError:
        return None


def _observe_quota(governor: Governor, headers) -> None:
    """Quota headers (LunarCrush): calls left this minute / today; at zero, wait for the reset."""
    minute_left = _header_int(headers, "x-rate-limit-minute-remaining")
    if minute_left is not None:
        governor.observe_quota(minute_left, _header_int(headers, "x-rate-limit-minute-reset"))
    day_left = _header_int(headers, "x-rate-limit-day-remaining")
    if day_left is not None:
        reset = _header_int(headers, "x-rate-limit-day-reset")
        if reset is None:  # no reset given: assume the day ends at midnight UTC
            reset = (int(time.time()) // 86_400 + 1) * 86_400
        governor.observe_quota(day_left, reset)


class ServiceClient:
    def __init__(self, service: str, base_url: str, governor: Governor, *, timeout: float = 10.0,
                 max_retries: int = 3, max_connections: int = 50, headers: dict[str, str] | None = None,
                 backoff_base: float = 0.5):
        self.service = service
        self.governor = governor
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.stats = RequestStats()
        self.base_url = base_url
        # One pool per service, split into shards of at most POOL_SHARD connections: httpcore's pool
        # scans all its connections on every request state change, so one pool of 50 costs far more
        # CPU per request than five of 10 (measured in docs/performance.md).
        shards = max(1, math.ceil(max_connections / POOL_SHARD))
        per_shard = max(1, math.ceil(max_connections / shards))
        self._clients = [httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers or {}, verify=_ssl_context(),
            limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard),
        ) for _ in range(shards)]
        self._in_flight = [0] * shards

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def get_json(self, path: str, params: dict[str, Any] | None = None, *, weight: int = 1,
                       parse: Callable[[Any], T] | None = None, bucket: str | None = None) -> T | Any:
        """GET, decode JSON and `parse` it, retrying what may succeed later. Raises our own errors only.

        Parsing happens inside the retry loop, so a body that breaks the wire format is retried and
        counted like any other fault."""
        attempt = 0
        while True:
            try:
                body = await self._get_once(path, params, weight, bucket)
                result = parse(body) if parse else body
                self.stats.ok += 1
                return result
            except HostBannedError as exc:
                self._count_error(exc)
                raise
            except RetryableError as exc:
                if attempt >= self.max_retries:
                    self._count_error(exc)
                    raise
                attempt += 1
                self.stats.retries += 1
                # A 429 already paused the governor for Retry-After; other faults back off here.
                if not isinstance(exc, RateLimitedError):
                    await asyncio.sleep(self.backoff_base * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
            except PermanentError as exc:
                self._count_error(exc)
                raise

    def _count_error(self, exc: MarketDataError | None = None) -> None:
        self.stats.errors += 1
        if exc is not None:
            self.stats.last_error = str(exc)

    async def _get_once(self, path: str, params: dict[str, Any] | None, weight: int, bucket: str | None) -> Any:
        await self.governor.acquire(weight, bucket)
        if bucket:
            self.stats.buckets[bucket] = self.stats.buckets.get(bucket, 0) + 1
        self.stats.requests += 1
        self.stats.weight += weight
        sent = time.monotonic()
        try:
            shard = min(range(len(self._clients)), key=self._in_flight.__getitem__)  # the least busy pool
            self._in_flight[shard] += 1
            try:
                response = await self._clients[shard].get(path, params=params)
            finally:
                self._in_flight[shard] -= 1
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timeout on {path}: {type(exc).__name__}", service=self.service) from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"transport error on {path}: {type(exc).__name__} {exc}", service=self.service) from exc
        finally:
            self.governor.release()
        self.stats.round_trips.append(time.monotonic() - sent)
        status = response.status_code
        self.stats.statuses[str(status)] = self.stats.statuses.get(str(status), 0) + 1
        if response.headers.get(SIMULATOR_HEADER):
            self.stats.simulated = True
        self.governor.observe_usage(response.headers)
        _observe_quota(self.governor, response.headers)
        if status == 200:
            try:
                # orjson: about half json's CPU, and a cold scan decodes ~80 MB of klines answers. It
                # refuses what is not strict JSON (NaN, trailing text), which json partly let through.
                return orjson.loads(response.content)
            except ValueError as exc:
                raise MalformedResponseError(f"{path} answered 200 with a body that is not JSON: "
                                             f"{response.text[:80]!r}", service=self.service, status=status) from exc
        msg, code = _error_message(response)
        retry_after = _retry_after(response)
        if status == 418:
            self.governor.ban(retry_after or 120)
            log.error("%s banned us for %ss: %s", self.service, retry_after, msg)
            raise HostBannedError(f"IP banned: {msg}", service=self.service, status=status, code=code,
                                  banned_until=self.governor.banned_until, retry_after=retry_after)
        if status == 429:
            self.governor.pause(retry_after or 60)
            raise RateLimitedError(f"rate limited: {msg}", service=self.service, status=status, code=code,
                                   retry_after=retry_after)
        if status >= 500 or status == 408:
            raise RetryableError(f"server error on {path}: {msg}", service=self.service, status=status, code=code)
        raise PermanentError(f"{path} refused: {msg}", service=self.service, status=status, code=code)
