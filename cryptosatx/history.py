"""`manage.py simulate-history`: replay the real scanners over stored history, point in time, and
write the signals they would have raised and those signals' measured outcomes — so a new install
shows populated analytics and reports within minutes instead of after a month.

The replay uses the live pipeline (scanners.history.load_history + scanners.pipeline.score_universe:
the same code as a scan and as the look-ahead check) and the alert rules in the database. Its signals
are marked `simulated` and belong to one ScanRun of scanner "replay"; no alert is sent for them (they
get no deliveries), and their outcomes are measured from the stored candles like any other.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.db import transaction

from performance.outcomes import ensure_all_outcomes, evaluate_due
from performance.queries import refresh
from scanners.history import load_history
from scanners.lookahead import evaluation_times
from scanners.models import ScanRun
from scanners.pipeline import score_universe
from signals.models import AlertRule, ScoringConfig, Signal, UnifiedScore
from signals.outbox import _value_of
from signals.ranking import unify
from signals.rules import evaluate, headline_metric

from .scanning import current_thresholds


def _signals_at(as_of, coins, rules_by_scanner, t, config, run) -> list[Signal]:
    snaps, outputs = score_universe(coins, as_of, t)
    out = []
    for symbol, per_scanner in outputs.items():
        snap, cd = snaps[symbol], coins[symbol]
        if snap.candle_close_time is None or snap.last_close is None:
            continue
        own = {scanner: o.scores for scanner, o in per_scanner.items()}
        result = unify(own, config.weights, config.tier_thresholds, config.min_confirmations_tier1)
        unified = UnifiedScore(unified_score=result.unified_score, tier=result.tier or "")  # never saved
        value_of = _value_of(own, unified)
        for scanner in [*per_scanner, "unified"]:
            for direction, match in evaluate(rules_by_scanner.get(scanner, []), value_of).items():
                metric = headline_metric(scanner, direction)
                scores = own.get(scanner) or {"unified_score": result.unified_score, "tier": result.tier}
                o = per_scanner.get(scanner)
                out.append(Signal(
                    coin_id=cd.coin_id, run=run, scanner=scanner, kind=match.kind, direction=direction,
                    tier=match.tier, score=scores.get(metric), score_metric=metric,
                    unified_score=result.unified_score, entry_price=snap.last_close,
                    candle_close_time=snap.candle_close_time, data_as_of=snap.candle_close_time, scores=scores,
                    missing=o.missing if o else result.missing, reasons=(o.reasons if o else result.reasons)[:20],
                    rules_matched=match.rules, simulated=True, created_at=snap.candle_close_time))
    return out


def simulate_history(days: float, step_hours: int = 4, symbols: list[str] | None = None,
                     limit: int | None = None, now: datetime | None = None) -> dict:
    now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days)
    coins = load_history(start, now, symbols, limit)
    rules_by_scanner: dict[str, list[AlertRule]] = {}
    for rule in AlertRule.objects.filter(enabled=True).order_by("tier", "pk"):
        rules_by_scanner.setdefault(rule.scanner, []).append(rule)
    t, config = current_thresholds(), ScoringConfig.current()
    # "running" until the end: an interrupted replay is run again by `--once` (its signals are not doubled).
    run = ScanRun.objects.create(scanner="replay", status=ScanRun.RUNNING, simulated=True,
                                 universe_size=len(coins), scored=len(coins),
                                 parameters={"replay": {"days": days, "step_hours": step_hours,
                                                        "from": start.isoformat(), "to": now.isoformat()}})
    created = 0
    for as_of in evaluation_times(start, now, timedelta(hours=step_hours)):
        batch = _signals_at(as_of, coins, rules_by_scanner, t, config, run)
        with transaction.atomic():
            # The unique key (coin, scanner, direction, candle close) keeps a second replay from doubling.
            created += len(Signal.objects.bulk_create(batch, ignore_conflicts=True, batch_size=500))
    run.status, run.finished_at = ScanRun.COMPLETED, datetime.now(timezone.utc)
    run.save(update_fields=["status", "finished_at"])
    outcomes = ensure_all_outcomes()
    evaluated: dict[str, int] = {}
    while True:  # evaluate_due works in batches; stop when a batch settles nothing more
        batch = evaluate_due(now=datetime.now(timezone.utc))
        for key, n in batch.items():
            evaluated[key] = evaluated.get(key, 0) + n
        if not batch.get("evaluated") and not batch.get("unavailable"):
            break
    # The shared win rates and tier records, as the outcome task recomputes them after evaluating:
    # otherwise readers sharing Redis would see the pre-replay numbers until the next task run.
    refresh()
    return {"run_id": run.pk, "coins": len(coins), "evaluation_times": len(evaluation_times(
        start, now, timedelta(hours=step_hours))), "signals_offered": created,
        "signals": Signal.objects.filter(run=run).count(), "outcome_rows": outcomes, "evaluated": evaluated}
