"""Binance spot market-data endpoints (/api/v3/...) on top of SimMarket, in Binance's wire format.

Weights, error codes and messages follow Binance (see docs APIS.md), so the real client code
and its rate-limit governor run unchanged against the simulator.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Callable

from .market import MarketError
from .ratelimit import Decision, WeightLimiter
from .universe import Instrument, hour_of
from .server import Reply, Request, Route, Service

if TYPE_CHECKING:
    from .server import SimulatorServer

SERVICE = "binance_spot"
USAGE_HEADER = "X-MBX-USED-WEIGHT-1M"
_SYMBOL_RE = re.compile(r"^[A-Z0-9-_.]{1,20}$")
_INT_RE = re.compile(r"^[0-9]{1,20}$")
_SYMBOLS_PATTERN = r'^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'


class ParamError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _error(code: int, msg: str, status: int = 400) -> Reply:
    return Reply(status, {"code": code, "msg": msg})


def _int(req: Request, name: str) -> int | None:
    raw = req.params.get(name)
    if raw is None:
        return None
    if not _INT_RE.match(raw):
        raise ParamError(-1100, f"Illegal characters found in parameter '{name}'; legal value is "
                                f"'^[0-9]{{1,20}}$'.")
    return int(raw)


def _symbol(req: Request, required: bool) -> str | None:
    raw = req.params.get("symbol")
    if not raw:
        if required:
            raise ParamError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                                    "or malformed.")
        return None
    if not _SYMBOL_RE.match(raw):
        raise ParamError(-1100, "Illegal characters found in parameter 'symbol'; legal value is "
                                "'^[A-Z0-9-_.]{1,20}$'.")
    return raw


def _symbols(req: Request) -> list[str] | None:
    """The `symbols=["BTCUSDT","ETHUSDT"]` JSON-array parameter, as Binance parses it."""
    raw = req.params.get("symbols")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        names = None
    if not (isinstance(names, list) and names and all(isinstance(n, str) and _SYMBOL_RE.match(n)
                                                      for n in names)):
        raise ParamError(-1100, "Illegal characters found in parameter 'symbols'; legal value is "
                                f"'{_SYMBOLS_PATTERN}'.")
    return names


def internal_error(status: int) -> dict:
    """Binance's body for a 5xx (the injected faults use it)."""
    return {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}


