"""Binance spot market data (APIS.md): exchangeInfo, ticker/24hr and klines with pagination.

Parsing is strict: a row that does not match the wire format raises MalformedResponseError
naming the field, so garbage never turns into a silent zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from math import isfinite
from typing import Any, NamedTuple

import orjson

from .errors import MalformedResponseError
from .http import ServiceClient

INTERVAL_MS = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}
MAX_KLINES = 1000
WEIGHT_EXCHANGE_INFO, WEIGHT_TICKER_ALL, WEIGHT_TICKER_ONE, WEIGHT_KLINES = 20, 80, 2, 2


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _num(value: Any, field: str, service: str = "binance_spot") -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedResponseError(f"field {field} is not a number: {value!r}", service=service) from exc
    if out != out or out in (float("inf"), float("-inf")):
        raise MalformedResponseError(f"field {field} is not finite: {value!r}", service=service)
    return out


def _int(value: Any, field: str, service: str = "binance_spot") -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MalformedResponseError(f"field {field} is not an integer: {value!r}", service=service)
    try:
        return int(value)
    except ValueError as exc:
        raise MalformedResponseError(f"field {field} is not an integer: {value!r}", service=service) from exc


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    spot_trading: bool


class Kline(NamedTuple):
    # A NamedTuple, not a dataclass: a cold scan parses half a million of these.
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    close_time: int
    quote_volume: float
    trades: int
    taker_buy_base_volume: float
    taker_buy_quote_volume: float

    @classmethod
    def parse(cls, row: Any, service: str = "binance_spot") -> "Kline":
        # Fast path for the well-formed row; anything unusual goes to the careful path that names the field.
        try:
            if type(row) is list and len(row) >= 11 and type(row[0]) is int and type(row[6]) is int \
                    and type(row[8]) is int:
                k = cls(row[0], float(row[1]), float(row[2]), float(row[3]), float(row[4]), float(row[5]), row[6],
                        float(row[7]), row[8], float(row[9]), float(row[10]))
                if isfinite(k[1] + k[2] + k[3] + k[4] + k[5] + k[7] + k[9] + k[10]):
                    return k
        except (TypeError, ValueError):
            pass
        return cls._parse_carefully(row, service)

    @classmethod
    def _parse_carefully(cls, row: Any, service: str) -> "Kline":
        if not isinstance(row, list) or len(row) < 11:
            raise MalformedResponseError(f"kline row is not a list of 12 fields: {str(row)[:80]}", service=service)
        return cls(
            open_time=_int(row[0], "open_time", service), open=_num(row[1], "open", service),
            high=_num(row[2], "high", service), low=_num(row[3], "low", service),
            close=_num(row[4], "close", service), volume=_num(row[5], "volume", service),
            close_time=_int(row[6], "close_time", service), quote_volume=_num(row[7], "quote_volume", service),
            trades=_int(row[8], "trades", service),
            taker_buy_base_volume=_num(row[9], "taker_buy_base_volume", service),
            taker_buy_quote_volume=_num(row[10], "taker_buy_quote_volume", service),
        )

    def is_closed(self, now_ms: int) -> bool:
        return self.close_time < now_ms


_ROW_QUOTES = 18  # a kline row as Binance sends it: 12 fields, 9 of them quoted strings
_NUMBER_BYTES = b"0123456789.-+eE,[] \t\r\n"  # all a klines answer holds once its quotes are out


def decode_klines(content: bytes) -> Any:
    """A klines answer's JSON. Binance sends every price and volume as a string ("0.01634790"), and
    converting ~4,000 of them per answer with float() was the largest CPU cost of a cold scan's fetch
    (~1.3 ms of 2.7 per answer). With the quotes taken out, orjson parses them as numbers itself: the
    same floats (correctly rounded: a test compares a million values with float()), 2.5 times faster.
    Only when that is safe — nothing but digits, signs, exponents and JSON punctuation (so a quoted
    "true", "null" or "NaN" cannot become a value), rows of 12 fields with 18 quotes each (so a quoted
    "1,5" cannot shift a row) — else the body is decoded as sent and checked field by field as
    before, naming the field that is wrong."""
    stripped = content.replace(b'"', b"")
    if not stripped.translate(None, _NUMBER_BYTES):
        try:
            rows = orjson.loads(stripped)
        except ValueError:
            rows = None
        if (type(rows) is list and len(content) - len(stripped) == _ROW_QUOTES * len(rows)
                and all(type(row) is list and len(row) == 12 for row in rows)):
            return rows
    return orjson.loads(content)


_INT_FIELDS = (0, 6, 8)  # open_time, close_time, trades
_FLOAT_FIELDS = (1, 2, 3, 4, 5, 7, 9, 10)


class KlineColumns:
    """Klines as one list per field (the fields of `Kline`, same values): what a scan archives and
    keeps. A cold scan parses half a million rows; per column, the conversions and checks run in C
    (`map(float, ...)`, `zip`) instead of Python code per row, and no object is built per candle."""

    __slots__ = Kline._fields

    def __init__(self, *columns: list) -> None:
        for name, column in zip(self.__slots__, columns, strict=True):
            setattr(self, name, column)

    @classmethod
    def empty(cls) -> "KlineColumns":
        return cls(*([] for _ in cls.__slots__))

    @classmethod
    def parse(cls, rows: Any, service: str = "binance_spot") -> "KlineColumns":
        """The rows of a klines answer, checked as strictly as `Kline.parse` checks each row: any row
        the fast path does not accept is parsed row by row, which names the field that is wrong."""
        if type(rows) is list:
            if not rows:
                return cls.empty()
            if set(map(type, rows)) == {list}:
                columns = list(zip(*rows))
                if len(columns) >= 11 and all(set(map(type, columns[i])) == {int} for i in _INT_FIELDS):
                    try:
                        floats = {i: list(map(float, columns[i])) for i in _FLOAT_FIELDS}
                    except (TypeError, ValueError):
                        floats = None
                    if floats is not None and all(isfinite(sum(col)) for col in floats.values()):
                        return cls(*(list(columns[i]) if i in _INT_FIELDS else floats[i] for i in range(11)))
        return cls.from_klines([Kline.parse(row, service) for row in rows])

    @classmethod
    def from_klines(cls, klines: list[Kline]) -> "KlineColumns":
        if not klines:
            return cls.empty()
        return cls(*map(list, zip(*klines)))

    @classmethod
    def concat(cls, parts: list["KlineColumns"]) -> "KlineColumns":
        return cls(*([v for part in parts for v in getattr(part, name)] for name in cls.__slots__))

    def __len__(self) -> int:
        return len(self.open_time)

    def klines(self) -> list[Kline]:
        return [Kline(*row) for row in zip(*(getattr(self, name) for name in self.__slots__))]

    def closed(self, now_ms: int) -> "KlineColumns":
        """The klines closed by `now_ms` (`Kline.is_closed`), in order."""
        times = self.close_time
        if not times or max(times) < now_ms:
            return self
        if times[-1] >= now_ms and (len(times) == 1 or max(times[:-1]) < now_ms):  # the usual case: the open one last
            return KlineColumns(*(getattr(self, name)[:-1] for name in self.__slots__))
        keep = [i for i, t in enumerate(times) if t < now_ms]
        return KlineColumns(*([column[i] for i in keep] for column in (getattr(self, n) for n in self.__slots__)))


@dataclass(frozen=True)
class Ticker24h:
    symbol: str
    last_price: float
    price_change_percent: float
    open_price: float
    high_price: float
    low_price: float
    volume: float
    quote_volume: float
    open_time: int
    close_time: int
    count: int

    @classmethod
    def parse(cls, row: Any) -> "Ticker24h":
        if not isinstance(row, dict) or "symbol" not in row:
            raise MalformedResponseError(f"ticker is not an object with a symbol: {str(row)[:80]}", service="binance_spot")
        return cls(
            symbol=str(row["symbol"]), last_price=_num(row.get("lastPrice"), "lastPrice"),
            price_change_percent=_num(row.get("priceChangePercent"), "priceChangePercent"),
            open_price=_num(row.get("openPrice"), "openPrice"), high_price=_num(row.get("highPrice"), "highPrice"),
            low_price=_num(row.get("lowPrice"), "lowPrice"), volume=_num(row.get("volume"), "volume"),
            quote_volume=_num(row.get("quoteVolume"), "quoteVolume"), open_time=_int(row.get("openTime"), "openTime"),
            close_time=_int(row.get("closeTime"), "closeTime"), count=_int(row.get("count"), "count"),
        )


class BinanceSpot:
    def __init__(self, http: ServiceClient):
        self.http = http

    async def exchange_info(self) -> list[SymbolInfo]:
        return await self.http.get_json("/api/v3/exchangeInfo", weight=WEIGHT_EXCHANGE_INFO, parse=self._parse_info)

    def _parse_info(self, body: Any) -> list[SymbolInfo]:
        symbols = body.get("symbols") if isinstance(body, dict) else None
        if not isinstance(symbols, list):
            raise MalformedResponseError("exchangeInfo has no symbols list", service="binance_spot")
        self._learn_limits(body.get("rateLimits"))
        out = []
        for s in symbols:
            try:
                out.append(SymbolInfo(symbol=str(s["symbol"]), status=str(s["status"]), base_asset=str(s["baseAsset"]),
                                      quote_asset=str(s["quoteAsset"]), spot_trading=bool(s.get("isSpotTradingAllowed"))))
            except (KeyError, TypeError) as exc:
                raise MalformedResponseError(f"exchangeInfo symbol lacks {exc}", service="binance_spot") from exc
        return out

    def _learn_limits(self, rate_limits: Any) -> None:
        """Adopt the published REQUEST_WEIGHT limit whose interval is the governor's window."""
        unit = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
        for limit in rate_limits if isinstance(rate_limits, list) else []:
            if not (isinstance(limit, dict) and limit.get("rateLimitType") == "REQUEST_WEIGHT"):
                continue
            seconds = unit.get(limit.get("interval"), 0) * (limit.get("intervalNum") or 0)
            if seconds == self.http.governor.limits.window_seconds and isinstance(limit.get("limit"), int):
                self.http.governor.learn_limit(limit["limit"])

    async def universe(self, quote_asset: str = "USDT") -> list[SymbolInfo]:
        """The tradable spot pairs quoted in `quote_asset` (APIS.md: TRADING and spot allowed)."""
        return [s for s in await self.exchange_info()
                if s.quote_asset == quote_asset and s.status == "TRADING" and s.spot_trading]

    async def tickers_24h(self) -> list[Ticker24h]:
        def parse(body: Any) -> list[Ticker24h]:
            if not isinstance(body, list):
                raise MalformedResponseError("ticker/24hr for all symbols is not a list", service="binance_spot")
            return [Ticker24h.parse(row) for row in body]
        return await self.http.get_json("/api/v3/ticker/24hr", weight=WEIGHT_TICKER_ALL, parse=parse)

    async def ticker_24h(self, symbol: str) -> Ticker24h:
        return await self.http.get_json("/api/v3/ticker/24hr", {"symbol": symbol}, weight=WEIGHT_TICKER_ONE,
                                        parse=Ticker24h.parse)

    async def klines(self, symbol: str, interval: str, *, start_time: int | None = None,
                     end_time: int | None = None, limit: int = 500) -> list[Kline]:
        """One page of klines (at most 1000)."""
        return (await self.klines_columns(symbol, interval, start_time=start_time, end_time=end_time,
                                          limit=limit)).klines()

    async def klines_columns(self, symbol: str, interval: str, *, start_time: int | None = None,
                             end_time: int | None = None, limit: int = 500) -> KlineColumns:
        """One page of klines (at most 1000), as columns."""
        if interval not in INTERVAL_MS:
            raise ValueError(f"unknown interval {interval!r}")
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": min(limit, MAX_KLINES)}
        if start_time is not None:
            params["startTime"] = start_time
        if end_time is not None:
            params["endTime"] = end_time
        def parse(body: Any) -> KlineColumns:
            if not isinstance(body, list):
                raise MalformedResponseError(f"klines for {symbol} is not a list", service="binance_spot")
            return KlineColumns.parse(body)
        return await self.http.get_json("/api/v3/klines", params, weight=WEIGHT_KLINES, parse=parse,
                                        decode=decode_klines)

    async def klines_since(self, symbol: str, interval: str, start_time: int, end_time: int | None = None, *,
                           columns: bool = False) -> list[Kline] | KlineColumns:
        """Every kline from `start_time` on, paging forward 1000 at a time (`columns`: as KlineColumns)."""
        pages: list[KlineColumns] = []
        cursor = start_time
        while True:
            page = await self.klines_columns(symbol, interval, start_time=cursor, end_time=end_time, limit=MAX_KLINES)
            pages.append(page)
            if len(page) < MAX_KLINES:
                break
            cursor = page.open_time[-1] + INTERVAL_MS[interval]
        out = pages[0] if len(pages) == 1 else KlineColumns.concat(pages)
        return out if columns else out.klines()

    async def latest_klines(self, symbol: str, interval: str, count: int, *,
                            columns: bool = False) -> list[Kline] | KlineColumns:
        """The newest `count` klines (the last one may still be open), paging backwards past 1000
        (`columns`: as KlineColumns)."""
        pages: list[KlineColumns] = []
        end: int | None = None
        remaining = count
        while remaining > 0:
            page = await self.klines_columns(symbol, interval, end_time=end, limit=min(remaining, MAX_KLINES))
            if not len(page):
                break
            pages.append(page)
            remaining -= len(page)
            if len(page) < min(remaining + len(page), MAX_KLINES):
                break  # the coin has no older history
            end = page.open_time[0] - 1
        pages.reverse()
        out = KlineColumns.empty() if not pages else pages[0] if len(pages) == 1 else KlineColumns.concat(pages)
        return out if columns else out.klines()

    async def first_candle_time(self, symbol: str, interval: str = "1h") -> int | None:
        """Open time of the first candle ever traded: the listing time."""
        page = await self.klines(symbol, interval, start_time=0, limit=1)
        return page[0].open_time if page else None
