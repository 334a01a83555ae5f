"""Step 5 of the data flow: a finished scan's results crossed alert rules → Signal rows, and in the
same transaction one AlertDelivery per recipient (the outbox). Sending is signals.sender's job.

A signal is unique per (coin, scanner, direction, candle_close_time): running the same scan again,
or another scan over the same candle, writes nothing new.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketdata.archive import read_rows
from marketdata.models import Candle
from scanners.models import ScanResult, ScanRun

from .models import AlertDelivery, AlertRule, ProcessedRun, Recipient, Signal, UnifiedScore
from .rules import METRICS, Match, evaluate, headline_metric, tier_number

log = logging.getLogger(__name__)

TIER_3_SUMMARY_ONLY = "tier_3_summary_only"


# Some recipients want alerts on some coins only (a user's alert-enabled watchlists). signals cannot
# import the app that knows (imports run signals <- watchlists), so that app hands its reader over
# in AppConfig.ready: recipients -> {recipient id: the coin ids it wants}; absent = every coin.
_coin_limits_reader: Callable[[list[Recipient]], dict[int, set[int]]] | None = None


def set_coin_limits_reader(reader: Callable[[list[Recipient]], dict[int, set[int]]] | None) -> None:
    global _coin_limits_reader
    _coin_limits_reader = reader


def coin_limits(recipients: list[Recipient]) -> dict[int, set[int]]:
    return _coin_limits_reader(recipients) if _coin_limits_reader and recipients else {}


def tier_disabled_reason(tier: int) -> str | None:
    """Why a tier never goes out instantly (TELEGRAM_TIER_n_ENABLED is false), else None."""
    if getattr(settings, f"TELEGRAM_TIER_{tier}_ENABLED", False):
        return None
    return TIER_3_SUMMARY_ONLY if tier == 3 else f"tier_{tier}_disabled"


@dataclass
class Candidate:
    coin_id: int
    scanner: str
    match: Match
    fields: dict


def _unified_value(u: UnifiedScore | _RuledUnified | None, metric: str) -> float | None:
    if u is None:
        return None
    if metric == "tier":
        return tier_number(u.tier)
    return getattr(u, metric, None)


def _value_of(own: dict[str, dict], u: UnifiedScore | _RuledUnified | None):
    """(scanner, metric) → a coin's value: this run's result of that scanner, else the still-fresh
    score the unified score of this run used (so an RSI scan can read the last accumulation)."""
    def value_of(scanner: str, metric: str) -> float | None:
        if scanner == "unified":
            return _unified_value(u, metric)
        scores = own.get(scanner)
        if scores is None and u is not None:
            scores = ((u.components or {}).get(scanner) or {}).get("scores")
        value = (scores or {}).get(metric)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return value_of


def _entry_prices(pairs: set[tuple[int, datetime]], results: Iterable[tuple[int, datetime | None, dict | None]]
                  ) -> dict[tuple[int, datetime], float]:
    """Close of the 1h candle that closed at each time; else the close a scanner recorded as input.
    `results` are (coin id, data_as_of, inputs) in the run's result order (the first input wins)."""
    prices: dict[tuple[int, datetime], float] = {}
    for coin_id, data_as_of, inputs in results:
        value = ((inputs or {}).get("last_close") or {}).get("value")
        if data_as_of and isinstance(value, (int, float)):
            prices.setdefault((coin_id, data_as_of), float(value))
    if pairs:
        candles = Candle.objects.filter(interval="1h", coin_id__in={c for c, _ in pairs},
                                        open_time__in={t - timedelta(hours=1) for _, t in pairs})
        for coin_id, open_time, close in candles.values_list("coin_id", "open_time", "close"):
            if (coin_id, open_time + timedelta(hours=1)) in pairs:
                prices[(coin_id, open_time + timedelta(hours=1))] = close
    return prices


