import json

from django.core.management.base import BaseCommand, CommandError

from cryptosatx.bench import scan as bench


class Command(BaseCommand):
    help = ("Benchmarks that print one JSON object. `benchmark scan --coins N`: a cold and a warm full scan "
            "against a simulator started with real limits and 100±30 ms latency, compared with the floor. "
            "`benchmark ranking --coins N`: the CPU cost of the unified ranking for N coins. "
            "`benchmark alerts --coins N`: N tier-1 signals through the outbox to the simulator's Telegram. "
            "`benchmark backtest [--coins 1000 --bars 8760]`: the backtester's trade-simulation kernel on "
            "generated hourly candles (no database).")

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["scan", "ranking", "alerts", "backtest", "api"])
        parser.add_argument("--coins", type=int, default=None, help="Default 500 (backtest: 1000).")
        parser.add_argument("--bars", type=int, default=8760, help="backtest: hourly bars per coin.")
        parser.add_argument("--latency-ms", type=int, default=100)
        parser.add_argument("--jitter-ms", type=int, default=30)
        parser.add_argument("--database-url", default=None, help="Measure on this database (default: a temporary SQLite).")
        parser.add_argument("--json", action="store_true", help="Print only the JSON object (the default output too).")
        parser.add_argument("--workers", type=int, default=0,
                            help="scan: run the chunked scan on a q cluster with this many worker processes.")
        parser.add_argument("--chunk-size", type=int, default=None,
                            help="scan --workers: coins per chunk (default: the coins split evenly over the workers).")
        parser.add_argument("--inner", action="store_true", help="Internal: the measured process.")
        parser.add_argument("--duration", type=float, default=30, help="api: seconds of measured load.")
        parser.add_argument("--concurrency", type=int, default=50, help="api: connections at most.")
        parser.add_argument("--redis-url", default="",
                            help="api: the cache the workers share, as deployed with REDIS_URL (the benchmark flushes "
                                 "that Redis database: give one of its own, e.g. redis://127.0.0.1:6379/15). "
                                 "Default: none, each worker caches for itself.")
        parser.add_argument("--gunicorn-workers", type=int, default=None,
                            help="api: gunicorn workers (default: gunicorn.conf.py's, 2 × cores + 1).")

    def handle(self, *args, what, coins, latency_ms, jitter_ms, database_url, inner, **options):
        if what == "api":
            return self.api(database_url, inner, options)
        if coins is None:
            coins = 1000 if what == "backtest" else 500
        if not 1 <= coins <= 5000:
            raise CommandError("--coins must be between 1 and 5000.")
        workers, chunk_size = options["workers"], options["chunk_size"]
        if workers and what != "scan":
            raise CommandError("--workers applies to `benchmark scan` only.")
        if not 0 <= workers <= 32:
            raise CommandError("--workers must be between 0 and 32.")
        if workers and chunk_size is None:
            chunk_size = -(-coins // workers)
        if chunk_size is not None and not 1 <= chunk_size <= 5000:
            raise CommandError("--chunk-size must be between 1 and 5000.")
        if what == "backtest":
            from cryptosatx.bench import backtest as bench_backtest
            if not 100 <= options["bars"] <= 100_000:
                raise CommandError("--bars must be between 100 and 100000.")
            self.stdout.write(json.dumps(bench_backtest.run(coins, options["bars"])))
            return
        if what == "alerts" and not inner:
            sim, url = bench.start_simulator(30, 0, 0)
            try:
                self.stdout.write(bench.run_isolated(
                    ["benchmark", "alerts", "--inner", "--coins", str(coins)], database_url,
                    {"SIMULATOR_URL": url, "TELEGRAM_API_URL": f"{url}/telegram",
                     "TELEGRAM_BOT_TOKEN": "1000000:benchmark", "TELEGRAM_CHAT_ID": "-1001"}))
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            finally:
                sim.terminate()
                sim.wait(timeout=30)
            return
        if what == "ranking" and not inner:
            try:
                self.stdout.write(bench.run_isolated(["benchmark", "ranking", "--inner", "--coins", str(coins)],
                                                     database_url))
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            return
        if inner:
            if what == "alerts":
                from django.conf import settings
                from django.core.management import call_command

                from cryptosatx.bench import alerts as bench_alerts
                call_command("migrate", verbosity=0)
                self.stdout.write(json.dumps(bench_alerts.run(coins, settings.SIMULATOR_URL)))
            elif what == "ranking":
                from django.core.management import call_command

                from cryptosatx.bench import ranking as bench_ranking
                call_command("migrate", verbosity=0)
                self.stdout.write(json.dumps(bench_ranking.run(coins)))
            elif workers:
                self.stdout.write(json.dumps(bench.run_inner_workers(coins, workers, chunk_size)))
            else:
                self.stdout.write(json.dumps(bench.run_inner(coins)))
            return
        try:
            if workers:
                self.stdout.write(bench.run_outer_workers(coins, latency_ms, jitter_ms, database_url, workers,
                                                          chunk_size))
                return
            self.stdout.write(bench.run_outer(coins, latency_ms, jitter_ms, database_url))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc

    def api(self, database_url, inner, options):
        """`benchmark api --database-url postgres://…`: cryptosatx/bench/api.py; docs/performance.md."""
        import os

        from cryptosatx.bench import api as bench_api
        if inner:
            self.stdout.write(json.dumps(bench_api.load()))
            return
        url = database_url or os.environ.get("DATABASE_URL", "")
        if not 1 <= options["concurrency"] <= 500 or not 1 <= options["duration"] <= 600:
            raise CommandError("--concurrency must be between 1 and 500 and --duration between 1 and 600 seconds.")
        if options["redis_url"] and not options["redis_url"].startswith(("redis://", "rediss://")):
            raise CommandError(f"--redis-url must be a redis:// or rediss:// URL, not {options['redis_url']!r}.")
        workers = options["gunicorn_workers"] or 2 * (os.cpu_count() or 1) + 1
        try:
            self.stdout.write(json.dumps(bench_api.run(url, duration=options["duration"],
                                                       concurrency=options["concurrency"], workers=workers,
                                                       redis_url=options["redis_url"])))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
