"""The unified score of every scanned coin (SCORING.md §6), stored as UnifiedScore rows.

The scan engine calls `update_unified` once a scan is scored (the wiring in cryptosatx.scanning
passes it in), so scanners never import signals: imports run marketdata <- scanners <- signals.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from marketdata.archive import insert_rows
from scanners.models import ScanRun
from scanners.pipeline import MSS_MAX_AGE_HOURS, ScannerOutput
from scanners.snapshot import CoinSnapshot

from .models import ScoringConfig, UnifiedScore
from .unified import ComponentScores, UnifiedResult, unified_score


def components_from(latest: dict[str, dict[str, Any]]) -> ComponentScores:
    """The unified score's inputs from each scanner's stored scores ({scanner: scores})."""
    def pick(scanner: str, key: str) -> float | None:
        value = (latest.get(scanner) or {}).get(key)
        return None if value is None else float(value)
    return ComponentScores(accumulation=pick("smart_money", "accumulation"), mss=pick("mss", "mss"),
                           technical=pick("rsi", "technical"), rsi=pick("rsi", "rsi"),
                           social_momentum=pick("social", "momentum"), whale=pick("whale", "whale"),
                           volume_spike=pick("volume_spike", "volume_spike"))


def risk_level(snap_age_hours: float | None, pct_24h: float | None, coverage: float) -> str:
    """HIGH for listings under 7 days, 24h moves of 15% or more, or under half the score measured;
    MEDIUM for moves of 5% or more or under 80% measured; else LOW (docs/scoring.md)."""
    move = abs(pct_24h) if pct_24h is not None else None
    if (snap_age_hours is not None and snap_age_hours < MSS_MAX_AGE_HOURS) or (move is not None and move >= 15) \
            or coverage < 0.5:
        return "HIGH"
    if (move is not None and move >= 5) or coverage < 0.8 or move is None:
        return "MEDIUM"
    return "LOW"


def unify(latest: dict[str, dict[str, Any]], weights: dict[str, float], tier_thresholds, min_confirmations: int
          ) -> UnifiedResult:
    return unified_score(components_from(latest), weights, tier_thresholds=tier_thresholds,
                         min_confirmations=min_confirmations)


def scanner_max_age() -> dict[str, timedelta]:
    """A scanner's last result still counts in the unified score for two of its intervals."""
    hours = {"rsi": settings.RSI_SCREENER_INTERVAL_HOURS, "smart_money": settings.SMART_MONEY_INTERVAL_HOURS,
             "whale": settings.SMART_MONEY_INTERVAL_HOURS, "volume_spike": settings.SMART_MONEY_INTERVAL_HOURS,
             "mss": settings.MSS_DISCOVERY_INTERVAL_HOURS, "social": settings.LUNARCRUSH_INTERVAL_HOURS}
    return {k: timedelta(hours=2 * v) for k, v in hours.items()}


def update_unified(run: ScanRun, g, snaps: dict[str, CoinSnapshot], outputs: dict[str, dict[str, ScannerOutput]]) -> None:
    """Each scanned coin's unified score from this run's scanners and the still-fresh results of
    the others (kept on the coin's previous unified score)."""
    config = ScoringConfig.current()
    weights, tier_thresholds = config.weights, config.tier_thresholds  # properties: read once, not per coin
    now = g.as_of
    max_age = scanner_max_age()
    ids = {g.coins[s].coin_id: s for s in outputs}
    previous = dict(UnifiedScore.objects.filter(coin_id__in=ids, is_latest=True).values_list("coin_id", "components"))
    rows = []
    now_iso, run_id = now.isoformat(), run.pk
    for coin_id, symbol in ids.items():
        components = {name: c for name, c in (previous.get(coin_id) or {}).items()
                      if name in max_age and now - datetime.fromisoformat(c["as_of"]) <= max_age[name]}
        for scanner, o in outputs[symbol].items():
            components[scanner] = {"scores": o.scores, "as_of": now_iso, "run": run_id}
        result = unify({k: v["scores"] for k, v in components.items()}, weights, tier_thresholds,
                       config.min_confirmations_tier1)
        snap = snaps[symbol]
        cv = result.cross_validation
        rows.append((coin_id, run_id, now, snap.candle_close_time, True, result.unified_score, result.tier or "",
                     result.label or "", result.tier_demoted, cv.action, cv.confidence, result.coverage,
                     cv.confirmations, cv.agreeing_scanners, {k: vars(b) for k, b in result.breakdown.items()},
                     components, result.missing, result.reasons,
                     risk_level(snap.age_hours, snap.pct_24h, result.coverage)))
    with transaction.atomic():
        UnifiedScore.objects.filter(coin_id__in=ids, is_latest=True).update(is_latest=False)
        # What bulk_create wrote, without an instance per coin (marketdata.archive.insert_rows).
        insert_rows(UnifiedScore, UNIFIED_FIELDS, rows)


UNIFIED_FIELDS = ("coin", "run", "computed_at", "data_as_of", "is_latest", "unified_score", "tier", "label",
                  "tier_demoted", "action", "confidence", "coverage", "confirmations", "agreeing_scanners",
                  "breakdown", "components", "missing", "reasons", "risk_level")
