"""The one governed, pooled HTTP layer every outside-service client goes through.

A `ServiceClient` owns one `aiohttp.ClientSession` (one keep-alive connection pool) for one
service, asks the service's governor before each request, translates every failure into
RetryableError or PermanentError, retries what may succeed later (at most `max_retries` times,
exponential backoff with jitter) and counts requests, weight and errors for the ScanRun.

Why aiohttp here and httpx elsewhere: a scan sends ~1,700 requests at 50-way concurrency, and with
httpx (its client, httpcore, h11 and anyio) each cost ~1.8 ms of CPU in this one interpreter
against ~0.5 ms with aiohttp's C parser (through this class, measured against the simulator on one
machine: docs/performance.md), so the fetch was bound by CPU rather than by round trips. The plan's own engine used aiohttp too.
The synchronous one-off callers (Telegram, the benchmarks' probes) keep httpx.
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
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import httpx
import orjson

from .errors import (HostBannedError, MalformedResponseError, MarketDataError, PermanentError,
                     RateLimitedError, RetryableError)
from .governor import Governor

log = logging.getLogger(__name__)
SIMULATOR_HEADER = "x-cryptosatx-simulator"
T = TypeVar("T")


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


def _retry_after(headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")


def _error_message(content: bytes, reason: str) -> tuple[str, int | None]:
    """The vendor's own message and code when the body is JSON, else the start of the body."""
    try:
        body = orjson.loads(content)
    except ValueError:
        text = _text(content).strip().replace("\n", " ")
        return (text[:200] or reason), None
    if isinstance(body, dict):
        msg = body.get("msg") or body.get("description") or body.get("error") or body.get("status") or body
        code = body.get("code") if isinstance(body.get("code"), int) else None
        return str(msg)[:300], code
    return str(body)[:300], None


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One certificate store per process: loading it costs ~20 ms, and each scan opens a session."""
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


def _query(params: dict[str, Any] | None) -> dict[str, str] | None:
    """Query values as the services expect them (what httpx sent): booleans as true/false, None empty."""
    if not params:
        return None
    return {k: ("true" if v is True else "false" if v is False else "" if v is None else str(v))
            for k, v in params.items()}


def _env_proxy(base_url: str) -> str | None:
    """The proxy HTTP(S)_PROXY / NO_PROXY name for this service, as httpx honoured them. Read once per
    session: aiohttp's trust_env reads them again on an executor thread for every request."""
    split = urlsplit(base_url)
    if not split.hostname or proxy_bypass(split.hostname):
        return None
    return getproxies().get(split.scheme)


class ServiceClient:
    def __init__(self, service: str, base_url: str, governor: Governor, *, timeout: float = 10.0,
                 max_retries: int = 3, max_connections: int = 50, headers: dict[str, str] | None = None,
                 backoff_base: float = 0.5):
        self.service = service
        self.governor = governor
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.stats = RequestStats()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_connections = max_connections
        self.headers = dict(headers or {})
        # Opened on the first request: an aiohttp session belongs to the event loop it was made in,
        # and a MarketDataSession may be built before its loop runs.
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Plain HTTP (the simulator; redirects are not followed) needs no certificate store:
            # loading one is ~45 ms of the event loop before a fresh process's first request.
            tls = _ssl_context() if self.base_url.lower().startswith("https:") else False
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections,
                                             ssl=tls, ttl_dns_cache=300)
            # Each of connect and read bounded by `timeout`, as httpx's timeout did; no total, so a
            # large answer that keeps arriving is not cut off.
            timeout = aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_connect=self.timeout,
                                            sock_read=self.timeout)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self.headers,
                                                  raise_for_status=False)
            self._proxy = _env_proxy(self.base_url)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def get_json(self, path: str, params: dict[str, Any] | None = None, *, weight: int = 1,
                       parse: Callable[[Any], T] | None = None, bucket: str | None = None,
                       decode: Callable[[bytes], Any] = orjson.loads) -> T | Any:
        """GET, decode JSON (`decode`, a ValueError if it is not) and `parse` it, retrying what may
        succeed later. Raises our own errors only.

        Parsing happens inside the retry loop, so a body that breaks the wire format is retried and
        counted like any other fault."""
        attempt = 0
        while True:
            try:
                body = await self._get_once(path, params, weight, bucket, decode)
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

    async def _get_once(self, path: str, params: dict[str, Any] | None, weight: int, bucket: str | None,
                        decode: Callable[[bytes], Any] = orjson.loads) -> Any:
        await self.governor.acquire(weight, bucket)
        if bucket:
            self.stats.buckets[bucket] = self.stats.buckets.get(bucket, 0) + 1
        self.stats.requests += 1
        self.stats.weight += weight
        sent = time.monotonic()
        url = self.base_url + path
        try:
            async with self._open().get(url, params=_query(params), allow_redirects=False,
                                        proxy=self._proxy) as response:
                status, headers, reason = response.status, response.headers, response.reason or ""
                content = await response.read()
        except asyncio.TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise RetryableError(f"timeout on {path}: {type(exc).__name__}", service=self.service) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ClientError: refused, reset, closed mid-answer, a bad chunk or gzip stream; ValueError:
            # an unusable URL. Both may be a passing fault of the network or the service.
            raise RetryableError(f"transport error on {path}: {type(exc).__name__} {exc}", service=self.service) from exc
        finally:
            self.governor.release()
        self.stats.round_trips.append(time.monotonic() - sent)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s GET %s -> %s in %.0f ms", self.service, url, status, (time.monotonic() - sent) * 1000)
        self.stats.statuses[str(status)] = self.stats.statuses.get(str(status), 0) + 1
        if headers.get(SIMULATOR_HEADER):
            self.stats.simulated = True
        self.governor.observe_usage(headers)
        _observe_quota(self.governor, headers)
        if status == 200:
            try:
                # orjson: about half json's CPU, and a cold scan decodes ~80 MB of klines answers. It
                # refuses what is not strict JSON (NaN, trailing text), which json partly let through.
                return decode(content)
            except ValueError as exc:
                raise MalformedResponseError(f"{path} answered 200 with a body that is not JSON: "
                                             f"{_text(content[:80])!r}", service=self.service, status=status) from exc
        msg, code = _error_message(content, reason)
        retry_after = _retry_after(headers)
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
