"""Writing a scan's outcome: one ScanResult per coin and scanner (signals.ranking adds the unified scores)."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from django.utils import timezone as dj_timezone

from marketdata.archive import PreparedRows, RowPreparer, insert_prepared

from .coindata import CoinData, utc_ms
from .models import ScanResult, ScanRun
from .pipeline import ScannerOutput, StreamScorer, Thresholds
from .snapshot import CoinSnapshot

CANDLE_INPUTS = ("last_close", "pct_4h", "pct_24h", "buy_pressure_pct", "quote_volume_24h",
                 "avg_daily_quote_volume_7d", "volume_change_24h_pct")
METRIC_INPUTS = {"funding_pct": "funding_pct", "top_trader_position_ratio": "top_position_ratio",
                 "social_volume_24h": "social_volume_24h", "galaxy_score": "galaxy_score",
                 "galaxy_score_previous": "galaxy_score_previous", "alt_rank": "alt_rank",
                 "alt_rank_previous": "alt_rank_previous", "sentiment": "sentiment", "fdv": "fdv",
                 "circulating_share_pct": "circulating_share_pct", "oi_change_24h_pct": "open_interest",
                 "futures_taker_buy_share_pct": "futures_taker_buy_vol"}


# The inputs each scanner reads (SCORING.md), so each result stores what it used and no more.
SCANNER_INPUTS = {
    "rsi": ("last_close",),
    "smart_money": ("buy_pressure_pct", "funding_pct", "social_activity_pct", "pct_4h", "pct_24h"),
    "mss": ("fdv", "age_hours", "circulating_share_pct", "alt_rank", "galaxy_score", "sentiment",
            "volume_change_24h_pct", "oi_change_24h_pct", "funding_pct", "top_trader_position_ratio"),
    "social": ("galaxy_score", "galaxy_score_previous", "alt_rank", "alt_rank_previous"),
    "whale": ("oi_change_24h_pct", "top_trader_position_ratio", "futures_taker_buy_share_pct"),
    "volume_spike": ("quote_volume_24h", "avg_daily_quote_volume_7d"),
}


@lru_cache(maxsize=4096)  # a scan's points share a few measurement times (one per bulk request)
def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def snapshot_inputs(cd: CoinData, snap: CoinSnapshot) -> dict[str, dict]:
    """Every input a scanner could read, with the time its data were measured (None = missing)."""
    as_of_ms = utc_ms(snap.as_of)
    candle_time = snap.candle_close_time.isoformat() if snap.candle_close_time else None
    out = {name: {"value": getattr(snap, name), "as_of": candle_time} for name in CANDLE_INPUTS}
    for name, metric in METRIC_INPUTS.items():
        point = cd.value_at(metric, as_of_ms)
        out[name] = {"value": getattr(snap, name), "as_of": _iso_ms(point[0]) if point else None}
    out["social_activity_pct"] = {"value": snap.social_activity_pct, "as_of": out["social_volume_24h"]["as_of"]}
    out["age_hours"] = {"value": snap.age_hours, "as_of": snap.as_of.isoformat()}
    return out


RESULT_FIELDS = ("run", "coin", "scanner", "score", "scores", "signal", "direction", "reasons", "missing", "inputs",
                 "data_as_of", "created_at")


def save_results(run: ScanRun, g, snaps: dict[str, CoinSnapshot], outputs: dict[str, dict[str, ScannerOutput]],
                 prepared: tuple[int, PreparedRows] | None = None) -> int:
    """One ScanResult per coin and scanner, written as bulk_create wrote them (created_at set per
    row, in row order, as its auto_now_add did) by one executemany (marketdata.archive.insert_rows);
    the number of coins scored. `prepared`: what prepare_results gave for the same arguments."""
    scored, rows = prepared or prepare_results(run, g, snaps, outputs)
    insert_prepared(rows)
    return scored


def prepare_results(run: ScanRun, g, snaps: dict[str, CoinSnapshot], outputs: dict[str, dict[str, ScannerOutput]],
                    prepared: dict[str, PreparedRows] | None = None) -> tuple[int, PreparedRows]:
    """The coins scored and save_results' statement, prepared without a query (on any thread), in the
    order of `outputs`. `prepared`: coins' rows prepared already (`prepare_coin_results`, as the
    scan scored them), by symbol."""
    prepared, preparer = prepared or {}, result_preparer()
    scored, params = 0, []
    for symbol, per_scanner in outputs.items():
        if any(o.score is not None for o in per_scanner.values()):
            scored += 1
        part = prepared.get(symbol)
        if part is None:
            part = prepare_coin_results(run.pk, g.coins[symbol], snaps[symbol], per_scanner, preparer)
        params += part.params
    return scored, PreparedRows(preparer.sql, params)


def result_preparer() -> RowPreparer:
    return RowPreparer(ScanResult, RESULT_FIELDS)


def result_scorer(run_id: int, t: Thresholds, scanners: tuple[str, ...],
                  social: dict[str, float | None] | None = None) -> StreamScorer:
    """A scan's StreamScorer, each coin's result rows prepared as it is scored (scanners.engine's
    unchunked scan, and each chunk of scanners.chunks with the planner's `social` ranks)."""
    preparer = result_preparer()
    return StreamScorer(t, scanners, lambda cd, snap, out: prepare_coin_results(run_id, cd, snap, out, preparer),
                        social=social)


def prepare_coin_results(run_id: int, cd: CoinData, snap: CoinSnapshot, per_scanner: dict[str, ScannerOutput],
                         preparer: RowPreparer | None = None) -> PreparedRows:
    """One coin's result rows, prepared as prepare_results prepares them (a scan prepares each coin's
    as it scores it, while the fetch goes on, with one `result_preparer()`)."""
    inputs = snapshot_inputs(cd, snap)
    now = dj_timezone.now
    rows = []
    for scanner, o in per_scanner.items():
        used = {name: inputs[name] for name in SCANNER_INPUTS[scanner]}
        rows.append((run_id, cd.coin_id, scanner, o.score, o.scores, o.signal, o.direction, o.reasons, o.missing,
                     {**used, **({"detail": o.detail} if o.detail else {})}, snap.candle_close_time, now()))
    return (preparer or result_preparer())(rows)
