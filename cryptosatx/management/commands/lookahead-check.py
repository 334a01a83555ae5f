import json as jsonlib
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cryptosatx.scanning import current_thresholds as thresholds
from scanners.history import load_history
from scanners.lookahead import check, evaluation_times


class Command(BaseCommand):
    help = ("Score stored history twice — with all of it, and cut at each evaluation time — and report any "
            "difference (a scanner that looks ahead). Exits 1 when it finds one.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=7, help="Evaluate over the last N days (default 7).")
        parser.add_argument("--step-hours", type=int, default=6, help="Hours between evaluation times (default 6).")
        parser.add_argument("--coins", default="", help="Comma-separated symbols (default: the first --limit coins).")
        parser.add_argument("--limit", type=int, default=100, help="Coins to check when --coins is not given.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, days, step_hours, coins, limit, json: bool = False, **options):
        if not 0 < days <= 365 or not 1 <= step_hours <= 24 * 7 or not 1 <= limit <= 5000:
            raise CommandError("--days must be in (0, 365], --step-hours in [1, 168], --limit in [1, 5000].")
        end = timezone.now()
        start = end - timedelta(days=days)
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        history = load_history(start, end, symbols, None if symbols else limit)
        if not any(cd.candles for cd in history.values()):
            raise CommandError("No stored candles in that range: run `manage.py backfill` or a scan first.")
        report = check(history, evaluation_times(start, end, timedelta(hours=step_hours)), thresholds())
        summary = {"coins": len(history), "evaluations": report.evaluations, "compared": report.compared,
                   "differences": len(report.differences), "examples": report.differences[:20],
                   "clean": report.clean}
        if json:
            self.stdout.write(jsonlib.dumps(summary))
        else:
            self.stdout.write(f"Checked {len(history)} coins at {report.evaluations} times: "
                              f"{sum(report.compared.values())} scores compared, "
                              f"{len(report.differences)} differences.")
            for d in report.differences[:20]:
                self.stdout.write(f"  {d['as_of']} {d['symbol']} {d['scanner']}: full {d['full']} vs cut {d['cut']}")
        if not report.clean:
            raise CommandError("look-ahead found: a scanner used data from after its evaluation time.")
