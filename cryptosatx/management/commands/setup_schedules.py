from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.core.management.base import BaseCommand
from django_q.models import Schedule

DEADMAN = "dead-man check"
# scanner -> the settings key of its interval in hours
SCAN_SCHEDULES = {"smart_money": "SMART_MONEY_INTERVAL_HOURS", "mss": "MSS_DISCOVERY_INTERVAL_HOURS",
                  "rsi": "RSI_SCREENER_INTERVAL_HOURS", "social": "LUNARCRUSH_INTERVAL_HOURS"}


class Command(BaseCommand):
    help = ("Create the django-q2 schedules of the scanners from .env defaults. Existing schedules keep the "
            "interval edited in admin unless --reset is given.")

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Set every interval back to its .env value.")

    def handle(self, *args, reset: bool = False, **options):
        for scanner, key in SCAN_SCHEDULES.items():
            name = f"scan {scanner}"
            if not settings.AUTO_SCAN_ENABLED:
                Schedule.objects.filter(name=name).delete()
                self.stdout.write(f"{name}: AUTO_SCAN_ENABLED is false, no schedule")
                continue
            minutes = max(1, round(getattr(settings, key) * 60))
            schedule, created = Schedule.objects.get_or_create(
                name=name, defaults={"func": "cryptosatx.tasks.scan_task", "args": repr(scanner),
                                     "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1,
                                     # `make run` has just scanned; the first scheduled run is one interval on
                                     "next_run": timezone.now() + timedelta(minutes=minutes)})
            if reset and not created:
                schedule.minutes = minutes
                schedule.save(update_fields=["minutes"])
            self.stdout.write(f"{name}: every {schedule.minutes} min ({'created' if created else 'kept'})")
        # The dead-man alert (cryptosatx.deadman): Telegram is told when scans stop, and when they resume.
        _, created = Schedule.objects.get_or_create(
            name=DEADMAN, defaults={"func": "cryptosatx.deadman.check_task", "schedule_type": Schedule.MINUTES,
                                    "minutes": 1, "repeats": -1, "next_run": timezone.now()})
        self.stdout.write(f"{DEADMAN}: every minute ({'created' if created else 'kept'})")