def _handler(fn: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    """Turn parameter and market errors into Binance's 400 error bodies."""
    def wrapped(req: Request) -> Reply:
        try:
            return fn(req)
        except (ParamError, MarketError) as exc:
            return _error(exc.code, exc.msg)
    return wrapped


def install(sim: "SimulatorServer") -> None:
    """Register the spot service (its rate limiter) and its routes on the server."""
    market = sim.market
    window = sim.window_seconds
    per = f"{int(window // 60)} MINUTE" if window % 60 == 0 else f"{window:g} SECOND"

    def reject(d: Decision) -> Reply:
        if d.status == 418:
            return Reply(418, {"code": -1003, "msg": f"Way too much request weight used; IP banned "
                               f"until {d.banned_until_ms}. Please use WebSocket Streams for live "
                               f"updates to avoid bans."}, {"Retry-After": str(d.retry_after)})
        return Reply(429, {"code": -1003, "msg": f"Too much request weight used; current limit is "
                           f"{sim.weight_limit} request weight per {per}. Please use WebSocket "
                           f"Streams for live updates to avoid polling the API."},
                     {"Retry-After": str(d.retry_after)})

    limiter = WeightLimiter(sim.weight_limit, window, sim.ban_after, sim.clock)
    sim.add_service(Service(SERVICE, limiter, USAGE_HEADER, reject, error_body=internal_error))

    def symbol_info(x: Instrument, now_h: int) -> dict:
        status = x.status(now_h)
        return {
            "symbol": x.symbol, "status": status, "baseAsset": x.base, "baseAssetPrecision": 8,
            "quoteAsset": x.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "isSpotTradingAllowed": status == "TRADING", "isMarginTradingAllowed": False,
            "permissionSets": [["SPOT"]],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f"{x.tick:.8f}",
                 "maxPrice": "1000000.00000000", "tickSize": f"{x.tick:.8f}"},
                {"filterType": "LOT_SIZE", "minQty": f"{x.step:.8f}",
                 "maxQty": "9000000000.00000000", "stepSize": f"{x.step:.8f}"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
        }

    def selected(req: Request) -> list[Instrument] | None:
        """Instruments named by symbol= / symbols=, or None for all of them."""
        one, many = _symbol(req, required=False), _symbols(req)
        if one and many:
            raise ParamError(-1128, "Combination of optional parameters invalid.")
        names = [one] if one else many
        if names is None:
            return None
        now = market.now_ms()
        found = [market.instrument(n, now) for n in names]
        if any(x is None for x in found):
            raise ParamError(-1121, "Invalid symbol.")
        return found  # type: ignore[return-value]

    # The whole listing's "symbols" array, serialized once per simulated hour (the visible pairs and
    # their statuses change by the hour): ~12 ms a request at 1,000 coins, on every scan's critical
    # path (the universe comes before every other request). Built ahead by the server's warm-up.
    listing: dict[int, bytes] = {}

    def all_symbols(now: int) -> bytes:
        h = hour_of(now)
        body = listing.get(h)
        if body is None:
            body = json.dumps([symbol_info(x, h) for x in market.instruments(now)], separators=(",", ":")).encode()
            listing.clear()
            listing[h] = body
        return body
    sim.warmers.append(all_symbols)

    @_handler
    def exchange_info(req: Request) -> Reply:
        now = market.now_ms()
        chosen = selected(req)
        minute = window % 60 == 0
        head = {
            "timezone": "UTC", "serverTime": now,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE" if minute else "SECOND",
                 "intervalNum": int(window // 60) if minute else window, "limit": sim.weight_limit},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
                 "limit": 61000},
            ],
            "exchangeFilters": [],
        }
        if chosen is not None:
            return Reply(200, {**head, "symbols": [symbol_info(x, hour_of(now)) for x in chosen]})
        # the same bytes the server's JSON encoding of the whole answer gives (keys in this order)
        return Reply(200, json.dumps(head, separators=(",", ":")).encode()[:-1] + b',"symbols":'
                     + all_symbols(now) + b"}")

    def ticker_weight(req: Request) -> int:
        if req.params.get("symbol"):
            return 2
        try:
            names = _symbols(req)
        except ParamError:
            return 2
        return 80 if names is None else min(80, 2 * len(names))

    @_handler
    def ticker_24hr(req: Request) -> Reply:
        chosen = selected(req)
        if req.params.get("symbol"):
            return Reply(200, market.ticker_24h(chosen[0].symbol))  # type: ignore[index]
        items = market.instruments() if chosen is None else chosen
        return Reply(200, [market.ticker_24h(x.symbol) for x in items])

    @_handler
    def ticker_price(req: Request) -> Reply:
        chosen = selected(req)
        if req.params.get("symbol"):
            x = chosen[0]  # type: ignore[index]
            return Reply(200, {"symbol": x.symbol, "price": f"{market.price(x.symbol):.8f}"})
        items = market.instruments() if chosen is None else chosen
        return Reply(200, [{"symbol": x.symbol, "price": f"{market.price(x.symbol):.8f}"}
                           for x in items])

    @_handler
    def klines(req: Request) -> Reply:
        symbol = _symbol(req, required=True)
        interval = req.params.get("interval")
        if not interval:
            raise ParamError(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, "
                                    "or malformed.")
        start, end, limit = _int(req, "startTime"), _int(req, "endTime"), _int(req, "limit")
        if limit is None:
            limit = 500
        if not 1 <= limit <= 1000:
            raise ParamError(-1130, "Illegal characters found in parameter 'limit'; legal range is "
                                    "'1000'.")
        if start is not None and end is not None and start > end:
            raise ParamError(-1023, "Start time is greater than end time.")
        assert symbol is not None  # required=True
        return Reply(200, market.klines_json(symbol, interval, start, end, limit))

    def add(path: str, fn: Callable[[Request], Reply], weight: int | Callable[[Request], int]) -> None:
        sim.add_route("GET", path, Route(SERVICE, fn, weight))

    add("/api/v3/ping", lambda req: Reply(200, {}), 1)
    add("/api/v3/time", lambda req: Reply(200, {"serverTime": market.now_ms()}), 1)
    add("/api/v3/exchangeInfo", exchange_info, 20)
    add("/api/v3/ticker/24hr", ticker_24hr, ticker_weight)
    add("/api/v3/ticker/price",
        ticker_price, lambda req: 2 if req.params.get("symbol") or "symbols" in req.params else 4)
    add("/api/v3/klines", klines, 2)
