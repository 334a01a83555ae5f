"""A portfolio at current prices: the latest stored candle close of each coin (marketdata.Candle).

Nothing here fetches: the price is whatever the scans last archived, with its time, and it is
simulated when the spot data source last answered as the market simulator. A coin with no stored
candle has no price: its open trades are listed as unpriced and left out of the totals, never valued at 0."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from django.db.models import OuterRef, Subquery

from marketdata.models import Candle, Coin, DataSource

from .models import Trade


@dataclass(frozen=True)
class Price:
    value: float
    as_of: datetime  # close time of the candle


def latest_prices(coin_ids: Iterable[int]) -> dict[int, Price]:
    """Each coin's latest stored candle close, by coin id; coins without a candle are absent."""
    newest = Candle.objects.filter(coin=OuterRef("pk")).order_by("-close_time")
    rows = (Coin.objects.filter(pk__in=set(coin_ids))
            .annotate(price=Subquery(newest.values("close")[:1]), price_at=Subquery(newest.values("close_time")[:1]))
            .values_list("pk", "price", "price_at"))
    return {pk: Price(price, at) for pk, price, at in rows if price is not None}


def prices_simulated() -> bool:
    """The candles come from the market simulator when Binance spot last answered as it."""
    return DataSource.objects.filter(name="binance_spot", simulated=True).exists()


@dataclass
class Valuation:
    """One trade valued: closed at its exit, open at the current price (None when there is none)."""
    trade: Trade
    price: Price | None

    @property
    def priced(self) -> bool:
        return self.trade.status == Trade.CLOSED or self.price is not None

    @property
    def pnl(self) -> float | None:
        if self.trade.status == Trade.CLOSED:
            return self.trade.realized_pnl
        return self.trade.pnl_at(self.price.value) if self.price else None

    @property
    def value(self) -> float | None:
        """What the position is worth: what it cost plus its profit (so value − invested = P&L)."""
        pnl = self.pnl
        return None if pnl is None else self.trade.invested + pnl

    @property
    def pnl_pct(self) -> float | None:
        pnl = self.pnl
        return None if pnl is None else pnl / self.trade.invested * 100


def value_trades(trades: list[Trade]) -> list[Valuation]:
    prices = latest_prices(t.coin_id for t in trades if t.status == Trade.OPEN)
    return [Valuation(t, prices.get(t.coin_id) if t.status == Trade.OPEN else None) for t in trades]


def performance(trades: list[Trade]) -> dict:
    """The plan's figures (PLAN §5.3) over every priced trade, open and closed:
    total_invested = Σ entry × quantity + entry fee; current_value = Σ invested + P&L;
    total_pnl = current_value − total_invested = realized_gains + unrealized_pnl."""
    rows = value_trades(trades)
    priced = [r for r in rows if r.priced]
    unpriced = [r for r in rows if not r.priced]
    invested = sum(r.trade.invested for r in priced)
    value = sum(r.value for r in priced)
    realized = sum(r.pnl for r in priced if r.trade.status == Trade.CLOSED)
    unrealized = sum(r.pnl for r in priced if r.trade.status == Trade.OPEN)
    return {
        "total_invested": round(invested, 8),
        "current_value": round(value, 8),
        "total_pnl": round(value - invested, 8),
        "total_pnl_pct": round((value - invested) / invested * 100, 4) if invested else None,
        "open_positions": sum(1 for r in rows if r.trade.status == Trade.OPEN),
        "closed_positions": sum(1 for r in rows if r.trade.status == Trade.CLOSED),
        "realized_gains": round(realized, 8),
        "unrealized_pnl": round(unrealized, 8),
        "trades_valued": len(priced),
        "unpriced": [{"id": r.trade.pk, "symbol": r.trade.coin.symbol, "invested": round(r.trade.invested, 8),
                      "reason": "no stored candle for this coin yet, so no current price"} for r in unpriced],
        "prices": {"source": "latest stored candle close",
                   "simulated": prices_simulated(),
                   "oldest_as_of": min((r.price.as_of for r in priced if r.price), default=None)},
    }
