import json as jsonlib
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from marketdata.backfill import backfill
from marketdata.binance_spot import INTERVAL_MS
from marketdata.errors import MarketDataError


class Command(BaseCommand):
    help = "Load candle history for the USDT universe (or --coins) into the database."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=90, help="How far back to load (default 90).")
        parser.add_argument("--interval", default="1h", choices=sorted(INTERVAL_MS))
        parser.add_argument("--coins", default="", help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, days, interval, coins, json: bool = False, **options):
        if not 0 < days <= 3650:
            raise CommandError("--days must be between 0 and 3650.")
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        try:
            report = backfill(days=days, interval=interval, symbols=symbols)
        except MarketDataError as exc:
            raise CommandError(f"backfill failed: {exc}") from exc
        if json:
            self.stdout.write(jsonlib.dumps(asdict(report)))
            return
        self.stdout.write(f"Backfilled {report.candles} candles for {report.coins} coins in {report.seconds}s"
                          f"{' (simulated market)' if report.simulated else ''}.")
        for symbol, error in list(report.errors.items())[:20]:
            self.stderr.write(f"  {symbol}: {error}")
        if report.errors and len(report.errors) >= report.coins:
            raise CommandError("every coin failed; see the errors above.")

