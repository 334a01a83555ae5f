"""The archive's fast paths write exactly what Django's own would."""
from datetime import datetime, timezone

import pytest
from django.db import connection

from marketdata.archive import datetime_adapter, store_metrics
from marketdata.models import Coin, MetricPoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("ms", [0, 1_700_000_000_000, 1_700_000_000_123, 1_795_789_047_886])
def test_the_fast_datetime_matches_djangos_adapter(ms):
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    assert datetime_adapter()(ms) == connection.ops.adapt_datetimefield_value(dt)


def test_metrics_round_trip_and_are_not_duplicated():
    coin = Coin.objects.create(symbol="XUSDT", base_asset="X", quote_asset="USDT")
    points = [(coin.id, "funding_pct", 1_700_000_000_000, 0.01, "binance_futures"),
              (coin.id, "funding_pct", 1_700_003_600_000, -0.02, "binance_futures")]
    store_metrics(points)
    store_metrics(points)
    stored = list(MetricPoint.objects.order_by("at").values_list("at", "value"))
    assert stored == [(datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc), 0.01),
                      (datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone.utc), -0.02)]


def test_coins_are_created_as_bulk_create_created_them_and_a_concurrent_one_is_skipped():
    from django.utils import timezone as djtz

    from marketdata.archive import CoinFacts, sync_coin_facts, sync_coins
    from marketdata.binance_spot import SymbolInfo

    before = djtz.now()
    taken = Coin.objects.create(symbol="BUSDT", base_asset="B", quote_asset="USDT", has_perpetual=True)
    infos = [SymbolInfo("AUSDT", "TRADING", "A", "USDT", True), SymbolInfo("BUSDT", "TRADING", "B", "USDT", True),
             SymbolInfo("CUSDT", "BREAK", "C", "USDT", True)]
    facts = sync_coin_facts(infos)
    a, b, c = (Coin.objects.get(symbol=s) for s in ("AUSDT", "BUSDT", "CUSDT"))
    assert facts == {"AUSDT": CoinFacts(a.id, None, False), "BUSDT": CoinFacts(taken.id, None, True),
                     "CUSDT": CoinFacts(c.id, None, False)}
    for coin, active in ((a, True), (c, False)):  # the model's defaults, auto_now_add, status
        assert (coin.base_asset, coin.quote_asset, coin.has_spot, coin.has_perpetual, coin.listed_at, coin.active) == \
            (coin.symbol[0], "USDT", True, False, None, active)
        assert before <= coin.first_seen_at <= djtz.now()
    # the next listing: C trades again, A's assets changed, B left (inactive, kept); sync_coins gives instances
    infos = [SymbolInfo("AUSDT", "TRADING", "A2", "USDT", True), SymbolInfo("CUSDT", "TRADING", "C", "USDT", True)]
    coins = sync_coins(infos)
    assert {s: (k.id, k.base_asset, k.active) for s, k in coins.items()} == {"AUSDT": (a.id, "A2", True),
                                                                             "CUSDT": (c.id, "C", True)}
    assert Coin.objects.get(symbol="BUSDT").active is False
