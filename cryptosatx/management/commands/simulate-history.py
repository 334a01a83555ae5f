import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from cryptosatx.history import simulate_history
from marketdata.models import Candle, data_is_simulated


class Command(BaseCommand):
    help = ("Replay the scanners over stored history, point in time, writing the signals they would have raised "
            "(marked simulated, never sent) and their measured outcomes. Run `backfill --days N` first.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=60)
        parser.add_argument("--step-hours", type=int, default=4, help="Hours between replayed scans (default 4).")
        parser.add_argument("--coins", default="", help="Comma-separated symbols (default: every active coin).")
        parser.add_argument("--limit", type=int, default=None, help="At most this many coins.")
        parser.add_argument("--once", action="store_true", help="Do nothing if a replay has been run before "
                                                                "(make run uses it on every start).")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, days, step_hours, coins, limit, once: bool = False, json: bool = False, **options):
        from scanners.models import ScanRun

        if once and ScanRun.objects.filter(scanner="replay", status=ScanRun.COMPLETED).exists():
            self.stdout.write("A completed replay exists already; nothing to do (--once).")
            return
        if not 0 < days <= 365 or not 1 <= step_hours <= 168 or (limit is not None and limit < 1):
            raise CommandError("--days must be in (0, 365], --step-hours in [1, 168], --limit at least 1.")
        if not data_is_simulated():
            raise CommandError("Stored data do not come from the market simulator: simulate-history fills analytics "
                               "only for a simulated market (real history is measured by live scans).")
        if not Candle.objects.exists():
            raise CommandError("No stored candles: run `python manage.py backfill --days 90` first.")
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        report = simulate_history(days, step_hours, symbols, limit)
        if json:
            self.stdout.write(jsonlib.dumps(report, default=str))
        else:
            self.stdout.write(f"Replayed {report['coins']} coins at {report['evaluation_times']} times: "
                              f"{report['signals']} simulated signals, outcomes evaluated {report['evaluated']}.")
