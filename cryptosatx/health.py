"""`GET /healthz`: is the system doing its job? No login, nothing secret — ages and counts.

Each check has a limit; the answer is 200 when every check is within it and 503 otherwise, so a
load balancer or an uptime monitor can act on the status alone and a human on the body.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from marketdata.models import DataSource
from scanners.models import ScanRun
from signals.models import AlertDelivery, SummaryDelivery

from .heartbeat import ALIVE_WITHIN, alive_clusters

SCAN_INTERVALS = {"smart_money": "SMART_MONEY_INTERVAL_HOURS", "mss": "MSS_DISCOVERY_INTERVAL_HOURS",
                  "rsi": "RSI_SCREENER_INTERVAL_HOURS", "social": "LUNARCRUSH_INTERVAL_HOURS"}
SOURCE_MAX_AGE = timedelta(hours=3)  # the most frequent scan is hourly: three missed hours is a problem
OUTBOX_MAX_AGE = timedelta(minutes=10)  # the sender runs every minute


def _age(now, then) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


def last_finished_scans() -> dict[str, object]:
    """scanner -> when its last completed (or partial) scan finished; "all" scans count for every one.
    Only scans of the whole universe count: a watchlist's or a `--coins` scan of a few coins says
    nothing about whether the scheduled scan still runs."""
    whole_universe = Q(parameters__symbols__isnull=True) | Q(parameters__symbols=[])
    finished = dict(ScanRun.objects.exclude(status__in=[ScanRun.RUNNING, ScanRun.FAILED]).filter(whole_universe)
                    .values_list("scanner").annotate(last=Max("finished_at")))
    return {scanner: max((t for t in (finished.get(scanner), finished.get("all")) if t), default=None)
            for scanner in SCAN_INTERVALS}


def scan_checks(now) -> dict:
    """A scanner is late when its last completed (or partial) scan is older than twice its interval."""
    scans = {}
    for scanner, last in last_finished_scans().items():
        limit = timedelta(hours=2 * getattr(settings, SCAN_INTERVALS[scanner]))
        scans[scanner] = {"ok": last is not None and now - last <= limit, "age_seconds": _age(now, last),
                          "limit_seconds": limit.total_seconds()}
    return scans


def checks(now=None) -> dict:
    now = now or timezone.now()
    out: dict = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        out["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 — the whole point is to report it
        return {"database": {"ok": False, "error": type(exc).__name__}}

    # At least one q cluster must have shown life recently, or nothing is scanning or sending.
    alive = list(alive_clusters(now=now).values_list("host", "last_seen"))
    out["clusters"] = {"ok": bool(alive), "alive": len(alive), "within_seconds": ALIVE_WITHIN.total_seconds(),
                       "last_seen_age_seconds": _age(now, max((t for _, t in alive), default=None))}

    out["scans"] = scan_checks(now) if settings.AUTO_SCAN_ENABLED else {"ok": True,
                                                                         "note": "AUTO_SCAN_ENABLED is false"}

    out["sources"] = {s.name: {"ok": s.last_success_at is not None and now - s.last_success_at <= SOURCE_MAX_AGE
                               and not (s.banned_until and s.banned_until > now),
                               "age_seconds": _age(now, s.last_success_at), "simulated": s.simulated,
                               "banned": bool(s.banned_until and s.banned_until > now),
                               "limit_seconds": SOURCE_MAX_AGE.total_seconds()}
                      for s in DataSource.objects.all()}

    # The outbox: alerts and daily summaries not yet sent (pending, or claimed by a worker).
    waiting = AlertDelivery.objects.filter(Q(status=AlertDelivery.PENDING) | Q(status=AlertDelivery.CLAIMED))
    summaries = SummaryDelivery.objects.filter(status__in=[SummaryDelivery.PENDING, SummaryDelivery.CLAIMED])
    oldest = min((t for t in (
        waiting.order_by("signal__created_at").values_list("signal__created_at", flat=True).first(),
        summaries.order_by("created_at").values_list("created_at", flat=True).first()) if t), default=None)
    out["outbox"] = {"ok": oldest is None or now - oldest <= OUTBOX_MAX_AGE,
                     "backlog": waiting.count() + summaries.count(), "oldest_age_seconds": _age(now, oldest),
                     "limit_seconds": OUTBOX_MAX_AGE.total_seconds()}
    return out


def _all_ok(node) -> bool:
    if isinstance(node, dict):
        if node.get("ok") is False:
            return False
        return all(_all_ok(v) for v in node.values() if isinstance(v, dict))
    return True


@never_cache
def healthz(request):
    body = checks()
    ok = _all_ok(body)
    return JsonResponse({"ok": ok, **body}, status=200 if ok else 503)
