import json as jsonlib
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from marketdata.backfill import MAX_METRICS_DAYS, SOCIAL_HISTORY_NOTE, backfill
from marketdata.binance_spot import INTERVAL_MS
from marketdata.errors import MarketDataError


class Command(BaseCommand):
    help = ("Load candle history for the USDT universe (or --coins) into the database and, with --metrics-days, "
            "the futures metrics of the perpetuals (funding, open interest, top-trader ratio, taker volumes).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=None,
                            help="How far back to load candles (default 90; none when only --metrics-days is given).")
        parser.add_argument("--interval", default="1h", choices=sorted(INTERVAL_MS))
        parser.add_argument("--coins", default="", help="Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
        parser.add_argument("--metrics-days", type=float, default=None,
                            help=f"Also load the perpetuals' futures metrics of the last N days (≤ {MAX_METRICS_DAYS}: "
                                 "Binance keeps them 30 days). Alone, no candles are loaded.")
        parser.add_argument("--limit-coins", type=int, default=None,
                            help="Only the first N coins by symbol (the capped futures calls make a full "
                                 "universe slow).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, days, interval, coins, metrics_days, limit_coins, json: bool = False, **options):
        if days is None and metrics_days is None:
            days = 90
        if days is not None and not 0 < days <= 3650:
            raise CommandError("--days must be between 0 and 3650.")
        if metrics_days is not None and not 0 < metrics_days <= MAX_METRICS_DAYS:
            raise CommandError(f"--metrics-days must be in (0, {MAX_METRICS_DAYS}]: Binance keeps open interest and "
                               "the long/short ratios for 30 days only.")
        if limit_coins is not None and limit_coins < 1:
            raise CommandError("--limit-coins must be at least 1.")
        symbols = [s.strip().upper() for s in coins.split(",") if s.strip()] or None
        try:
            report = backfill(days=days, interval=interval, symbols=symbols, metrics_days=metrics_days,
                              limit_coins=limit_coins)
        except MarketDataError as exc:
            raise CommandError(f"backfill failed: {exc}") from exc
        if json:
            self.stdout.write(jsonlib.dumps(asdict(report)))
            return
        self._print(report, days)
        if report.errors and len(report.errors) >= report.coins:
            raise CommandError("every coin failed; see the errors above.")

    def _print(self, report, days) -> None:
        simulated = " (simulated market)" if report.simulated else ""
        if days:
            self.stdout.write(f"Backfilled {report.candles} candles for {report.coins} coins in {report.seconds}s"
                              f"{simulated}.")
        m = report.metrics
        if m is not None:
            per_metric = ", ".join(f"{name} {n}" for name, n in m.by_metric.items())
            self.stdout.write(f"Futures metrics of the last {m.days:g} days for {m.coins} perpetuals "
                              f"({m.spot_only} spot-only coins skipped): {m.points} points fetched, {m.new_points} new "
                              f"({per_metric}) in {report.seconds}s{simulated}.")
            self.stdout.write(SOCIAL_HISTORY_NOTE)
        for service, stats in report.requests.items():
            buckets = "".join(f", {name} {n}" for name, n in stats.get("buckets", {}).items())
            self.stdout.write(f"  {service}: {stats['requests']} requests, weight {stats['weight']}, "
                              f"{stats['errors']} errors{buckets}")
        for symbol, error in list(report.errors.items())[:20]:
            self.stderr.write(f"  {symbol}: {error}")
