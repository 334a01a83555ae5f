"""Rows for the API tests, written straight to the database with fixed values and times.

`auto_now_add` fields (Coin.first_seen_at, ScanRun.started_at, ScanResult.created_at) ignore a
value given on create, so the helpers set them with an update afterwards.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from django.utils import timezone as dj_timezone

from marketdata.models import Coin, DataSource
from scanners.models import ScanResult, ScanRun
from signals.models import UnifiedScore

T0 = datetime(2025, 11, 15, 8, 0, tzinfo=timezone.utc)
NOW = T0 + timedelta(minutes=2)  # the clock while the golden tests run

SCALE = {"accumulation": 10, "mss": 1, "technical": 10, "social_momentum": 1, "whale": 10, "volume_spike": 10}
WEIGHTS = {"accumulation": 0.30, "mss": 0.25, "technical": 0.15, "social_momentum": 0.15, "whale": 0.10,
           "volume_spike": 0.05}
LABELS = {"TIER_1": "MUST BUY", "TIER_2": "STRONG BUY", "TIER_3": "WATCHLIST", "TIER_4": "NEUTRAL", "": ""}


def freeze_time(monkeypatch, moment: datetime = NOW) -> None:
    """Make `timezone.now()` (the API's ages, Django's auto_now_add) return `moment`."""
    monkeypatch.setattr(dj_timezone, "now", lambda: moment)


def make_coin(symbol: str, *, listed_at: datetime | None = None, first_seen_at: datetime = T0 - timedelta(days=30),
              **fields: Any) -> Coin:
    fields = {"base_asset": symbol.removesuffix("USDT"), "quote_asset": "USDT", **fields}
    coin = Coin.objects.create(symbol=symbol, listed_at=listed_at, **fields)
    Coin.objects.filter(pk=coin.pk).update(first_seen_at=first_seen_at)
    coin.first_seen_at = first_seen_at
    return coin


def make_run(pk: int | None = None, *, scanner: str = "all", status: str = ScanRun.COMPLETED,
             started_at: datetime = T0 - timedelta(minutes=5), finished_at: datetime | None = T0,
             **fields: Any) -> ScanRun:
    run = ScanRun.objects.create(pk=pk, scanner=scanner, status=status, finished_at=finished_at, **fields)
    ScanRun.objects.filter(pk=run.pk).update(started_at=started_at)
    run.started_at = started_at
    return run


def make_result(run: ScanRun, coin: Coin, scanner: str, *, score: float | None, scores: dict[str, Any],
                created_at: datetime | None = None, **fields: Any) -> ScanResult:
    created_at = created_at or run.finished_at or run.started_at
    result = ScanResult.objects.create(run=run, coin=coin, scanner=scanner, score=score, scores=scores, **fields)
    ScanResult.objects.filter(pk=result.pk).update(created_at=created_at)
    result.created_at = created_at
    return result


def breakdown(**raw: float) -> dict[str, dict[str, float | None]]:
    """The breakdown SCORING.md §6 stores, from the raw values given (the others are missing)."""
    used = sum(WEIGHTS[name] for name in raw)
    out: dict[str, dict[str, float | None]] = {}
    for name in SCALE:
        if name not in raw:
            out[name] = {"raw": None, "normalised": None, "weight": WEIGHTS[name], "effective_weight": None,
                         "points": None}
            continue
        normalised, effective = raw[name] * SCALE[name], WEIGHTS[name] / used
        out[name] = {"raw": raw[name], "normalised": normalised, "weight": WEIGHTS[name],
                     "effective_weight": round(effective, 4), "points": round(normalised * effective, 2)}
    return out


def make_unified(coin: Coin, score: float | None, tier: str = "", *, computed_at: datetime = T0,
                 is_latest: bool = True, raw: dict[str, float] | None = None, **fields: Any) -> UnifiedScore:
    raw = raw or {}
    defaults: dict[str, Any] = {
        "label": LABELS[tier], "action": "WATCH", "confidence": 0.0,
        "coverage": round(sum(WEIGHTS[name] for name in raw), 4), "breakdown": breakdown(**raw),
        "missing": [name for name in SCALE if name not in raw], "data_as_of": computed_at - timedelta(minutes=1),
        "risk_level": "MEDIUM",
    }
    return UnifiedScore.objects.create(coin=coin, unified_score=score, tier=tier, computed_at=computed_at,
                                       is_latest=is_latest, **{**defaults, **fields})


def make_source(name: str, **fields: Any) -> DataSource:
    return DataSource.objects.create(name=name, base_url="http://127.0.0.1:8765", **fields)


def scored_coins(n: int, *, start: int = 0) -> list[Coin]:
    """`n` coins, each with a latest unified score (for the query-count tests)."""
    coins = []
    for i in range(start, start + n):
        coin = make_coin(f"C{i:03d}USDT")
        make_unified(coin, 50.0 + i % 40, "TIER_4", raw={"accumulation": 5.0, "technical": 6.0})
        coins.append(coin)
    return coins


def inputs_at(candle: datetime, metric: datetime | None, **values: float) -> dict[str, dict[str, Any]]:
    """A result's `inputs`: candle-based values at the candle's close, the rest at `metric`."""
    out = {"last_close": {"value": values.get("last_close", 1.0), "as_of": candle.isoformat()},
           "pct_24h": {"value": values.get("pct_24h", 2.0), "as_of": candle.isoformat()},
           "funding_pct": {"value": values.get("funding_pct"), "as_of": metric.isoformat() if metric else None},
           "galaxy_score": {"value": values.get("galaxy_score"), "as_of": metric.isoformat() if metric else None}}
    return out


def golden_dataset() -> dict[str, Any]:
    """Six coins, four runs, their results, unified scores and data sources, all at fixed times.

    Ranking: NEWUSDT 88.6 TIER_1, SOLUSDT 71.7 TIER_2, BTCUSDT 68.0 TIER_3, ETHUSDT 41.7 TIER_4,
    DOGEUSDT without a score (last); XRPUSDT was never scored.
    """
    btc = make_coin("BTCUSDT", listed_at=datetime(2017, 8, 17, tzinfo=timezone.utc), has_perpetual=True)
    eth = make_coin("ETHUSDT", listed_at=datetime(2017, 8, 17, tzinfo=timezone.utc), has_perpetual=True)
    sol = make_coin("SOLUSDT", listed_at=datetime(2020, 8, 11, tzinfo=timezone.utc), has_perpetual=True)
    new = make_coin("NEWUSDT", listed_at=T0 - timedelta(hours=30), first_seen_at=T0 - timedelta(hours=29))
    doge = make_coin("DOGEUSDT", listed_at=datetime(2019, 7, 5, tzinfo=timezone.utc))
    xrp = make_coin("XRPUSDT", listed_at=datetime(2019, 5, 4, tzinfo=timezone.utc), active=False)

    requests = {"binance_spot": {"requests": 7, "weight": 26, "retries": 1, "errors": 0,
                                 "statuses": {"200": 7, "503": 1}, "buckets": {}}}
    full = make_run(9101, scanner="all", universe_size=6, scored=5, requests=requests, simulated=True,
                    parameters={"symbols": [], "scanners": ["rsi", "smart_money", "mss", "social", "whale",
                                                            "volume_spike"]})
    rsi_errors = [{"symbol": f"BAD{i}USDT", "error": f"HTTP 400 from binance_spot (code -1121): invalid symbol {i}"}
                  for i in range(7)]
    rsi = make_run(9102, scanner="rsi", status="partial", started_at=T0 - timedelta(hours=4),
                   finished_at=T0 - timedelta(hours=4) + timedelta(seconds=90.5), universe_size=13, scored=6,
                   errors=rsi_errors, simulated=True, parameters={"symbols": [], "scanners": ["rsi"]})
    make_run(9103, scanner="mss", status="failed", started_at=T0 - timedelta(hours=6),
             finished_at=T0 - timedelta(hours=6) + timedelta(seconds=3),
             errors=[{"symbol": "*", "error": "binance_spot unreachable: connection refused"}])
    make_run(9104, scanner="smart_money", status="running", started_at=T0 + timedelta(minutes=1), finished_at=None)

    candle, metric = T0 - timedelta(minutes=1), T0 - timedelta(minutes=20)
    old_candle = T0 - timedelta(hours=4, minutes=1)
    # BTC: an older RSI result (run 9102) and a newer one (run 9101); the newer one must win.
    make_result(rsi, btc, "rsi", score=3.0, scores={"rsi": 48.2, "technical": 3.0},
                inputs=inputs_at(old_candle, None), data_as_of=old_candle)
    make_result(full, btc, "rsi", score=6.0, scores={"rsi": 28.0, "technical": 6.0}, signal="oversold",
                direction="LONG", reasons=["RSI 28.0 < 30"], inputs=inputs_at(candle, None), data_as_of=candle)
    make_result(full, btc, "smart_money", score=8.0, scores={"accumulation": 8.0, "distribution": 1.5},
                signal="accumulating", direction="LONG", reasons=["buy pressure 61% > 55%"],
                inputs=inputs_at(candle, metric, funding_pct=-0.01), data_as_of=candle)
    make_result(full, btc, "social", score=60.0,
                scores={"momentum": 60.0, "trending": False, "galaxy_score": 66, "alt_rank": 12},
                missing=["social_volume_24h"], inputs=inputs_at(candle, metric, galaxy_score=66), data_as_of=candle)
    make_result(full, new, "mss", score=92.0, scores={"mss": 92.0, "coverage": 0.9}, signal="gem",
                direction="LONG", reasons=["discovery 30/30", "confirmation 35/40", "validation 27/30"],
                inputs={**inputs_at(candle, metric), "detail": {"phases_scored": 3}}, data_as_of=candle)

    # BTC's history: two older scores before the latest.
    make_unified(btc, 61.5, "TIER_3", computed_at=T0 - timedelta(hours=2), is_latest=False,
                 raw={"accumulation": 7.0, "technical": 5.0})
    make_unified(btc, 52.0, "TIER_4", computed_at=T0 - timedelta(hours=1), is_latest=False,
                 raw={"accumulation": 6.0, "technical": 4.0})
    make_unified(btc, 68.0, "TIER_3", run=full, raw={"accumulation": 8.0, "technical": 6.0, "social_momentum": 60.0,
                                                     "whale": 7.0, "volume_spike": 4.0},
                 action="BUY", confidence=56.3, confirmations=2, agreeing_scanners=["smart_money", "technical"],
                 components={"rsi": {"scores": {"rsi": 28.0, "technical": 6.0}, "as_of": T0.isoformat(), "run": 9101}},
                 reasons=["missing mss: weights renormalised over 75.0%"])
    make_unified(new, 88.6, "TIER_1", run=full, raw={"accumulation": 9.0, "mss": 92.0, "social_momentum": 80.0},
                 action="STRONG_BUY", confidence=59.5, confirmations=3, agreeing_scanners=["smart_money", "mss", "social"],
                 risk_level="HIGH")
    make_unified(sol, 71.7, "TIER_2", run=full, raw={"accumulation": 7.5, "technical": 7.0, "social_momentum": 72.0,
                                                     "whale": 6.0, "volume_spike": 8.0},
                 action="BUY", confidence=56.3, confirmations=2, agreeing_scanners=["smart_money", "social"],
                 risk_level="LOW")
    make_unified(eth, 41.7, "TIER_4", run=full, raw={"accumulation": 5.0, "technical": 4.0, "whale": 3.0,
                                                     "volume_spike": 2.0}, confidence=36.0)
    make_unified(doge, None, "", run=full, computed_at=T0 - timedelta(minutes=30), risk_level="HIGH")

    make_source("binance_spot", simulated=True, last_success_at=T0 - timedelta(seconds=30))
    make_source("binance_futures", simulated=True, last_success_at=T0 - timedelta(seconds=60),
                last_error="HTTP 503 from binance_futures", last_error_at=T0 - timedelta(minutes=10))
    make_source("coingecko")
    make_source("lunarcrush", simulated=True, last_success_at=T0 - timedelta(hours=2),
                banned_until=None)
    return {"btc": btc, "eth": eth, "sol": sol, "new": new, "doge": doge, "xrp": xrp, "full": full, "rsi": rsi}
