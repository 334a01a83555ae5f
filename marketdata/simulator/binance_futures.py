"""Binance USDⓈ-M futures market data (/fapi/v1/..., /futures/data/...) in Binance's wire format.

Its own weight limiter (2,400 per minute by default) with the spot 429/418 rules, plus two
request-count caps per 5 windows: 500 fundingRate calls and 1,000 calls shared by the four
/futures/data endpoints. Prices are the spot paths times (1 + basis); see futures_model.py.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .binance_spot import ParamError, _handler, _int, _symbol, internal_error
from .futures_data import ENDPOINTS, MAX_LIMIT, FuturesData, grid
from .futures_model import FUNDING_HOURS, INTEREST, FuturesModel
from .ratelimit import CountLimiter, Decision, WeightLimiter
from .server import Cap, Reply, Request, Route, Service
from .universe import HOUR_MS, Instrument, hour_ms, hour_of

if TYPE_CHECKING:
    from .futures_model import Perp
    from .server import SimulatorServer

SERVICE = "binance_futures"
USAGE_HEADER = "X-MBX-USED-WEIGHT-1M"
DELIVERY_DATE = 4133404800000  # what Binance sends for perpetuals (2100-12-25)
FUNDING_MS = FUNDING_HOURS * HOUR_MS
MAX_KLINES = 1500


def klines_weight(req: Request) -> int:
    """< 100 rows → 1, < 500 → 2, ≤ 1000 → 5, more → 10 (the default limit is 500)."""
    try:
        limit = int(req.params.get("limit") or 500)
    except ValueError:
        return 1
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _decimals(step: float) -> int:
    return max(0, min(8, round(-math.log10(step))))


def _px(x: float, tick: float) -> str:
    return f"{round(x / tick) * tick:.8f}"


def install(sim: "SimulatorServer") -> None:
    market = sim.market
    model = FuturesModel(market)
    data = FuturesData(model)
    sim.futures = model  # type: ignore[attr-defined]  # for tests and benchmarks
    window = sim.window_seconds
    five = 5 * window  # "per 5 minutes", scaled like every other window
    per = f"{int(window // 60)} MINUTE" if window % 60 == 0 else f"{window:g} SECOND"

    def reject(d: Decision) -> Reply:
        if d.status == 418:
            return Reply(418, {"code": -1003, "msg": f"Way too much request weight used; IP banned "
                               f"until {d.banned_until_ms}. Please use WebSocket Streams for live "
                               f"updates to avoid bans."}, {"Retry-After": str(d.retry_after)})
        return Reply(429, {"code": -1003, "msg": f"Too much request weight used; current limit is "
                           f"{sim.futures_weight_limit} request weight per {per}. Please use "
                           f"WebSocket Streams for live updates to avoid polling the API."},
                     {"Retry-After": str(d.retry_after)})

    def cap(limit: int, what: str) -> Cap:
        def too_many(d: Decision) -> Reply:
            return Reply(429, {"code": -1003, "msg": f"Too many requests; current limit of {what} "
                               f"is {limit} requests per 5 x {per}."},
                         {"Retry-After": str(d.retry_after)})
        return Cap(CountLimiter(limit, five, sim.clock), too_many)

    limiter = WeightLimiter(sim.futures_weight_limit, window, sim.ban_after, sim.clock)
    sim.add_service(Service(SERVICE, limiter, USAGE_HEADER, reject, error_body=internal_error))

    def symbol_info(x: Instrument, perp: "Perp", now_h: int) -> dict:
        return {
            "symbol": x.symbol, "pair": x.symbol, "contractType": "PERPETUAL",
            "deliveryDate": DELIVERY_DATE, "onboardDate": hour_ms(perp.onboard_h),
            "status": model.status(x, now_h), "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": x.base, "quoteAsset": x.quote,
            "marginAsset": "USDT", "pricePrecision": _decimals(x.tick),
            "quantityPrecision": _decimals(x.step), "baseAssetPrecision": 8,
            "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
            "settlePlan": 0, "triggerProtect": "0.0500", "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f"{x.tick:.8f}",
                 "maxPrice": "1000000", "tickSize": f"{x.tick:.8f}"},
                {"filterType": "LOT_SIZE", "minQty": f"{x.step:.8f}", "maxQty": "10000000",
                 "stepSize": f"{x.step:.8f}"},
                {"filterType": "MIN_NOTIONAL", "notional": "5"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                           "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }

    @_handler
    def exchange_info(req: Request) -> Reply:
        now = market.now_ms()
        return Reply(200, {
            "timezone": "UTC", "serverTime": now,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": sim.futures_weight_limit},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 1200},
            ],
            "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True,
                                               "autoAssetExchange": "-10000"}],
            "symbols": [symbol_info(x, p, hour_of(now)) for x, p in model.listed(now)],
        })

    def chosen(req: Request, now: int) -> list[tuple[Instrument, "Perp"]]:
        name = _symbol(req, required=False)
        return [model.require(name, now)] if name else model.listed(now)

    def ticker(x: Instrument, now: int) -> dict:
        t = market.ticker_24h(x.symbol, now)
        k = model.last_knot(x, now)
        basis = model.funding(x, max(x.list_h, k - 24), k, now)["basis"]
        f_now, f_then = 1 + basis[-1], 1 + basis[0]
        last, open_ = float(t["lastPrice"]) * f_now, float(t["openPrice"]) * f_then
        mult = model.perp(x).volume_mult
        volume, quote = float(t["volume"]) * mult, float(t["quoteVolume"]) * mult * f_now
        count = int(t["count"] * mult)
        first_id = int(max(t["firstId"], 0) * mult)
        return {
            "symbol": x.symbol, "priceChange": _px(last - open_, x.tick),
            "priceChangePercent": f"{100 * (last - open_) / open_:.3f}",
            "weightedAvgPrice": _px(quote / volume if volume else last, x.tick),
            "lastPrice": _px(last, x.tick), "lastQty": t["lastQty"],
            "openPrice": _px(open_, x.tick),
            "highPrice": _px(max(float(t["highPrice"]) * f_now, last, open_), x.tick),
            "lowPrice": _px(min(float(t["lowPrice"]) * f_now, last, open_), x.tick),
            "volume": f"{volume:.8f}", "quoteVolume": f"{quote:.8f}",
            "openTime": t["openTime"], "closeTime": t["closeTime"],
            "firstId": first_id if count else -1, "lastId": first_id + count - 1 if count else -1,
            "count": count,
        }

    @_handler
    def ticker_24hr(req: Request) -> Reply:
        now = market.now_ms()
        rows = [ticker(x, now) for x, _ in chosen(req, now)]
        return Reply(200, rows[0] if req.params.get("symbol") else rows)

    def premium(x: Instrument, now: int) -> dict:
        k = model.last_knot(x, now)
        knot = model.funding(x, k, k, now)
        index = market.price_at(x, now, now) or float(knot["index"][0])
        return {"symbol": x.symbol, "markPrice": _px(index * (1 + knot["basis"][0]), x.tick),
                "indexPrice": f"{index:.8f}", "estimatedSettlePrice": f"{index:.8f}",
                "lastFundingRate": f"{knot['rate'][0]:.8f}", "interestRate": f"{INTEREST:.8f}",
                "nextFundingTime": (now // FUNDING_MS + 1) * FUNDING_MS, "time": now}

    @_handler
    def premium_index(req: Request) -> Reply:
        now = market.now_ms()
        rows = [premium(x, now) for x, _ in chosen(req, now)]
        return Reply(200, rows[0] if req.params.get("symbol") else rows)

    @_handler
    def funding_rate(req: Request) -> Reply:
        now = market.now_ms()
        x, perp = model.require(_symbol(req, required=True), now)  # type: ignore[arg-type]
        start, end, limit = _int(req, "startTime"), _int(req, "endTime"), _int(req, "limit")
        limit = 100 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise ParamError(-1130, "Parameter 'limit' is invalid: it must be 1 to 1000.")
        last = min(now, hour_ms(model.last_knot(x, now)))
        span = grid(hour_ms(perp.onboard_h) // FUNDING_MS + 1, last // FUNDING_MS, start, end,
                    limit, FUNDING_MS)
        if span is None:
            return Reply(200, [])
        h_lo, h_hi = span[0] * FUNDING_HOURS + hour_of(0), span[1] * FUNDING_HOURS + hour_of(0)
        knots = model.funding(x, h_lo, h_hi, now)
        rows = []
        for i, t in enumerate(range(span[0] * FUNDING_MS, span[1] * FUNDING_MS + 1, FUNDING_MS)):
            j = i * FUNDING_HOURS
            mark = knots["index"][j] * (1 + knots["basis"][j])
            rows.append({"symbol": x.symbol, "fundingRate": f"{knots['rate'][j]:.8f}",
                         "fundingTime": t, "markPrice": _px(mark, x.tick)})
        return Reply(200, rows)

    @_handler
    def open_interest(req: Request) -> Reply:
        now = market.now_ms()
        x, _ = model.require(_symbol(req, required=True), now)  # type: ignore[arg-type]
        t = min(now, hour_ms(model.last_knot(x, now)))
        return Reply(200, {"symbol": x.symbol, "openInterest": f"{model.open_interest(x, t):.3f}",
                           "time": now})

    @_handler
    def klines(req: Request) -> Reply:
        now = market.now_ms()
        symbol = _symbol(req, required=True)
        interval = req.params.get("interval")
        if not interval:
            raise ParamError(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, "
                                    "or malformed.")
        start, end, limit = _int(req, "startTime"), _int(req, "endTime"), _int(req, "limit")
        limit = 500 if limit is None else limit
        if not 1 <= limit <= MAX_KLINES:
            raise ParamError(-1130, "Parameter 'limit' is invalid: it must be 1 to 1500.")
        if start is not None and end is not None and start > end:
            raise ParamError(-1023, "Start time is greater than end time.")
        market.kline_book.span(market.universe.btc(), interval, None, None, 1, now)  # interval
        x, perp = model.require(symbol, now)  # type: ignore[arg-type]
        return Reply(200, market.kline_book.body("futures", x, interval, start, end, limit, now,
                                                 perp.onboard_h, model.transform))

    def series(endpoint: str) -> Callable[[Request], Reply]:
        @_handler
        def serve(req: Request) -> Reply:
            symbol = _symbol(req, required=True)
            period = req.params.get("period")
            if not period:
                raise ParamError(-1102, "Mandatory parameter 'period' was not sent, was "
                                        "empty/null, or malformed.")
            start, end, limit = _int(req, "startTime"), _int(req, "endTime"), _int(req, "limit")
            limit = 30 if limit is None else limit
            if not 1 <= limit <= MAX_LIMIT:
                raise ParamError(-1130, "Parameter 'limit' is invalid: it must be 1 to 500.")
            assert symbol is not None  # required=True
            return Reply(200, data.series(endpoint, symbol, period, start, end, limit))
        return serve

    def add(path: str, fn: Callable[[Request], Reply], weight: int | Callable[[Request], int],
            limit: Cap | None = None) -> None:
        sim.add_route("GET", path, Route(SERVICE, fn, weight, limit))

    one_or = (lambda n: lambda req: 1 if req.params.get("symbol") else n)
    add("/fapi/v1/ping", lambda req: Reply(200, {}), 1)
    add("/fapi/v1/time", lambda req: Reply(200, {"serverTime": market.now_ms()}), 1)
    add("/fapi/v1/exchangeInfo", exchange_info, 1)
    add("/fapi/v1/ticker/24hr", ticker_24hr, one_or(40))
    add("/fapi/v1/premiumIndex", premium_index, one_or(10))
    # The hour's perpetuals and their funding knots, which every premiumIndex answer reads.
    sim.warmers.append(lambda now: [premium(x, now) for x, _ in model.listed(now)])
    # fundingRate and /futures/data cost no request weight: their own caps limit them instead
    add("/fapi/v1/fundingRate", funding_rate, 0, cap(sim.funding_rate_per_5min, "fundingRate"))
    add("/fapi/v1/openInterest", open_interest, 1)
    add("/fapi/v1/klines", klines, klines_weight)
    shared = cap(sim.futures_data_per_5min, "/futures/data")
    for endpoint in ENDPOINTS:
        add(f"/futures/data/{endpoint}", series(endpoint), 0, shared)
