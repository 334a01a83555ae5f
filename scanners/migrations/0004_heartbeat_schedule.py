"""The django-q2 schedule "cluster heartbeat": `cryptosatx.heartbeat.beat` every minute, so an
idle cluster still writes its ClusterHeartbeat row (docs/architecture.md, "Workers and clusters")."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import migrations

NAME = "cluster heartbeat"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(name=NAME, defaults={
        "func": "cryptosatx.heartbeat.beat", "schedule_type": "I", "minutes": 1, "repeats": -1,
        "next_run": datetime.now(ZoneInfo("UTC"))})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [("scanners", "0003_clusterheartbeat"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create, remove)]
