"""manage.py train-recommender [--json]: fit on older signals, measure on newer ones, store both."""
import json

from django.core.management.base import BaseCommand

from recommend.recommendations import model_summary
from recommend.trainer import train_and_store


class Command(BaseCommand):
    help = "Train the signal recommender (24h WIN vs not) with a time-ordered split and store it with its metrics."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        record = train_and_store()
        summary = {**model_summary(record), "id": record.pk, "n_labelled": record.n_labelled,
                   "features": len(record.features)}
        if options["json"]:
            self.stdout.write(json.dumps(summary, default=str))
            return
        self.stdout.write(f"{record.n_labelled} labelled 24h outcomes: {record.n_train} train, {record.n_test} test, "
                          f"{record.n_purged} purged.")
        self.stdout.write(summary["verdict"])
