"""The django-q2 task of a watchlist's schedule: thin, safe to run twice (one scan per slot)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import Watchlist, WatchlistScanSlot
from .scanning import scan_watchlist


def slot_start(minutes: int, now: datetime) -> datetime:
    """The start of the slot `now` falls in; slots are aligned to the epoch, as cryptosatx.tasks does."""
    seconds = max(60, minutes * 60)
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=timezone.utc)


def scan_watchlist_task(watchlist_id: int, now: datetime | None = None) -> dict:
    if not settings.AUTO_SCAN_ENABLED:
        return {"skipped": "AUTO_SCAN_ENABLED is false"}
    watchlist = Watchlist.objects.filter(pk=watchlist_id).select_related("owner").first()
    if watchlist is None:
        return {"skipped": f"watchlist {watchlist_id} no longer exists"}
    if not watchlist.scan_interval_minutes:
        return {"skipped": "the watchlist has no scan interval"}
    if not watchlist.owner.is_active:
        return {"skipped": "its owner's account is inactive"}
    now = now or datetime.now(timezone.utc)
    try:
        with transaction.atomic():
            slot = WatchlistScanSlot.objects.create(watchlist=watchlist,
                                                    slot_start=slot_start(watchlist.scan_interval_minutes, now))
    except IntegrityError:
        return {"skipped": "this slot already ran (another worker or cluster took it)"}
    # A slot claimed within the cluster's timeout that has neither a run nor a reason is still scanning.
    running = (WatchlistScanSlot.objects.filter(watchlist=watchlist, run__isnull=True, skipped="",
                                                claimed_at__gte=now - timedelta(seconds=settings.Q_CLUSTER["timeout"]))
               .exclude(pk=slot.pk))
    if running.exists():
        slot.skipped = "the previous scan of this watchlist is still running"
    else:
        result = scan_watchlist(watchlist)
        slot.run = result.run
        if result.run is None:
            slot.skipped = "the watchlist has no coin the exchange lists"
    slot.save(update_fields=["run", "skipped"])
    if slot.skipped:
        return {"skipped": slot.skipped}
    return {"run_id": slot.run.pk, "status": slot.run.status, "scored": slot.run.scored}
