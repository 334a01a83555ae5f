"""What is known about one coin at a point in time, and the snapshot the scanners read from it.

`CoinData` holds closed hourly candles and time-stamped metric points, whether they were just
fetched (the live scan) or read back from the archive (the backtester and the look-ahead check).
`build_snapshot` is the one function that turns it into a `CoinSnapshot` at `as_of`: it only
looks at candles closed by then and metric points measured by then, and drops any point older
than its staleness limit (missing, not stale-as-fresh). Live and historical scoring share it.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter

from .snapshot import CoinSnapshot, snapshot_from_candles

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# metric -> how old (ms) a point may be and still count at as_of
STALENESS_MS = {
    "funding_pct": 9 * HOUR_MS,  # funding settles every 8h; premiumIndex updates it continuously
    "open_interest": 2 * HOUR_MS,
    "top_position_ratio": 3 * HOUR_MS,
    "futures_taker_buy_vol": 3 * HOUR_MS,
    "futures_taker_sell_vol": 3 * HOUR_MS,
    "galaxy_score": 6 * HOUR_MS, "galaxy_score_previous": 6 * HOUR_MS,
    "alt_rank": 6 * HOUR_MS, "alt_rank_previous": 6 * HOUR_MS, "alt_rank_count": 6 * HOUR_MS,
    "sentiment": 6 * HOUR_MS, "social_volume_24h": 6 * HOUR_MS,
    "fdv": 2 * DAY_MS, "circulating_share_pct": 2 * DAY_MS,
}
OI_LOOKBACK_TOLERANCE_MS = 90 * 60_000  # the "24h ago" open interest may be 22.5–25.5h old
_CLOSE = itemgetter(1)


@dataclass
class CoinData:
    symbol: str
    coin_id: int | None = None
    listed_at_ms: int | None = None
    has_perpetual: bool = False
    # closed 1h candles, oldest first: (open_time_ms, close, quote_volume, taker_buy_quote_volume)
    candles: list[tuple[int, float, float, float]] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # sorted by time

    def add_metric(self, name: str, at_ms: int, value: float) -> None:
        series = self.metrics.setdefault(name, [])
        if series and series[-1][0] >= at_ms:
            if series[-1][0] == at_ms:
                series[-1] = (at_ms, value)
                return
            series.append((at_ms, value))
            series.sort()
        else:
            series.append((at_ms, value))

    def value_at(self, name: str, as_of_ms: int, max_age_ms: int | None = None) -> tuple[int, float] | None:
        """The newest point measured at or before `as_of_ms` and no older than its limit."""
        series = self.metrics.get(name)
        if not series:
            return None
        i = bisect_right(series, (as_of_ms, float("inf"))) - 1
        if i < 0:
            return None
        at, value = series[i]
        limit = max_age_ms if max_age_ms is not None else STALENESS_MS.get(name, 2 * HOUR_MS)
        return (at, value) if as_of_ms - at <= limit else None

    def truncated(self, as_of_ms: int) -> "CoinData":
        """The same coin as it was known at `as_of_ms`: closed candles and points measured by then."""
        end = bisect_right(self.candles, (as_of_ms - HOUR_MS, float("inf"), 0.0, 0.0))
        metrics = {name: series[: bisect_right(series, (as_of_ms, float("inf")))]
                   for name, series in self.metrics.items()}
        return CoinData(self.symbol, self.coin_id, self.listed_at_ms, self.has_perpetual, self.candles[:end], metrics)

    def closes_until(self, as_of_ms: int) -> tuple[list[float], int | None]:
        """Closes of the candles closed by `as_of_ms`, and the close time of the newest one."""
        i = bisect_right(self.candles, (as_of_ms - HOUR_MS, float("inf"), 0.0, 0.0))
        closes = list(map(_CLOSE, self.candles[:i]))
        return closes, (self.candles[i - 1][0] + HOUR_MS if i else None)


def _oi_change(cd: CoinData, as_of_ms: int) -> float | None:
    now = cd.value_at("open_interest", as_of_ms)
    then = cd.value_at("open_interest", as_of_ms - DAY_MS, OI_LOOKBACK_TOLERANCE_MS)
    if not now or not then or then[1] <= 0:
        return None
    return (now[1] / then[1] - 1) * 100


def _futures_taker_share(cd: CoinData, as_of_ms: int) -> float | None:
    """Taker-buy share of futures volume over the 24 hourly points ending at as_of (all must exist)."""
    buys, sells = cd.metrics.get("futures_taker_buy_vol", []), dict(cd.metrics.get("futures_taker_sell_vol", []))
    window = [(t, v) for t, v in buys if as_of_ms - DAY_MS < t <= as_of_ms]
    if len(window) < 24 or not cd.value_at("futures_taker_buy_vol", as_of_ms):
        return None
    buy = sum(v for _, v in window)
    sell = sum(sells.get(t, 0.0) for t, _ in window)
    return 100 * buy / (buy + sell) if buy + sell > 0 else None


def _volume_change(candles: list[tuple[int, float, float, float]], as_of_ms: int, all_closed: bool = False
                   ) -> float | None:
    """Quote volume of the last 24 closed hours against the 24 before, in percent (`all_closed`: the
    caller kept only candles closed by `as_of_ms`, so they need not be filtered again)."""
    closed = (candles if all_closed else [c for c in candles if c[0] + HOUR_MS <= as_of_ms])[-48:]
    if len(closed) < 48 or closed[-1][0] - closed[0][0] != 47 * HOUR_MS:
        return None
    before, last = sum(c[2] for c in closed[:24]), sum(c[2] for c in closed[24:])
    return (last / before - 1) * 100 if before > 0 else None


def build_snapshot(cd: CoinData, as_of: datetime, social_activity_pct: float | None = None) -> CoinSnapshot:
    """The scanners' inputs for one coin at `as_of`, from data measured by then only."""
    as_of_ms = int(as_of.timestamp() * 1000)
    # 8 days of candles are all the snapshot fields need (the 7-day volume average before the last 24h).
    recent = [c for c in cd.candles[-(24 * 8 + 2):] if c[0] + HOUR_MS <= as_of_ms]
    all_closed = True
    if len(recent) < 24 * 8 and len(cd.candles) > len(recent):  # as_of lies further back: search the history
        end = bisect_right(cd.candles, (as_of_ms - HOUR_MS, float("inf"), 0.0, 0.0))
        recent = cd.candles[max(0, end - 24 * 8 - 1):end]
        all_closed = False

    def val(name: str) -> float | None:
        point = cd.value_at(name, as_of_ms)
        return point[1] if point else None

    age = (as_of_ms - cd.listed_at_ms) / HOUR_MS if cd.listed_at_ms is not None and cd.listed_at_ms <= as_of_ms else None
    return snapshot_from_candles(
        cd.symbol, as_of, recent,
        funding_pct=val("funding_pct"), oi_change_24h_pct=_oi_change(cd, as_of_ms),
        top_trader_position_ratio=val("top_position_ratio"),
        futures_taker_buy_share_pct=_futures_taker_share(cd, as_of_ms),
        social_volume_24h=val("social_volume_24h"), social_activity_pct=social_activity_pct,
        galaxy_score=val("galaxy_score"), galaxy_score_previous=val("galaxy_score_previous"),
        alt_rank=val("alt_rank"), alt_rank_previous=val("alt_rank_previous"), sentiment=val("sentiment"),
        volume_change_24h_pct=_volume_change(recent, as_of_ms, all_closed),
        fdv=val("fdv"), age_hours=age, circulating_share_pct=val("circulating_share_pct"),
    )


def utc_ms(dt: datetime) -> int:
    return int(dt.astimezone(timezone.utc).timestamp() * 1000)
