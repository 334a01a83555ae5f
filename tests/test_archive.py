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
