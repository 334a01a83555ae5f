"""The simulator's HTTP server: one loopback port that speaks the outside services' wire formats.

Stdlib only (no Django), so tests can run it in a thread. Requests are routed by a small table
of (method, path) -> Route; each route belongs to a *service* ("binance_spot",
"binance_futures", "coingecko", "lunarcrush", "sim") that owns its rate limiter, its usage
header, the shape of its 429/418 answers and of its 5xx bodies. Adding a service = one module with an `install(server)` function that
calls `add_service` and `add_route` (see binance_spot.py). A route may carry a `Cap`: a
request-count limit of its own on top of the service's weight (Binance futures' fundingRate
and /futures/data caps). Injected faults (faults.py) apply to every service but `sim`.
"""
from __future__ import annotations

import json
import random
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .episodes import DEFAULT_PARAMS, EpisodeParams
from .faults import ERROR, MALFORMED, TIMEOUT, Faults
from .market import SimMarket
from .ratelimit import CountLimiter, Decision

SIM_HEADER = "X-CryptoSatX-Simulator"  # the app marks data from responses carrying it as simulated


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]  # query string (first value of each key)
    body: bytes
    client: str  # client IP: rate limits are per IP, as on the real services
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: Any  # serialised as JSON; bytes are sent as they are (pre-serialised JSON, HTML)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Cap:
    """A request-count limit shared by a group of routes, with its own 429 answer."""

    limiter: CountLimiter
    reject: Callable[[Decision], Reply]


@dataclass
class Route:
    service: str
    handler: Callable[[Request], Reply]
    weight: int | Callable[[Request], int] = 1  # known before the work, like Binance's weights
    cap: Cap | None = None


@dataclass
class Service:
    """A simulated outside service: its limiter and how it says "too many requests"."""

    name: str
    limiter: Any = None  # WeightLimiter, CountLimiter or QuotaLimiter: charge() and snapshot()
    usage_header: str | None = None  # e.g. X-MBX-USED-WEIGHT-1M
    reject: Callable[[Decision], Reply] | None = None  # builds the 429/418 reply
    delayed: bool = True  # subject to the injected latency
    error_body: Callable[[int], Any] | None = None  # JSON body of an injected 5xx
    faultable: bool = True


