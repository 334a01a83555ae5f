"""Each watchlist with a scan interval has one django-q2 Schedule, named "watchlist <id>", created,
updated and deleted with it. The watchlist is the source of truth: saving it rewrites the row."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from .models import Watchlist

TASK = "watchlists.tasks.scan_watchlist_task"


def schedule_name(watchlist_id: int) -> str:
    return f"watchlist {watchlist_id}"


def schedule_of(watchlist: Watchlist) -> Schedule | None:
    return Schedule.objects.filter(name=schedule_name(watchlist.pk)).order_by("pk").first()


def sync_schedule(watchlist: Watchlist) -> Schedule | None:
    """Make the watchlist's Schedule match its `scan_interval_minutes` (none when it is empty)."""
    name = schedule_name(watchlist.pk)
    minutes = watchlist.scan_interval_minutes
    if not minutes:
        Schedule.objects.filter(name=name).delete()
        return None
    current = schedule_of(watchlist)
    if current is None:
        return Schedule.objects.create(
            name=name, func=TASK, args=repr(watchlist.pk), schedule_type=Schedule.MINUTES, minutes=minutes,
            repeats=-1, next_run=timezone.now() + timedelta(minutes=minutes))
    Schedule.objects.filter(name=name).exclude(pk=current.pk).delete()  # an admin's copy would scan twice
    fields = {"func": TASK, "args": repr(watchlist.pk), "schedule_type": Schedule.MINUTES, "repeats": -1}
    if current.minutes != minutes:
        fields.update(minutes=minutes, next_run=timezone.now() + timedelta(minutes=minutes))
    changed = [k for k, v in fields.items() if getattr(current, k) != v]
    if changed:
        for key in changed:
            setattr(current, key, fields[key])
        current.save(update_fields=changed)
    return current


def delete_schedule(watchlist_id: int) -> None:
    Schedule.objects.filter(name=schedule_name(watchlist_id)).delete()
