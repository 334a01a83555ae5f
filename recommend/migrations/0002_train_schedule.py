"""The django-q2 schedule that retrains the recommender every 6 hours; editable in admin."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import migrations

TRAIN = "recommend: train recommender"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(name=TRAIN, defaults={
        "func": "recommend.tasks.train_recommender", "schedule_type": "I", "minutes": 360, "repeats": -1,
        "next_run": datetime.now(ZoneInfo("UTC"))})


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=TRAIN).delete()


class Migration(migrations.Migration):

    dependencies = [("recommend", "0001_initial"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create, remove)]
