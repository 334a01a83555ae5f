"""Point-in-time inputs of the scanners, the helpers that derive them from closed candles, and
the small tools every scanner shares (tiered rules, number formatting, rounding, to_dict).

Every optional input defaults to None, which means *missing* — never 0. A 1h candle is closed
once ``open_time + 1h <= as_of``; anything newer is ignored, so the live scan, the backtester and
the look-ahead check see the same numbers for the same ``as_of``.
"""
from __future__ import annotations

import math
import operator
from bisect import bisect_right
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable, NamedTuple

HOUR = timedelta(hours=1)
_OPS = {">": operator.gt, "≥": operator.ge, "<": operator.lt, "≤": operator.le}
_NEGATED = {">": "≤", "≥": "<", "<": "≥", "≤": ">"}


class HourlyCandle(NamedTuple):
    open_time: datetime
    close: float
    quote_volume: float
    taker_buy_quote_volume: float


@dataclass(frozen=True)
class CoinSnapshot:
    """Everything one coin's scanners may read at ``as_of``. Units are in the field comments."""

    symbol: str
    as_of: datetime
    candle_close_time: datetime | None = None  # close time of the newest closed 1h candle used
    last_close: float | None = None  # entry price of a signal computed on this snapshot
    # Derived from closed 1h candles (snapshot_from_candles)
    pct_4h: float | None = None  # close-to-close %, 4 candles
    pct_24h: float | None = None  # close-to-close %, 24 candles
    buy_pressure_pct: float | None = None  # taker-buy quote ÷ quote volume, last 24 candles, %
    quote_volume_24h: float | None = None
    avg_daily_quote_volume_7d: float | None = None  # the 7 days before the last 24h
    # Futures
    funding_pct: float | None = None  # lastFundingRate × 100
    oi_change_24h_pct: float | None = None
    top_trader_position_ratio: float | None = None  # long/short, positions
    futures_taker_buy_share_pct: float | None = None  # over 24h
    # Social (LunarCrush)
    social_volume_24h: float | None = None
    social_activity_pct: float | None = None  # percentile rank of social_volume_24h, 0–100
    galaxy_score: float | None = None
    galaxy_score_previous: float | None = None
    alt_rank: float | None = None
    alt_rank_previous: float | None = None
    sentiment: float | None = None  # 0–100
    volume_change_24h_pct: float | None = None
    # Listing (CoinGecko, first candle)
    fdv: float | None = None  # USD
    age_hours: float | None = None
    circulating_share_pct: float | None = None  # circulating ÷ total supply, %

    def __post_init__(self) -> None:
        if not isinstance(self.as_of, datetime) or self.as_of.utcoffset() is None:
            raise ValueError(f"{self.symbol}: as_of must be a timezone-aware datetime")
        for name in _NUMBER_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            # A string here (Binance sends numbers as strings) would fail later with an obscure
            # comparison error; fail now with the field's name instead.
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{self.symbol}: {name} must be a number or None, got {value!r}")
            if not math.isfinite(value):  # NaN/inf from a division upstream: unknown, so missing
                object.__setattr__(self, name, None)

    def to_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


# the fields __post_init__ checks, in declaration order (looked up once, not per snapshot)
_NUMBER_FIELDS = tuple(f.name for f in fields(CoinSnapshot) if f.name not in ("symbol", "as_of", "candle_close_time"))


# ---------------------------------------------------------------- derived from closed candles

def _utc(t: datetime | int | float) -> datetime:
    if isinstance(t, (int, float)) and not isinstance(t, bool):  # Binance milliseconds
        return datetime.fromtimestamp(t / 1000, tz=timezone.utc)
    if isinstance(t, datetime) and t.utcoffset() is not None:
        return t.astimezone(timezone.utc)
    raise ValueError(f"candle open_time must be tz-aware datetime or epoch ms, got {t!r}")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000
_HOUR_MS = 3_600_000


