"""GET /api/recommendations and /recommendations: the user's pattern and today's signals scored by the
latest trained model, with that model's held-out AUC next to the base rate so the user can judge it."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from performance.models import HORIZONS
from signals.models import Signal

from .features import signal_features
from .models import RecommenderModel
from .pattern import coin_type, success_pattern
from .trainer import HORIZON, load, matrix

CURRENT = HORIZONS[HORIZON]  # a signal is current while its 24h outcome is still open


def model_summary(record: RecommenderModel | None) -> dict:
    if record is None:
        return {"status": "untrained", "horizon": HORIZON, "trained_at": None, "auc": None, "auc_ci": None,
                "base_rate": None, "n_train": 0, "n_test": 0, "better_than_base_rate": False,
                "verdict": "No model trained yet: run `manage.py train-recommender` (also scheduled every 6 hours)."}
    out = {"status": record.status, "horizon": record.horizon, "trained_at": record.trained_at,
           "auc": _r(record.auc), "auc_ci": [_r(record.auc_low), _r(record.auc_high)] if record.auc is not None else None,
           "base_rate": _r(record.base_rate), "n_train": record.n_train, "n_test": record.n_test,
           "n_purged": record.n_purged, "test_from": record.test_from, "test_until": record.test_until,
           "brier": _r(record.brier), "brier_base_rate": _r(record.brier_base),
           "better_than_base_rate": record.better_than_base_rate}
    if record.status == RecommenderModel.REFUSED:
        out["verdict"] = record.reason
    elif record.better_than_base_rate:
        out["verdict"] = (f"On {record.n_test} newer signals it was not trained on, the model ranked WINs above "
                          f"non-WINs with AUC {record.auc:.2f} (95% interval {record.auc_low:.2f}–{record.auc_high:.2f}); "
                          f"{record.base_rate:.0%} of them won.")
    else:
        out["verdict"] = (f"No better than the base rate: on {record.n_test} newer signals its AUC was {record.auc:.2f} "
                          f"(95% interval {record.auc_low:.2f}–{record.auc_high:.2f}, which includes 0.5, a coin "
                          f"flip); {record.base_rate:.0%} of them won. Treat its probabilities as the base rate.")
    return out


def _r(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def pattern_matches(signal: Signal, pattern: dict) -> list[str]:
    """Which parts of the user's measured pattern this signal shares."""
    found = []
    if (pattern.get("preferred_scanner") or {}).get("value") == signal.scanner:
        found.append("scanner")
    span = pattern.get("optimal_score_range")
    if span and signal.unified_score is not None and span["low"] <= signal.unified_score <= span["high"]:
        found.append("score_range")
    best = pattern.get("best_coin_type")
    if best and coin_type(signal.coin, signal.candle_close_time) == best["value"]:
        found.append("coin_type")
    return found


def recommended_now(record: RecommenderModel | None, pattern: dict, *, limit: int = 10,
                    now: datetime | None = None) -> tuple[list[dict], str]:
    """Current signals, most likely to win first, and a note when there are none or no model."""
    loaded = load(record) if record is not None else None
    if loaded is None:
        return [], ("No predictions: " + (record.reason if record is not None and record.reason else
                                          "no trained model can be read; run `manage.py train-recommender`."))
    model, names = loaded
    now = now or timezone.now()
    signals = list(Signal.objects.filter(candle_close_time__gt=now - CURRENT, candle_close_time__lte=now)
                   .select_related("coin").order_by("-candle_close_time")[:500])
    if not signals:
        newest = Signal.objects.order_by("-candle_close_time").values_list("candle_close_time", flat=True).first()
        since = f" The newest signal's candle closed {newest:%Y-%m-%d %H:%M} UTC." if newest else ""
        return [], f"No current signals: none whose candle closed in the last 24 hours.{since}"
    proba = model.predict_proba(matrix([signal_features(s) for s in signals], names))[:, 1]
    skilled = record.better_than_base_rate
    rows = [{"signal_id": s.pk, "symbol": s.coin.symbol, "scanner": s.scanner, "kind": s.kind,
             "direction": s.direction, "tier": s.tier, "score": s.score, "unified_score": s.unified_score,
             "entry_price": s.entry_price, "candle_close_time": s.candle_close_time, "simulated": s.simulated,
             "win_probability": round(float(p), 4),
             "confidence": round(float(p) * 100) if skilled else None,
             "lift": round(float(p) / record.base_rate, 2) if record.base_rate else None,
             "matches_your_pattern": pattern_matches(s, pattern)}
            for s, p in zip(signals, proba)]
    rows.sort(key=lambda r: (-r["win_probability"], -r["signal_id"]))
    return rows[:limit], ""


def recommendations(user, *, limit: int = 10, now: datetime | None = None) -> dict:
    record = RecommenderModel.latest()
    pattern = success_pattern(user)
    rows, note = recommended_now(record, pattern, limit=limit, now=now)
    return {"your_success_pattern": pattern, "recommended_now": rows, "note": note, "model": model_summary(record)}
