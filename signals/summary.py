"""The daily summary (PLAN.md §1.3): every number counted from that day's rows, in TIME_ZONE.

`send_daily_summary` writes one SummaryDelivery per recipient and day (unique), with the text
frozen at creation, then claims and sends it like an alert: sent once a day even with two workers.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from scanners.models import ScanResult, ScanRun

from .messages import fit, score_text, signal_type, site_url, tidy
from .models import AlertDelivery, Recipient, ScoringConfig, Signal, SummaryDelivery
from .sender import (PACED, RATE_LIMITED, Transport, bot_paused_until, claim, default_worker, due_ids, finish,
                     gone_reason, release, reserve_slot, send_message)

TOP = 3
GEMS = 5
WATCHLIST = 10

# Yesterday's performance comes from the performance app (which depends on signals); it registers
# its reader at start-up (performance.apps). Without it the summary says there is no history yet.
_day_record_reader: Callable[[datetime, datetime], dict] | None = None


def set_day_record_reader(reader: Callable[[datetime, datetime], dict] | None) -> None:
    global _day_record_reader
    _day_record_reader = reader


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _value(inputs: dict, name: str) -> float | None:
    value = ((inputs or {}).get(name) or {}).get("value")
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pct(x: float | None, digits: int = 0, sign: bool = False) -> str | None:
    if x is None:
        return None
    return f"{x:+.{digits}f}%" if sign else f"{x:.{digits}f}%"


def _usd(x: float | None) -> str | None:
    if x is None:
        return None
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= size:
            return f"${x / size:.1f}{unit}"
    return f"${x:.0f}"


def _best_per_coin(rows, key: str) -> list[dict]:
    """The highest `key` score of each coin over the day, best first."""
    best: dict[str, dict] = {}
    for symbol, scores, inputs in rows:
        value = (scores or {}).get(key)
        if not isinstance(value, (int, float)):
            continue
        if symbol not in best or value > best[symbol]["score"]:
            best[symbol] = {"symbol": symbol, "score": value, "inputs": inputs or {}}
    return sorted(best.values(), key=lambda r: (-r["score"], r["symbol"]))


def _smart_money(results, state: str, key: str) -> list[dict]:
    rows = results.filter(scanner="smart_money", signal=state).values_list("coin__symbol", "scores", "inputs")
    top = _best_per_coin(rows, key)[:TOP]
    for item in top:
        buy = _value(item["inputs"], "buy_pressure_pct")
        pressure = buy if key == "accumulation" or buy is None else 100 - buy
        notes = [f"{'buy' if key == 'accumulation' else 'sell'} pressure {_pct(pressure)}" if pressure is not None else None,
                 f"funding {_pct(_value(item['inputs'], 'funding_pct'), 3)}"
                 if _value(item["inputs"], "funding_pct") is not None else None,
                 f"24h {_pct(_value(item['inputs'], 'pct_24h'), 1, sign=True)}"
                 if _value(item["inputs"], "pct_24h") is not None else None]
        item["notes"] = ", ".join(n for n in notes if n)
    return top


def _gems(results, floor: float) -> list[dict]:
    rows = results.filter(scanner="mss").values_list("coin__symbol", "scores", "inputs")
    gems = [g for g in _best_per_coin(rows, "mss") if g["score"] >= floor][:GEMS]
    for g in gems:
        age = _value(g["inputs"], "age_hours")
        notes = [f"{_usd(_value(g['inputs'], 'fdv'))} FDV" if _value(g["inputs"], "fdv") is not None else None,
                 f"{age:.0f}h old" if age is not None else None]
        g["notes"] = ", ".join(n for n in notes if n)
    return gems


def _strength(s: Signal) -> tuple:
    """A pair's strongest signal: the highest unified score (one without ranks below any with one);
    on a tie the most recently recorded (highest id), so the pick never depends on query order."""
    return (s.unified_score is not None, s.unified_score or 0.0, s.pk)


def _watchlist(start: datetime, end: datetime) -> list[Signal]:
    """The day's summary-only tier-3 signals, one per (coin, scanner): that pair's strongest, ordered by
    unified score, highest first (then symbol, then scanner). Each scanner's own score has its own scale
    (accumulation 0–10, MSS 0–100, an RSI the lower the stronger), so only the unified score (0–100)
    compares across scanners; one coin scanned every hour no longer fills the list with itself."""
    signals = (Signal.objects.filter(created_at__gte=start, created_at__lt=end, tier=3,
                                     deliveries__status=AlertDelivery.SUMMARY_ONLY).distinct().select_related("coin")
               .only("id", "coin__symbol", "scanner", "kind", "direction", "score", "score_metric", "unified_score",
                     "scores"))
    best: dict[tuple[int, str], Signal] = {}
    for s in signals:
        key = (s.coin_id, s.scanner)
        if key not in best or _strength(s) > _strength(best[key]):
            best[key] = s
    return sorted(best.values(), key=lambda s: (s.unified_score is None, -(s.unified_score or 0.0), s.coin.symbol,
                                                s.scanner))


def _watch_score(s: Signal) -> str:
    """The unified score the list is ordered by, then the scanner's own reading (a unified signal's is the same)."""
    unified = f"unified {score_text('unified_score', s.unified_score)}"
    return unified if s.scanner == "unified" else f"{unified} · {score_text(s.score_metric, s.score)}"


def summary_context(day: date) -> dict:
    start, end = day_bounds(day)
    runs = ScanRun.objects.filter(started_at__gte=start, started_at__lt=end)
    statuses = Counter(runs.values_list("status", flat=True))
    results = ScanResult.objects.filter(run__in=runs)
    per_tier = dict(Signal.objects.filter(created_at__gte=start, created_at__lt=end)
                    .values_list("tier").annotate(n=Count("id")).values_list("tier", "n"))
    watch = _watchlist(start, end)
    watchlist = [{"symbol": s.coin.symbol, "type": signal_type(s), "direction": s.direction,
                  "score": _watch_score(s)} for s in watch[:WATCHLIST]]
    floor = ScoringConfig.current().mss_threshold
    return {
        "day": day, "coins_scanned": results.values("coin_id").distinct().count(),
        "scans": sum(statuses.values()), "scans_failed": statuses.get(ScanRun.FAILED, 0),
        "scans_partial": statuses.get(ScanRun.PARTIAL, 0),
        "tier1": per_tier.get(1, 0), "tier2": per_tier.get(2, 0), "tier3": per_tier.get(3, 0),
        "accumulation": _smart_money(results, "accumulating", "accumulation"),
        "distribution": _smart_money(results, "distributing", "distribution"),
        "gems": _gems(results, floor), "gem_floor": f"{floor:g}",
        "watchlist": watchlist, "watchlist_more": max(0, len(watch) - WATCHLIST),
        "simulated": runs.filter(simulated=True).exists(), "site": site_url(),
        "performance": _day_record_reader(start, end) if _day_record_reader else None,
    }


def daily_summary(day: date) -> str:
    """The summary of `day` (a local calendar day) as Telegram HTML, within 4096 characters."""
    return fit(tidy(render_to_string("signals/telegram/daily_summary.html", summary_context(day))))


def send_daily_summary(transport: Transport, now: datetime | None = None, worker: str | None = None,
                       day: date | None = None) -> dict:
    """Write yesterday's summary (or `day`'s) once per recipient, then send what is due. Safe to
    call again: rows already there are reused, sent rows are never sent twice."""
    now = now or timezone.now()
    worker = worker or default_worker()
    day = day or timezone.localdate(now) - timedelta(days=1)
    Recipient.ensure_from_settings()
    recipients = list(Recipient.objects.active().filter(wants_daily_summary=True))
    missing = [r for r in recipients if not SummaryDelivery.objects.filter(day=day, recipient=r).exists()]
    if missing:
        text = daily_summary(day)
        for r in missing:  # get_or_create: a second worker finds the row (unique day + recipient)
            SummaryDelivery.objects.get_or_create(day=day, recipient=r, defaults={"text": text, "next_attempt_at": now})
    return {"day": day.isoformat(), **send_due_summaries(transport, now, worker)}


def send_due_summaries(transport: Transport, now: datetime | None = None, worker: str | None = None) -> dict:
    """Send the summary rows that are due: a new one, or one that waited for its chat's pacing slot, a 429 or a
    retryable fault. The daily task calls it right after writing the day's rows, and the alert sender every
    minute (signals.tasks.send_alerts), so a summary paced behind an alert goes out a minute later, not a day."""
    now = now or timezone.now()
    worker = worker or default_worker()
    paused = bot_paused_until(now)
    if paused:
        return {"paused_until": paused.isoformat(), "sent": 0}
    ids = claim(due_ids(now, model=SummaryDelivery), now, worker, model=SummaryDelivery)
    outcomes: Counter = Counter()
    for row in SummaryDelivery.objects.filter(pk__in=ids).select_related("recipient__user").order_by("pk"):
        gone = gone_reason(row.recipient)  # disabled, or its user deactivated, since the row was written
        if gone:
            finish(SummaryDelivery, [row.pk], worker, SummaryDelivery.FAILED, gone)
            outcomes[gone] += 1
            continue
        if bot_paused_until(now):
            release(SummaryDelivery, [row.pk], worker, bot_paused_until(now), RATE_LIMITED)
            outcomes["rate_limited"] += 1
            continue
        wait_until = reserve_slot(row.recipient, now)
        if wait_until is not None:
            release(SummaryDelivery, [row.pk], worker, wait_until, PACED)
            outcomes["paced"] += 1
            continue
        outcomes[send_message(SummaryDelivery, [row], row.recipient, transport, row.text, False, now, worker)] += 1
    return {"sent": outcomes.pop("sent", 0), **outcomes}