def _us(t: datetime | int | float) -> int:
    """A candle time as integer microseconds since the epoch: the same instant `_utc` gives, as a
    number. The scan derives its fields from ~200 candles per coin twice per scan; comparing and
    stepping integers instead of building a datetime per candle is most of the saving."""
    if type(t) is int:  # Binance milliseconds, exact (what _utc would round to the microsecond)
        return t * 1000
    return (_utc(t) - _EPOCH) // _US


def _closed(candles: Iterable[Any], as_of: datetime) -> list[tuple[int, float, float, float]]:
    """closed_candles with the open time in microseconds: (open_us, close, quote_volume, taker_buy_quote_volume)."""
    end = _us(as_of) - _HOUR_US
    by_time = {}
    for c in candles:
        if isinstance(c, (tuple, list)):
            t, close, qv, tb = c[:4]
        else:
            t, close, qv, tb = c.open_time, c.close, c.quote_volume, c.taker_buy_quote_volume
        t = _us(t)
        if t <= end:
            by_time[t] = (t, float(close), float(qv), float(tb))
    return [by_time[t] for t in sorted(by_time)]


def _closed_as_kept(candles: Any, as_of: datetime) -> list[tuple[int, float, float, float]] | None:
    """The closed candles of a list as CoinData keeps it (tuples of an integer open time in
    milliseconds, strictly increasing, and three floats), as they are: a slice found by bisection,
    open times still in milliseconds. None for anything else (datetimes, duplicates, disorder, other
    types or shapes), which `_closed` handles. The values are those `_closed` gives (its float() of a
    float is the float itself; its times are these × 1000), so every field derived from either is
    the same (tests compare the two); a cold scan derives ~200 candles' fields per coin, twice."""
    if type(candles) is not list:
        return None
    if not candles:
        return []
    if set(map(type, candles)) != {tuple} or set(map(len, candles)) != {4}:
        return None
    times, closes, quote, taker = zip(*candles)
    if set(map(type, times)) != {int} or not all(map(operator.lt, times, times[1:])) \
            or set(map(type, closes)) | set(map(type, quote)) | set(map(type, taker)) != {float}:
        return None
    return candles[:bisect_right(times, (_us(as_of) - _HOUR_US) // 1000)]  # t * 1000 <= end


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def closed_candles(candles: Iterable[Any], as_of: datetime) -> list[HourlyCandle]:
    """1h candles (tuples or objects with open_time, close, quote_volume, taker_buy_quote_volume)
    that had closed by ``as_of``, oldest first, one per open time."""
    return [HourlyCandle(_from_us(t), close, qv, tb) for t, close, qv, tb in _closed(candles, as_of)]


_FIRST, _QUOTE, _TAKER = operator.itemgetter(0), operator.itemgetter(2), operator.itemgetter(3)


def _window(closed: list[tuple[int, float, float, float]], count: int, hour: int = _HOUR_US
            ) -> list[tuple[int, float, float, float]] | None:
    """The ``count`` consecutive hours ending at the newest closed candle, or None on a gap:
    a gap would silently stretch "4h" over more than four hours. (``closed`` as `_closed` gives it,
    or `_closed_as_kept` with ``hour`` in milliseconds.)"""
    if len(closed) < count:
        return None
    last = closed[-1][0]
    tail = closed[-count:]
    if tail[0][0] == last - (count - 1) * hour:
        times = list(map(_FIRST, tail))
        if all(map(hour.__eq__, map(operator.sub, times[1:], times))):  # each an hour after the one before
            return tail
    by_time = {c[0]: c for c in closed}
    window = [by_time.get(last - k * hour) for k in range(count - 1, -1, -1)]
    return None if any(c is None for c in window) else window  # type: ignore[return-value]


def _pct(closed: list[tuple[int, float, float, float]], hours: int, hour: int = _HOUR_US) -> float | None:
    w = _window(closed, hours + 1, hour)
    if w is None or w[0][1] <= 0:
        return None
    return (w[-1][1] / w[0][1] - 1) * 100


def _buy_pressure(closed: list[tuple[int, float, float, float]], hours: int = 24, hour: int = _HOUR_US
                  ) -> float | None:
    w = _window(closed, hours, hour)
    total = sum(map(_QUOTE, w)) if w else 0.0
    return None if not w or total <= 0 else 100 * sum(map(_TAKER, w)) / total


def _volumes(closed: list[tuple[int, float, float, float]], hour: int = _HOUR_US
             ) -> tuple[float | None, float | None]:
    last24 = _window(closed, 24, hour)
    last8d = _window(closed, 24 * 8, hour)
    vol24 = sum(map(_QUOTE, last24)) if last24 else None
    avg7 = sum(map(_QUOTE, last8d[:-24])) / 7 if last8d else None
    return vol24, avg7


def pct_change(candles: Iterable[Any], as_of: datetime, hours: int) -> float | None:
    """Close-to-close % over the last ``hours`` closed candles (needs hours + 1 closes)."""
    return _pct(_closed(candles, as_of), hours)


def buy_pressure_pct(candles: Iterable[Any], as_of: datetime, hours: int = 24) -> float | None:
    """Taker-buy quote volume ÷ quote volume over the last ``hours`` closed candles, in %."""
    return _buy_pressure(_closed(candles, as_of), hours)


def quote_volumes(candles: Iterable[Any], as_of: datetime) -> tuple[float | None, float | None]:
    """(quote volume of the last 24 closed hours, average daily quote volume of the 7 days
    before them). Each is None without its full run of candles."""
    return _volumes(_closed(candles, as_of))


def snapshot_from_candles(symbol: str, as_of: datetime, candles: Iterable[Any], **inputs: Any) -> CoinSnapshot:
    """A snapshot whose candle-derived fields come from the closed 1h ``candles``; ``inputs``
    sets the other fields (and wins over a derived one of the same name)."""
    closed = _closed_as_kept(candles, as_of)  # once: every field below reads the same closed run
    if closed is not None:
        hour, to_us = _HOUR_MS, 1000  # open times in milliseconds
    else:
        closed, hour, to_us = _closed(candles, as_of), _HOUR_US, 1
    vol24, avg7 = _volumes(closed, hour)
    derived: dict[str, Any] = {
        "candle_close_time": _from_us((closed[-1][0] + hour) * to_us) if closed else None,
        "last_close": closed[-1][1] if closed else None,
        "pct_4h": _pct(closed, 4, hour),
        "pct_24h": _pct(closed, 24, hour),
        "buy_pressure_pct": _buy_pressure(closed, 24, hour),
        "quote_volume_24h": vol24,
        "avg_daily_quote_volume_7d": avg7,
    }
    return CoinSnapshot(symbol=symbol, as_of=as_of, **{**derived, **inputs})


# ---------------------------------------------------------------- shared scoring tools

class Tiers(NamedTuple):
    """A tiered rule: the first ``(threshold, points)`` with ``value <op> threshold`` wins;
    otherwise ``default`` (None: the rule earns nothing)."""

    op: str
    steps: tuple[tuple[float, float], ...]
    default: float | None = None

    def score(self, value: float, show: Callable[[float], str] = lambda x: fmt(x)) -> tuple[float, str] | None:
        """(points, the comparison that earned them, e.g. "≤ 50") or None."""
        for threshold, points in self.steps:
            if _OPS[self.op](value, threshold):
                return points, f"{self.op} {show(threshold)}"
        if self.default is None:
            return None
        return self.default, f"{_NEGATED[self.op]} {show(self.steps[-1][0])}"

    @property
    def max_points(self) -> float:
        return max([p for _, p in self.steps] + [self.default or 0])


def fmt(x: float, digits: int = 2) -> str:
    """A number for a reason string: ``digits`` decimals, trailing zeros dropped (83.1, 5)."""
    s = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def pts(x: float) -> str:
    return f"+{fmt(x)}"


def round_score(x: float, digits: int = 1) -> float:
    """Round half up after removing float noise, so 84.99999999 shows (and tiers) as 85.0."""
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(round(x, 9))).quantize(q, rounding=ROUND_HALF_UP))


class ResultMixin:
    """Results are dataclasses of JSON-friendly values; to_dict is what gets stored."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]
