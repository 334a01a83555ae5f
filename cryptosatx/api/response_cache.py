"""A shared cache in front of the public, read-only market API (docs/api.md, "Caching").

The ranking, a coin and the win rates are the same for every anonymous reader until the data behind
them changes, yet each costs 3–15 ms of CPU to build (queries, serializers). Under load that is what
limits the server (docs/performance.md, "API under load"), so an anonymous GET of those endpoints
is answered from Django's cache (Redis when `REDIS_URL` is set, shared by every worker and machine)
when an answer for the same URL and the same *data version* is there.

The data version is the newest scan run, the time the newest runs finished and the newest scan
result, signal and unified score (primary keys and one indexed range, cheap at any table size). Any
scan that finishes or any new signal or score changes it, so an answer is never older than the data
it was built from by more than VERSION_SECONDS (the version is read at most once a second per
process). Answers that also depend on the clock — a source's `age_seconds` — carry an `Age` header
(seconds since the answer was built) and are dropped after `API_CACHE_SECONDS` at most (settings,
default 60; 0 turns the cache off). Anything else — a token or a session (a bad token must still be
a 401), another method, a browser asking for HTML, an answer that is not a 200, sets a cookie or says
`Cache-Control: private`/`no-store`/`no-cache` — goes to the view as before.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse

CACHED_PATHS = re.compile(r"^/api/(?:scan/unified-ranking|coins/[^/]+|analytics/win-rates)$")
# An Accept naming HTML may get the browsable API (a page with the user's CSRF token): never shared.
HTML_ACCEPT = re.compile(r"html", re.I)
DROPPED_HEADERS = {"set-cookie", "content-length", "date", "age", "x-cache"}
NOT_SHARED = re.compile(r"\b(?:private|no-store|no-cache)\b", re.I)  # a view that says not to share its answer
VERSION_SECONDS = 1.0  # how long a process trusts the data version it last read
# What each process also keeps in its own memory (about 2 kB a coin, 55 kB a 500-row ranking page). Bounded
# in bytes: every distinct query string is a key, so a client making up URLs must not grow a worker.
LOCAL_BYTES = 32 * 1024 * 1024

_version: tuple[float, str] = (float("-inf"), "")
# key -> (headers, body, built_at): a hit from here costs no round trip to Redis and no unpickling.
# Keys carry the data version, so a copy is as current as the shared one; its age is checked on use.
_local: dict[str, tuple[list, bytes, float]] = {}
_local_bytes = 0
_lock = threading.Lock()


def version_sql() -> str:
    from scanners.models import ScanResult, ScanRun
    from signals.models import Signal, UnifiedScore

    run = ScanRun._meta.db_table
    # Runs are created when they start: the ones that can still finish are among the newest.
    return (f"SELECT (SELECT MAX(id) FROM {run}), "
            f"(SELECT MAX(finished_at) FROM {run} WHERE id >= (SELECT COALESCE(MAX(id), 0) - 200 FROM {run})), "
            f"(SELECT MAX(id) FROM {ScanResult._meta.db_table}), (SELECT MAX(id) FROM {Signal._meta.db_table}), "
            f"(SELECT MAX(id) FROM {UnifiedScore._meta.db_table})")


def data_version() -> str:
    global _version
    now = time.monotonic()
    checked, value = _version
    if now - checked < VERSION_SECONDS:
        return value
    with connection.cursor() as cursor:
        cursor.execute(version_sql())
        value = "|".join(str(v) for v in cursor.fetchone())
    with _lock:
        _version = (now, value)
    return value


def forget() -> None:
    """Read the data version again on the next request and drop this process's copies (tests)."""
    global _version, _local_bytes
    with _lock:
        _version = (float("-inf"), "")
        _local.clear()
        _local_bytes = 0


def _remember(key: str, entry: tuple[list, bytes, float]) -> None:
    global _local_bytes
    size = len(entry[1]) + len(key) + 200
    with _lock:
        if key in _local:
            return
        if _local_bytes + size > LOCAL_BYTES:
            # Start again: rare (each data version brings new keys, old ones are never read again) and
            # cheaper than tracking recency on every hit.
            _local.clear()
            _local_bytes = 0
        _local[key] = entry
        _local_bytes += size


def cache_key(request: HttpRequest) -> str | None:
    """The key of a cacheable request, or None when the request must reach the view."""
    if request.method != "GET" or not CACHED_PATHS.match(request.path_info):
        return None
    meta = request.META
    if "HTTP_AUTHORIZATION" in meta or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    accept = " ".join(meta.get("HTTP_ACCEPT", "").split())
    if HTML_ACCEPT.search(accept) or "format" in request.GET:
        return None
    url = f"{request.scheme}://{meta.get('HTTP_HOST', '')}{request.path_info}?{meta.get('QUERY_STRING', '')}"
    # Keyed by the Accept too: the answer is what content negotiation chose for it (JSON, or a 406
    # that is not stored), and clients send a handful of these (`application/json, text/plain, */*`).
    digest = hashlib.sha256(f"{data_version()}\n{accept}\n{url}".encode()).hexdigest()
    return f"api-response:{digest}"


class PublicResponseCacheMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seconds = settings.API_CACHE_SECONDS
        key = cache_key(request) if seconds > 0 else None
        if key is None:
            return self.get_response(request)
        hit = _local.get(key)
        if hit is None or time.time() - hit[2] >= seconds:
            hit = cache.get(key)
            if hit is not None:
                _remember(key, hit)
        if hit is not None:
            headers, body, built_at = hit
            response = HttpResponse(body, status=200)
            for name, value in headers:
                response[name] = value
            response["Age"] = str(max(0, int(time.time() - built_at)))
            response["X-Cache"] = "hit"
            return response
        built_at = time.time()
        response = self.get_response(request)
        if (response.status_code == 200 and not response.cookies and not response.streaming
                and not NOT_SHARED.search(response.get("Cache-Control", ""))):
            headers = [(k, v) for k, v in response.items() if k.lower() not in DROPPED_HEADERS]
            entry = (headers, response.content, built_at)
            cache.set(key, entry, seconds)
            _remember(key, entry)
            response["X-Cache"] = "miss"
        return response
