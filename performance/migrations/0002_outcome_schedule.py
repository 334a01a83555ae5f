"""The django-q2 schedule that creates and evaluates signal outcomes every 15 minutes; editable in admin.
The task itself does nothing while AUTO_OUTCOME_TRACKING is false."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import migrations

EVALUATE = "performance: evaluate outcomes"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(name=EVALUATE, defaults={
        "func": "performance.tasks.evaluate_outcomes", "schedule_type": "I", "minutes": 15, "repeats": -1,
        "next_run": datetime.now(ZoneInfo("UTC"))})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=EVALUATE).delete()


class Migration(migrations.Migration):

    dependencies = [("performance", "0001_initial"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create, remove)]