class SimulatorServer:
    """Loopback HTTP server for the simulated services; `with SimulatorServer() as sim: ...`."""

    def __init__(self, seed: int = 42, coins: int = 520, host: str = "127.0.0.1", port: int = 0,
                 latency_ms: float = 0, jitter_ms: float = 0, weight_limit: int = 6000,
                 window_seconds: float = 60, ban_after: int = 10,
                 clock: Callable[[], float] = time.time, *,
                 futures_weight_limit: int = 2400, futures_data_per_5min: int = 1000,
                 funding_rate_per_5min: int = 500, coingecko_per_minute: int = 30,
                 html_429: bool = False, lunarcrush_per_minute: int = 10,
                 lunarcrush_per_day: int = 2000, require_keys: bool = False,
                 error_rate: float = 0.0, timeout_rate: float = 0.0, malformed_rate: float = 0.0,
                 timeout_seconds: float = 30.0, episodes: EpisodeParams = DEFAULT_PARAMS,
                 cache_mb: float = 256, telegram_blocked: tuple[int | str, ...] = (),
                 telegram_unknown: tuple[int | str, ...] = ()) -> None:
        self.seed, self.coins, self.clock = seed, coins, clock
        self.market = SimMarket(seed=seed, n_coins=coins, clock=clock, episodes=episodes,
                                cache_mb=cache_mb)
        self.weight_limit, self.window_seconds = weight_limit, window_seconds
        self.ban_after = ban_after
        self.futures_weight_limit = futures_weight_limit
        self.futures_data_per_5min, self.funding_rate_per_5min = (futures_data_per_5min,
                                                                  funding_rate_per_5min)
        self.coingecko_per_minute, self.html_429 = coingecko_per_minute, html_429
        self.lunarcrush_per_minute, self.lunarcrush_per_day = (lunarcrush_per_minute,
                                                               lunarcrush_per_day)
        self.require_keys = require_keys
        self.telegram_blocked = tuple(telegram_blocked)  # chat ids: 403 "bot was blocked"
        self.telegram_unknown = tuple(telegram_unknown)  # chat ids: 400 "chat not found"
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.faults = Faults(seed, error_rate, timeout_rate, malformed_rate, timeout_seconds)
        self._jitter = random.Random(seed + 0x5EED)  # separate RNG: market data stay deterministic
        self._lock = threading.Lock()
        self.services: dict[str, Service] = {}
        self.routes: dict[tuple[str, str], Route] = {}
        self.prefix_routes: list[tuple[str, str, Route]] = []  # e.g. /telegram/bot<token>/...
        self.requests = 0
        self.status_counts: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self.warm_state = "not started"  # the start-up warm-up (warm_in_background): running, done
        # What each service builds once per simulated hour (or minute) for its bulk answers, built by
        # `warm` ahead of the first request: fn(now_ms), registered by the service's install().
        self.warmers: list[Callable[[int], object]] = []

        # late imports: the service modules import this one
        from . import binance_futures, binance_spot, coingecko, lunarcrush, simapi, telegram

        simapi.install(self)
        binance_spot.install(self)
        binance_futures.install(self)
        coingecko.install(self)
        lunarcrush.install(self)
        telegram.install(self)

        self.httpd = _Server((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.sim = self  # type: ignore[attr-defined]

    # ---- routing table ---------------------------------------------------------------------
    def add_service(self, service: Service) -> None:
        self.services[service.name] = service

    def add_route(self, method: str, path: str, route: Route, prefix: bool = False) -> None:
        """Serve `method path` (or every path starting with `path` if prefix) with `route`."""
        if route.service not in self.services:
            raise ValueError(f"unknown service {route.service!r}: add_service() it first")
        if prefix:
            self.prefix_routes.append((method, path, route))
        else:
            self.routes[(method, path)] = route

    def find(self, method: str, path: str) -> Route | None:
        route = self.routes.get((method, path))
        if route is None:
            route = next((r for m, p, r in self.prefix_routes
                          if m == method and path.startswith(p)), None)
        return route

    # ---- request processing (called from the handler threads) ----------------------------
    def handle(self, req: Request) -> Reply:
        route = self.find(req.method, req.path)
        if route is None:
            known = any(p == req.path for _, p in self.routes) or any(
                req.path.startswith(p) for _, p, _ in self.prefix_routes)
            if known:
                return Reply(405, {"code": -1, "msg": f"Method {req.method} not allowed here."})
            return Reply(404, {"code": -1, "msg": f"Unknown path: {req.path}"})
        service = self.services[route.service]
        decision = None
        if service.limiter is not None:
            weight = route.weight(req) if callable(route.weight) else route.weight
            decision = service.limiter.charge(req.client, weight)
        if decision is not None and not decision.allowed and service.reject is not None:
            reply = service.reject(decision)
        elif route.cap is not None and not (capped := route.cap.limiter.charge(req.client)).allowed:
            reply = route.cap.reject(capped)
        else:
            fault, variant = self.faults.roll() if service.faultable else (None, 0.0)
            if fault == ERROR:
                reply = self.faults.error_reply(variant, service.error_body)
            else:
                reply = self._run(route, req)
                if fault == TIMEOUT:  # hold the answer until the client has given up
                    time.sleep(self.faults.timeout_seconds)
                elif fault == MALFORMED:
                    reply = self.faults.malformed_reply(reply, variant)
        if decision is not None:
            for k, v in decision.headers.items():
                reply.headers.setdefault(k, v)
            if service.usage_header:
                reply.headers.setdefault(service.usage_header, str(decision.used))
        if service.delayed:
            self._delay()
        if route.service != "sim":
            with self._lock:
                self.requests += 1
                key = str(reply.status)
                self.status_counts[key] = self.status_counts.get(key, 0) + 1
        return reply

    @staticmethod
    def _run(route: Route, req: Request) -> Reply:
        try:
            return route.handler(req)
        except Exception:  # a simulator bug must still answer like a server would
            traceback.print_exc(file=sys.stderr)
            return Reply(500, {"code": -1000, "msg": "An unknown error occurred while "
                                                     "processing the request."})

    def _delay(self) -> None:
        """Injected latency: a plain sleep in this request's thread, no lock held (the GIL is
        released while sleeping), so other requests are served meanwhile."""
        if self.latency_ms <= 0 and self.jitter_ms <= 0:
            return
        with self._lock:
            jitter = self._jitter.uniform(-self.jitter_ms, self.jitter_ms)
        time.sleep(max(0.0, self.latency_ms + jitter) / 1000.0)

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def warm(self) -> None:
        """Every coin's price path and recent candles (SimMarket.warm), then what the services'
        bulk answers are built from for the current hour: the perpetuals' listing and funding
        knots, the social snapshot, the market table. Built on the first requests instead, they were
        about half the simulator's CPU in a cold 990-coin scan, on the cores the scan uses
        (docs/simulator.md; a real service does not build its tables per request either)."""
        self.market.warm()
        now = self.market.now_ms()
        for warmer in self.warmers:
            warmer(now)

    def warm_in_background(self) -> threading.Thread:
        """Generate all price paths now rather than on the first scan (requests still work).
        `/sim/state` says when it has finished (`warm`)."""
        def warm() -> None:
            self.warm_state = "running"
            self.warm()
            self.warm_state = "done"
        t = threading.Thread(target=warm, name="marketsim-warm", daemon=True)
        t.start()
        return t

    def start(self) -> "SimulatorServer":
        """Serve in a daemon thread; calling it again (e.g. from `with`) is a no-op."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="marketsim",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops connections when 50 clients connect at once, and a
    # dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled clients behave as with the real hosts
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "CryptoSatX-Simulator"

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Malformed Content-Length header.")
            return
        body = self.rfile.read(length) if length > 0 else b""  # keep the connection in step
        params: dict[str, str] = {}
        for k, v in parse_qsl(url.query, keep_blank_values=True):
            params.setdefault(k, v)
        req = Request(self.command, url.path, params, body, self.client_address[0],
                      {k.lower(): v for k, v in self.headers.items()})
        self._send(self.server.sim.handle(req))  # type: ignore[attr-defined]

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header(SIM_HEADER, "1")
            for k, v in reply.headers.items():
                self.send_header(k, v)
            # Headers and body in one write (end_headers would send the headers alone): one segment
            # to send and for the client to read instead of two, on every answer.
            self._headers_buffer.append(b"\r\n")
            head, self._headers_buffer = b"".join(self._headers_buffer), []
            self.wfile.write(head if self.command == "HEAD" else head + payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout); nothing to do

    _date: tuple[int, str] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second (email.utils.formatdate on every answer)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        if _Handler._date[0] != now:
            _Handler._date = (now, super().date_time_string(now))
        return _Handler._date[1]

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, HEAD, ...) as JSON too, never HTML."""
        self.close_connection = True
        self._send(Reply(code, {"code": -1, "msg": message or "Bad request."}))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the app's own logs are the interesting ones
