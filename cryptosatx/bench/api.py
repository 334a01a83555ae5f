"""`manage.py benchmark api`: the API under load, as deployed (docs/performance.md, "API under load").

1. A database of its own on the given PostgreSQL server (`cryptosatx_bench`, dropped and created,
   dropped again at the end), migrated.
2. Loaded in SQL (generate_series, seconds not minutes): 1,000 coins with their latest unified
   scores (computed by signals.ranking.unify, as a scan would), 1,000,000 signals over ~375 days
   and one evaluated 24h outcome per signal.
   The shared analytics are then refreshed as the cluster's outcome task does after each evaluation
   (performance.queries.refresh).
3. gunicorn (gunicorn.conf.py, DEBUG=false) on an ephemeral loopback port with its workers, sharing
   Redis as their cache when `redis_url` is given (REDIS_URL, as docs/deploy.md deploys it).
4. A separate load process (cryptosatx/bench/load.py: bare HTTP/1.1 on asyncio, at most 50
   connections, a closed loop) against the ranking, coin and win-rate endpoints, after a warm-up (not
   counted); it prints the figures. `cold_ms` is one request per endpoint with every cache empty.
5. A scan finishes (a new completed run: every cached answer is out of date) and the same load runs
   AFTER_SCAN_SECONDS more, without a warm-up, while the answers are rebuilt (`after_a_scan_finishes`).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
BENCH_DB = "cryptosatx_bench"
COINS, SIGNALS = 1000, 1_000_000


def bench_url(database_url: str) -> str:
    """The same server, the benchmark's own database name: the test database is never touched."""
    parsed = urlparse(database_url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        raise RuntimeError("benchmark api measures PostgreSQL (1,000,000 signal rows, gunicorn workers side by "
                           "side); pass --database-url postgres://user@host:5432/any (SQLite is refused).")
    return urlunparse(parsed._replace(path=f"/{BENCH_DB}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    parsed = urlparse(url)
    with psycopg.connect(host=parsed.hostname or "127.0.0.1", port=parsed.port or 5432,
                         user=parsed.username or "postgres", password=parsed.password or None,
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def _env(url: str, tmp: str, redis_url: str = "", **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,testserver", "SECURE_SSL_REDIRECT": "false", "STATIC_ROOT": f"{tmp}/static",
            "LOG_LEVEL": "WARNING", **extra}


def _manage(env: dict[str, str], *args: str, timeout: float = 1800) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def start_gunicorn(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                            env={**env, "GUNICORN_BIND": "127.0.0.1:0"}, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log_path.read_text())
        if found and log_path.read_text().count("Booting worker") >= int(env.get("GUNICORN_WORKERS", "1")):
            return proc, found.group(1)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-2000:]}")


def check_redis(redis_url: str) -> None:
    """Fail at once, before minutes of loading data, when the shared cache cannot be reached."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.RedisError, ValueError) as exc:
        raise RuntimeError(f"--redis-url {redis_url}: cannot reach Redis ({exc}).") from None


TARGET_P95_MS = 50
AFTER_SCAN_SECONDS = 10
NEW_SCAN = ("from django.utils import timezone; from scanners.models import ScanRun; "
            "ScanRun.objects.create(scanner='all', status=ScanRun.COMPLETED, finished_at=timezone.now())")


def _load(env: dict[str, str], base: str, duration: float, concurrency: int, warmup: float) -> dict:
    out = subprocess.run([sys.executable, "-m", "cryptosatx.bench.load", base, "--duration", str(duration),
                          "--concurrency", str(concurrency), "--coins", str(COINS), "--warmup", str(warmup)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=duration + warmup + 600)
    if out.returncode != 0:
        raise RuntimeError(f"the load process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(database_url: str) -> str:
    """Create, migrate and fill the benchmark database; returns its URL (for profiling by hand)."""
    url = bench_url(database_url)
    _admin(database_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin(database_url, f"CREATE DATABASE {BENCH_DB}")
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(url, tmp)
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "benchmark", "api", "--inner")
    return url


def run(database_url: str, *, duration: float, concurrency: int, workers: int, warmup: float = 90,
        keep: bool = False, redis_url: str = "") -> dict:
    url = bench_url(database_url)
    if redis_url:
        check_redis(redis_url)
    _admin(database_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin(database_url, f"CREATE DATABASE {BENCH_DB}")
    gunicorn = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = _env(url, tmp, redis_url, GUNICORN_WORKERS=str(workers))
            _manage(env, "migrate", "--noinput", "-v", "0")
            started = time.monotonic()
            loaded = json.loads(_manage(env, "benchmark", "api", "--inner").strip().splitlines()[-1])
            loaded["load_seconds"] = round(time.monotonic() - started, 1)
            gunicorn, base = start_gunicorn(env, Path(tmp) / "gunicorn.log")
            result = _load(env, base, duration, concurrency, warmup)
            # Then a scan finishes: every cached answer is out of date at once, and the first reader of
            # each URL rebuilds it. Measured right after, without a warm-up.
            _manage(env, "shell", "-c", NEW_SCAN)
            after = _load(env, base, AFTER_SCAN_SECONDS, concurrency, 0)
            result["after_a_scan_finishes"] = {k: after[k] for k in ("seconds", "all", "requests_per_second", "errors")}
            result["after_a_scan_finishes"]["x_cache"] = {name: e["x_cache"] for name, e in after["endpoints"].items()}
            errors = [ln for ln in (Path(tmp) / "gunicorn.log").read_text().splitlines() if "Traceback" in ln]
            met = all(e["p95_ms"] is not None and e["p95_ms"] <= TARGET_P95_MS and e["errors"] == 0
                      for e in result["endpoints"].values()) and not errors
            # The machine's load while measuring: on a shared machine the figures are only as good as this.
            return {"benchmark": "api", "database": "postgresql", "data": loaded, "gunicorn_workers": workers,
                    "shared_cache": "redis" if redis_url else "none (each worker its own)",
                    "cpu_cores": os.cpu_count(), "load_average_1m_after": round(os.getloadavg()[0], 2),
                    **result, "server_tracebacks": len(errors),
                    "target": {"p95_ms": TARGET_P95_MS, "errors": 0, "met": met}}
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        if not keep:
            _admin(database_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


# ---------------------------------------------------------------- the data (run inside Django)

SIGNALS_SQL = """
INSERT INTO signals_signal (coin_id, scanner, kind, direction, tier, score, score_metric, unified_score, entry_price,
                            candle_close_time, data_as_of, scores, inputs, missing, reasons, rules_matched, simulated,
                            created_at)
SELECT a.ids[1 + g.i %% %(coins)s], s.scanner, s.kind, s.direction, 1 + (g.i * 7 %% 3), s.score, s.metric,
       40 + (g.i %% 60), 1 + (g.i %% 997),
       %(now)s - make_interval(hours => 9 * (g.i / %(coins)s)), %(now)s - make_interval(hours => 9 * (g.i / %(coins)s)),
       '{}'::jsonb, '{}'::jsonb, '[]'::jsonb, '["benchmark row"]'::jsonb, '[]'::jsonb, true,
       %(now)s - make_interval(hours => 9 * (g.i / %(coins)s))
FROM (SELECT array_agg(id ORDER BY id) AS ids FROM marketdata_coin WHERE symbol LIKE 'BENCH%%') AS a
CROSS JOIN generate_series(0, %(signals)s - 1) AS g(i)
CROSS JOIN LATERAL (
  SELECT (ARRAY['smart_money', 'rsi', 'mss', 'social'])[1 + (g.i / %(coins)s) %% 4] AS scanner,
         (ARRAY['accumulating', 'oversold', 'gem', 'trending'])[1 + (g.i / %(coins)s) %% 4] AS kind,
         (ARRAY['LONG', 'SHORT'])[1 + (g.i / %(coins)s / 4) %% 2] AS direction,
         (ARRAY[5 + (g.i %% 6), 10 + (g.i %% 20), 70 + (g.i %% 30), 50 + (g.i %% 50)])[1 + (g.i / %(coins)s) %% 4]
           ::double precision AS score,
         (ARRAY['accumulation', 'rsi', 'mss', 'momentum'])[1 + (g.i / %(coins)s) %% 4] AS metric
) AS s
"""
OUTCOMES_SQL = """
INSERT INTO performance_signaloutcome (signal_id, horizon, due_at, status, exit_price, pnl_pct, outcome, mfe_pct,
                                       mae_pct, btc_pnl_pct, relative_pnl_pct, evaluated_at, note)
SELECT id, '24h', candle_close_time + interval '24 hours', 'evaluated', entry_price, p,
       CASE WHEN p > 1 THEN 'WIN' WHEN p < -1 THEN 'LOSS' ELSE 'NEUTRAL' END, abs(p), -abs(p), 0, p,
       candle_close_time + interval '24 hours', ''
FROM (SELECT id, candle_close_time, entry_price, ((id * 7919) % 1000) / 100.0 - 4.5 AS p FROM signals_signal) AS s
"""


def load() -> dict:
    """Fill the (empty, migrated) database: coins and unified scores through the ORM, signals and
    outcomes in SQL. Returns the row counts."""
    from django.db import connection

    from cryptosatx.bench import ranking
    from performance.models import SignalOutcome
    from signals.models import Signal
    from django.utils import timezone

    ranking.run(COINS)  # 1,000 BENCH coins and their latest unified scores
    with connection.cursor() as cursor:
        params = {"now": timezone.now().replace(minute=0, second=0, microsecond=0), "coins": COINS, "signals": SIGNALS}
        cursor.execute(SIGNALS_SQL, params)
        cursor.execute(OUTCOMES_SQL)
        cursor.execute("ANALYZE")
    from performance.queries import refresh

    cold = cold_requests()
    return {"coins": COINS, "signals": Signal.objects.count(), "outcomes": SignalOutcome.objects.count(),
            "cold_ms": cold, "analytics_refresh_seconds": refresh()}


def cold_requests() -> dict[str, float]:
    """One request per endpoint with empty caches, in this process: what a worker pays when the
    analytics cache (performance.queries.CACHE_SECONDS) is empty or has expired."""
    import time

    from django.core.cache import cache
    from django.test import Client

    from cryptosatx.api import response_cache

    client, out = Client(), {}
    for name, path in PATHS.items():
        cache.clear()
        response_cache.forget()
        started = time.perf_counter()
        response = client.get(path)
        out[name] = round((time.perf_counter() - started) * 1000, 1)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.content[:300]!r}")
    return out


PATHS = {"ranking": "/api/scan/unified-ranking", "coin": "/api/coins/BENCH0042USDT",
         "win_rates": "/api/analytics/win-rates?days=30&horizon=24h"}
