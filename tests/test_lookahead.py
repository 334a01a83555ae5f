"""The look-ahead check finds nothing in the real pipeline, and does find a scanner that peeks."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from scanners import coindata, pipeline
from scanners.coindata import HOUR_MS, CoinData
from scanners.lookahead import check, evaluation_times
from scanners.pipeline import Thresholds

END = datetime(2026, 6, 1, tzinfo=timezone.utc)


def synthetic_coin(symbol: str, seed: int, hours: int = 900) -> CoinData:
    rng = np.random.default_rng(seed)
    start_ms = int(END.timestamp() * 1000) - hours * HOUR_MS
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, hours)))
    qv = rng.lognormal(10, 0.5, hours)
    cd = CoinData(symbol, seed, start_ms - 10 * HOUR_MS, True)
    cd.candles = [(start_ms + i * HOUR_MS, float(closes[i]), float(qv[i]), float(qv[i] * rng.uniform(0.3, 0.8)))
                  for i in range(hours)]
    for i in range(0, hours, 1):
        t = start_ms + i * HOUR_MS
        cd.add_metric("funding_pct", t, float(rng.normal(0.01, 0.05)))
        cd.add_metric("open_interest", t, float(1e6 * (1 + i / hours)))
        cd.add_metric("social_volume_24h", t, float(rng.lognormal(5, 1)))
        cd.add_metric("galaxy_score", t, float(rng.uniform(20, 90)))
        cd.add_metric("alt_rank", t, float(rng.integers(1, 500)))
        cd.add_metric("alt_rank_count", t, 500.0)
    return cd


@pytest.fixture
def coins():
    return {f"C{i}USDT": synthetic_coin(f"C{i}USDT", i) for i in range(1, 6)}


def times():
    return evaluation_times(END - timedelta(days=10), END - timedelta(days=1), timedelta(hours=12))


def test_the_scanners_never_look_ahead(coins):
    report = check(coins, times(), Thresholds())
    assert report.evaluations == 18
    assert all(n > 0 for name, n in report.compared.items() if name != "mss")
    assert report.clean, report.differences[:3]


def test_a_scanner_that_peeks_at_later_candles_is_caught(coins, monkeypatch):
    real = coindata.build_snapshot

    def peeking(cd, as_of, social=None):
        # Computes "now" from the newest candle it has, wherever as_of lies: the classic leak.
        return real(cd, datetime.fromtimestamp(cd.candles[-1][0] / 1000 + 3600, tz=timezone.utc), social)
    monkeypatch.setattr(pipeline, "build_snapshot", peeking)
    report = check(coins, times(), Thresholds())
    assert not report.clean
    assert {d["scanner"] for d in report.differences} >= {"smart_money", "volume_spike"}
