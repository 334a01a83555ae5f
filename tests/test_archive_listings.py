"""A scan's listing facts (has_perpetual, listed_at) are written with one executemany; they read back
as Django writes them, and only the coins whose facts changed are touched."""
from datetime import datetime, timezone

import pytest

from marketdata.archive import update_listings
from marketdata.binance_spot import SymbolInfo
from marketdata.models import Coin
from scanners.coindata import CoinData, utc_ms
from scanners.engine import remember_listings
from scanners.gather import Gathered

pytestmark = pytest.mark.django_db


def test_update_listings_reads_back_as_written():
    a = Coin.objects.create(symbol="AUSDT", base_asset="A", quote_asset="USDT")
    b = Coin.objects.create(symbol="BUSDT", base_asset="B", quote_asset="USDT", has_perpetual=True,
                            listed_at=datetime(2020, 1, 1, tzinfo=timezone.utc))
    at = datetime(2026, 11, 20, 7, 0, 0, 123000, tzinfo=timezone.utc)
    update_listings([(a.id, True, at), (b.id, False, None)])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.has_perpetual, a.listed_at) == (True, at)
    assert (b.has_perpetual, b.listed_at) == (False, None)
    update_listings([])  # nothing to write: no query


def test_remember_listings_writes_what_the_scan_learnt():
    known = datetime(2021, 5, 1, tzinfo=timezone.utc)
    a = Coin.objects.create(symbol="AUSDT", base_asset="A", quote_asset="USDT")
    b = Coin.objects.create(symbol="BUSDT", base_asset="B", quote_asset="USDT", has_perpetual=True, listed_at=known)
    c = Coin.objects.create(symbol="CUSDT", base_asset="C", quote_asset="USDT", listed_at=known)
    listed = datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc)
    coins = {"AUSDT": CoinData("AUSDT", a.id, utc_ms(listed), True),
             "BUSDT": CoinData("BUSDT", b.id, utc_ms(known), True),  # unchanged
             "CUSDT": CoinData("CUSDT", c.id, None, True)}  # no listing time learnt: the stored one stays
    g = Gathered(coins=coins, universe=[SymbolInfo(s, "TRADING", s[0], "USDT", True) for s in coins])
    remember_listings(g)
    got = {x.symbol: (x.has_perpetual, x.listed_at) for x in Coin.objects.all()}
    assert got == {"AUSDT": (True, listed), "BUSDT": (True, known), "CUSDT": (True, known)}
