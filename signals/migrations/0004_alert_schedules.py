"""The django-q2 schedules of the alert sender (every minute) and the daily summary
(DAILY_SUMMARY_TIME in TIME_ZONE); editable in admin afterwards."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

SEND = "signals: send alerts"
SUMMARY = "signals: daily summary"


def next_summary_run(now: datetime) -> datetime:
    try:
        hour, minute = (int(x) for x in settings.DAILY_SUMMARY_TIME.split(":"))
        wanted = time(hour, minute)
    except (ValueError, TypeError):  # the system check names the bad key; migrate still completes
        wanted = time(8, 0)
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    at = datetime.combine(local.date(), wanted, tzinfo=local.tzinfo)
    return at if at > local else at + timedelta(days=1)


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    now = datetime.now(ZoneInfo("UTC"))
    Schedule.objects.get_or_create(name=SEND, defaults={
        "func": "signals.tasks.send_alerts", "schedule_type": "I", "minutes": 1, "repeats": -1, "next_run": now})
    Schedule.objects.get_or_create(name=SUMMARY, defaults={
        "func": "signals.tasks.send_daily_summary_task", "schedule_type": "D", "repeats": -1,
        "next_run": next_summary_run(now)})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[SEND, SUMMARY]).delete()


class Migration(migrations.Migration):

    dependencies = [("signals", "0003_default_alert_rules"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create, remove)]
