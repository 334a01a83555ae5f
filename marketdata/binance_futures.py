"""Binance USDⓈ-M futures market data (APIS.md): exchangeInfo, premiumIndex, openInterest,
fundingRate, klines and the four capped `/futures/data` endpoints."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .binance_spot import INTERVAL_MS, MAX_KLINES, Kline, _int, _num
from .errors import MalformedResponseError
from .http import ServiceClient

SERVICE = "binance_futures"
FUTURES_DATA_BUCKET, FUNDING_BUCKET = "futures_data", "funding"
PERIODS = {"5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"}


def klines_weight(limit: int) -> int:
    """Futures klines cost by `limit`: < 100 → 1, < 500 → 2, ≤ 1000 → 5, more → 10."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def _obj(row: Any, what: str) -> dict:
    if not isinstance(row, dict):
        raise MalformedResponseError(f"{what} is not an object: {str(row)[:80]}", service=SERVICE)
    return row


def _list(body: Any, what: str) -> list:
    if not isinstance(body, list):
        raise MalformedResponseError(f"{what} is not a list", service=SERVICE)
    return body


@dataclass(frozen=True)
class Perpetual:
    symbol: str
    base_asset: str
    quote_asset: str
    status: str
    onboard_date: int | None


@dataclass(frozen=True)
class PremiumIndex:
    symbol: str
    mark_price: float
    index_price: float
    last_funding_rate: float
    next_funding_time: int
    time: int

    @property
    def funding_pct(self) -> float:
        return self.last_funding_rate * 100


@dataclass(frozen=True)
class OpenInterest:
    symbol: str
    open_interest: float
    time: int


@dataclass(frozen=True)
class FundingRate:
    symbol: str
    funding_rate: float
    funding_time: int


@dataclass(frozen=True)
class RatioPoint:
    """One row of a `/futures/data` series; `value` is the field the endpoint is about."""
    timestamp: int
    value: float
    extra: dict[str, float]


def _premium(row: Any) -> PremiumIndex:
    row = _obj(row, "premiumIndex row")
    return PremiumIndex(symbol=str(row.get("symbol")), mark_price=_num(row.get("markPrice"), "markPrice", SERVICE),
                        index_price=_num(row.get("indexPrice"), "indexPrice", SERVICE),
                        last_funding_rate=_num(row.get("lastFundingRate"), "lastFundingRate", SERVICE),
                        next_funding_time=_int(row.get("nextFundingTime"), "nextFundingTime", SERVICE),
                        time=_int(row.get("time"), "time", SERVICE))


# endpoint -> (the field that is its value, other numeric fields kept)
SERIES = {
    "openInterestHist": ("sumOpenInterest", ("sumOpenInterestValue",)),
    "takerlongshortRatio": ("buySellRatio", ("buyVol", "sellVol")),
    "globalLongShortAccountRatio": ("longShortRatio", ("longAccount", "shortAccount")),
    "topLongShortPositionRatio": ("longShortRatio", ("longAccount", "shortAccount")),
}


class BinanceFutures:
    def __init__(self, http: ServiceClient):
        self.http = http

    async def perpetuals(self) -> list[Perpetual]:
        def parse(body: Any) -> list[Perpetual]:
            symbols = _obj(body, "exchangeInfo").get("symbols")
            out = []
            for s in _list(symbols, "exchangeInfo symbols"):
                s = _obj(s, "exchangeInfo symbol")
                if s.get("contractType") != "PERPETUAL":
                    continue
                onboard = s.get("onboardDate")
                out.append(Perpetual(symbol=str(s.get("symbol")), base_asset=str(s.get("baseAsset")),
                                     quote_asset=str(s.get("quoteAsset")), status=str(s.get("status")),
                                     onboard_date=_int(onboard, "onboardDate", SERVICE) if onboard is not None else None))
            return out
        return await self.http.get_json("/fapi/v1/exchangeInfo", weight=1, parse=parse)

    async def premium_index_all(self) -> list[PremiumIndex]:
        return await self.http.get_json("/fapi/v1/premiumIndex", weight=10,
                                        parse=lambda b: [_premium(r) for r in _list(b, "premiumIndex")])

    async def open_interest(self, symbol: str) -> OpenInterest:
        def parse(body: Any) -> OpenInterest:
            body = _obj(body, "openInterest")
            return OpenInterest(str(body.get("symbol")), _num(body.get("openInterest"), "openInterest", SERVICE),
                                _int(body.get("time"), "time", SERVICE))
        return await self.http.get_json("/fapi/v1/openInterest", {"symbol": symbol}, weight=1, parse=parse)

    async def funding_rates(self, symbol: str, *, start_time: int | None = None, limit: int = 100) -> list[FundingRate]:
        params: dict[str, Any] = {"symbol": symbol, "limit": min(limit, 1000)}
        if start_time is not None:
            params["startTime"] = start_time

        def parse(body: Any) -> list[FundingRate]:
            return [FundingRate(str(r.get("symbol")), _num(r.get("fundingRate"), "fundingRate", SERVICE),
                                _int(r.get("fundingTime"), "fundingTime", SERVICE))
                    for r in (_obj(x, "fundingRate row") for x in _list(body, "fundingRate"))]
        return await self.http.get_json("/fapi/v1/fundingRate", params, weight=1, parse=parse, bucket=FUNDING_BUCKET)

    async def klines(self, symbol: str, interval: str, *, start_time: int | None = None,
                     end_time: int | None = None, limit: int = 500) -> list[Kline]:
        if interval not in INTERVAL_MS:
            raise ValueError(f"unknown interval {interval!r}")
        limit = min(limit, MAX_KLINES)
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": limit}
        if start_time is not None:
            params["startTime"] = start_time
        if end_time is not None:
            params["endTime"] = end_time
        return await self.http.get_json("/fapi/v1/klines", params, weight=klines_weight(limit),
                                        parse=lambda b: [Kline.parse(r, SERVICE) for r in _list(b, "klines")])

    async def series(self, endpoint: str, symbol: str, period: str = "1h", limit: int = 30) -> list[RatioPoint]:
        """One of the four `/futures/data` series (weight 0, but 1,000 calls per 5 minutes)."""
        if endpoint not in SERIES:
            raise ValueError(f"unknown futures data endpoint {endpoint!r}")
        if period not in PERIODS:
            raise ValueError(f"unknown period {period!r}")
        field, extras = SERIES[endpoint]

        def parse(body: Any) -> list[RatioPoint]:
            out = []
            for row in (_obj(x, f"{endpoint} row") for x in _list(body, endpoint)):
                out.append(RatioPoint(_int(row.get("timestamp"), "timestamp", SERVICE),
                                      _num(row.get(field), field, SERVICE),
                                      {k: _num(row.get(k), k, SERVICE) for k in extras if k in row}))
            return sorted(out, key=lambda p: p.timestamp)
        return await self.http.get_json(f"/futures/data/{endpoint}", {"symbol": symbol, "period": period,
                                                                      "limit": min(limit, 500)},
                                        weight=0, parse=parse, bucket=FUTURES_DATA_BUCKET)