class _RuledUnified(NamedTuple):
    """What the rules read of a unified score (METRICS["unified"] and the components), as read_rows
    reads it: not a model instance per coin."""
    coin_id: int
    unified_score: float | None
    tier: str
    confidence: float | None
    confirmations: int | None
    coverage: float | None
    components: dict | None


def find_candidates(run: ScanRun) -> list[Candidate]:
    """Every (coin, scanner, direction) of the run that matched an enabled rule, at its highest tier.

    The rules read every result's scores; only the coins that matched are read in full (inputs,
    missing, reasons: most of a result's bytes) with the entry prices of their signals. A full scan
    writes ~5,000 results and matches a few percent of them."""
    rules = list(AlertRule.objects.filter(enabled=True).order_by("tier", "pk"))
    by_scanner: dict[str, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        by_scanner[rule.scanner].append(rule)
    if not by_scanner:
        return []
    # read_rows: the values of values_list, without the ORM's per-value conversions (~5,000 rows)
    results = read_rows(ScanResult.objects.filter(run=run), "pk", "coin_id", "scanner", "scores", "data_as_of")
    # The rules read a unified score's numbers and components; its other JSON fields (most of its
    # bytes: ~0.05 s of a full scan's tail to decode) are read for the coins it matched on, below.
    unified = {u.coin_id: u for u in map(_RuledUnified._make, read_rows(
        UnifiedScore.objects.filter(run=run), *_RuledUnified._fields))}
    own: dict[int, dict[str, dict]] = defaultdict(dict)
    for _, coin_id, scanner, scores, _ in results:
        own[coin_id][scanner] = scores or {}
    matched: list[tuple[tuple, str, Match]] = []  # (result row, direction, match), in result order
    for r in results:
        _, coin_id, scanner, _, _ = r
        if scanner not in by_scanner or scanner not in METRICS:
            continue
        u = unified.get(coin_id)
        for direction, match in evaluate(by_scanner[scanner], _value_of(own[coin_id], u)).items():
            matched.append((r, direction, match))
    unified_matched: list[tuple[int, UnifiedScore, Match]] = []
    for coin_id, u in unified.items():
        if "unified" not in by_scanner:
            break
        for match in evaluate(by_scanner["unified"], _value_of(own[coin_id], u)).values():
            unified_matched.append((coin_id, u, match))
    if unified_matched:
        whole = {u.coin_id: u for u in UnifiedScore.objects.filter(
            run=run, coin_id__in={coin_id for coin_id, _, _ in unified_matched})}
        unified_matched = [(coin_id, whole[coin_id], match) for coin_id, _, match in unified_matched]
    coins = {r[1] for r, _, _ in matched} | {coin_id for coin_id, _, _ in unified_matched}
    full = read_rows(ScanResult.objects.filter(run=run, coin_id__in=coins),
                     "pk", "coin_id", "data_as_of", "inputs", "missing", "reasons") if coins else []
    detail = {pk: (inputs, missing, reasons) for pk, _, _, inputs, missing, reasons in full}
    prices = _entry_prices({(r[1], r[4]) for r, _, _ in matched if r[4]}
                           | {(coin_id, u.data_as_of) for coin_id, u, _ in unified_matched if u.data_as_of},
                           ((coin_id, at, inputs) for _, coin_id, at, inputs, _, _ in full))
    out: list[Candidate] = []
    for (pk, coin_id, scanner, scores, data_as_of), direction, match in matched:
        inputs, missing, reasons = detail[pk]
        metric = headline_metric(scanner, direction)
        out.append(Candidate(coin_id, scanner, match, {
            "score": (scores or {}).get(metric), "score_metric": metric,
            "unified_score": unified[coin_id].unified_score if coin_id in unified else None,
            "candle_close_time": data_as_of, "data_as_of": data_as_of,
            "entry_price": prices.get((coin_id, data_as_of)), "scores": scores or {},
            "inputs": inputs or {}, "missing": missing or [], "reasons": reasons or []}))
    for coin_id, u, match in unified_matched:
        out.append(Candidate(coin_id, "unified", match, {
            "score": u.unified_score, "score_metric": "unified_score", "unified_score": u.unified_score,
            "candle_close_time": u.data_as_of, "data_as_of": u.data_as_of,
            "entry_price": prices.get((coin_id, u.data_as_of)),
            "scores": {"unified_score": u.unified_score, "tier": u.tier, "label": u.label, "action": u.action,
                       "confidence": u.confidence, "coverage": u.coverage, "confirmations": u.confirmations,
                       "agreeing_scanners": u.agreeing_scanners, "breakdown": u.breakdown},
            "inputs": u.components or {}, "missing": u.missing or [], "reasons": u.reasons or []}))
    skipped = [c for c in out if c.fields["candle_close_time"] is None]
    if skipped:
        log.warning("run %s: %d signal(s) skipped, no closed candle to anchor them", run.pk, len(skipped))
    return [c for c in out if c.fields["candle_close_time"] is not None]


def initial_status(tier: int) -> tuple[str, str]:
    reason = tier_disabled_reason(tier)
    return (AlertDelivery.SUMMARY_ONLY, reason) if reason else (AlertDelivery.PENDING, "")


def record_signals(run: ScanRun, now: datetime | None = None) -> list[Signal]:
    """Write the run's new signals and their deliveries (one per enabled recipient wanting the
    tier, and the coin when it is limited to some coins) in one transaction. Returns the signals
    created; a re-run returns []."""
    if run.finished_at is None or run.status == ScanRun.RUNNING:
        return []
    now = now or timezone.now()
    candidates = find_candidates(run)
    Recipient.ensure_from_settings()
    recipients = list(Recipient.objects.active())
    limits = coin_limits(recipients)
    created: list[Signal] = []
    with transaction.atomic():
        existing = set(Signal.objects.filter(
            coin_id__in={c.coin_id for c in candidates},
            candle_close_time__in={c.fields["candle_close_time"] for c in candidates},
        ).values_list("coin_id", "scanner", "direction", "candle_close_time"))
        new = [dict(coin_id=c.coin_id, run=run, scanner=c.scanner, kind=c.match.kind, direction=c.match.direction,
                    tier=c.match.tier, rules_matched=c.match.rules, simulated=run.simulated, created_at=now, **c.fields)
               for c in candidates
               if (c.coin_id, c.scanner, c.match.direction, c.fields["candle_close_time"]) not in existing]
        try:
            with transaction.atomic():  # all in one INSERT (a full scan records ~100)
                created = Signal.objects.bulk_create([Signal(**fields) for fields in new])
        except IntegrityError:  # a concurrent recorder has just written one of them: one by one, skipping it
            created = []
            for fields in new:
                try:
                    with transaction.atomic():
                        created.append(Signal.objects.create(**fields))
                except IntegrityError:
                    continue
        deliveries = []
        for signal in created:
            status, reason = initial_status(signal.tier)
            deliveries += [AlertDelivery(signal=signal, recipient=r, status=status, reason=reason, next_attempt_at=now)
                           for r in recipients
                           if r.wants(signal.tier) and (r.pk not in limits or signal.coin_id in limits[r.pk])]
        AlertDelivery.objects.bulk_create(deliveries)
        marker, _ = ProcessedRun.objects.get_or_create(run=run, defaults={"processed_at": now})
        ProcessedRun.objects.filter(pk=marker.pk).update(signals=F("signals") + len(created))
    if created:
        log.info("run %s: %d signal(s), %d deliveries", run.pk, len(created), len(deliveries))
    return created


def unprocessed_runs(now: datetime, within: timedelta = timedelta(hours=2)) -> list[ScanRun]:
    """Finished runs of the last `within` whose signals were never recorded (a missed hook)."""
    done = ProcessedRun.objects.values("run_id")
    return list(ScanRun.objects.filter(finished_at__gte=now - within, finished_at__lte=now)
                .exclude(status__in=[ScanRun.RUNNING, ScanRun.FAILED]).exclude(pk__in=done).order_by("finished_at"))
