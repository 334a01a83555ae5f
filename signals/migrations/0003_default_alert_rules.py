"""Seed the alert rules of SCORING.md §7 (thresholds from .env where it has a key); edited in admin."""
from django.conf import settings
from django.db import migrations


def seed(apps, schema_editor):
    from signals.rules import default_rule_rows

    AlertRule = apps.get_model("signals", "AlertRule")
    for row in default_rule_rows(settings):
        AlertRule.objects.get_or_create(name=row.pop("name"), defaults=row)


def unseed(apps, schema_editor):
    from signals.rules import DEFAULT_RULES

    apps.get_model("signals", "AlertRule").objects.filter(name__in=[r[0] for r in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):

    dependencies = [("signals", "0002_alerts")]

    operations = [migrations.RunPython(seed, unseed)]
