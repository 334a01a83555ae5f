"""`manage.py benchmark scan`: a full scan of N coins against a simulator with real latency and
limits, measured against the floor those limits set (docs/performance.md)."""
from __future__ import annotations

import gc
import os
import secrets
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# service -> [(what, limit, window seconds)] — the services' real limits (APIS.md), not our 90% budgets
LIMITS = {
    "binance_spot": [("weight", 6000, 60)],
    "binance_futures": [("weight", 2400, 60), ("futures_data", 1000, 300), ("funding", 500, 300)],
    "coingecko": [("calls", 30, 60)],
    "lunarcrush": [("calls", 10, 60)],
}


def start_simulator(coins: int, latency_ms: int, jitter_ms: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "marketsim", "--port", "0", "--coins", str(coins),
         "--latency-ms", str(latency_ms), "--jitter-ms", str(jitter_ms)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    url = line.strip().split()[-1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            # Its start-up warm-up (every coin's price path, ~3.5 CPU s at 1,000 coins) done: else it
            # would run on the cores the measured scan uses, a cost of starting the simulator.
            if httpx.get(f"{url}/sim/state", timeout=2).json().get("warm") == "done":
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the simulator did not answer /sim/state or finish warming up")


def run_isolated(args: list[str], database_url: str | None, extra_env: dict[str, str] | None = None) -> str:
    """Run `manage.py *args` in a fresh process with its own database; return its last output line."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": database_url or f"sqlite:///{tmp}/bench.sqlite3", "REDIS_URL": "",
               "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
               # measured as deployed: DEBUG off (Django then keeps no query log); plain HTTP on loopback,
               # so no redirect to HTTPS (on by default when DEBUG is off)
               "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SECRET_KEY": secrets.token_urlsafe(40),
               **(extra_env or {})}
        out = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True,
                             text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"the measured process failed:\n{out.stderr[-3000:]}")
        return out.stdout.strip().splitlines()[-1]


def run_outer(coins: int, latency_ms: int, jitter_ms: int, database_url: str | None) -> str:
    """Start a simulator and a fresh process with its own database, and return its JSON line."""
    sim, url = start_simulator(coins, latency_ms, jitter_ms)
    try:
        return run_isolated(["benchmark", "scan", "--inner", "--coins", str(coins)], database_url, {
            "BENCH_SIMULATOR_PID": str(sim.pid), "SIMULATOR_URL": url, "BINANCE_SPOT_URL": url, "BINANCE_FUTURES_URL": url,
            "COINGECKO_URL": f"{url}/coingecko/api/v3", "LUNARCRUSH_URL": f"{url}/lunarcrush/api4"})
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def median_round_trip(url: str, n: int = 20) -> float:
    """The simulator's round trip without load (a ping, weight 1): the latency the floor is made of."""
    with httpx.Client() as client:
        samples = []
        for _ in range(n):
            started = time.monotonic()
            client.get(f"{url}/api/v3/ping")
            samples.append(time.monotonic() - started)
    return statistics.median(samples)


def spent(run) -> dict[str, dict[str, int]]:
    """What the run spent of each limit: weight per service, and calls for the call-counted ones."""
    out: dict[str, dict[str, int]] = {}
    for service, stats in run.requests.items():
        out[service] = {"weight": stats["weight"], "calls": stats["requests"], **stats.get("buckets", {})}
    return out


def budget_floor(used: dict[str, dict[str, int]]) -> float:
    """For each limit, what the plan spends beyond one window's budget ÷ the budget's refill rate."""
    worst = 0.0
    for service, limits in LIMITS.items():
        for what, limit, window in limits:
            amount = used.get(service, {}).get(what, 0)
            worst = max(worst, max(0, amount - limit) / (limit / window))
    return worst


def dependency_floor(run, rtt: float) -> tuple[float, dict[str, int]]:
    """An estimate of what the request plan's order alone costs, with no CPU: the bulk stage (one wave:
    the universe must be known first), then the per-coin requests and the shortlist's capped calls
    (streamed: each sent once its coin's data are in, scanners.shortlist) in waves of
    PARALLEL_MAX_CONCURRENT, and one more wave for the last qualifier's calls, each wave one median
    round trip. Printed beside the floor, not instead of it: at a few coins it is the larger."""
    import math

    waves_of = settings.PARALLEL_MAX_CONCURRENT
    shortlist = sum(s.get("buckets", {}).get("futures_data", 0) for s in run.requests.values())
    bulk = sum(run.requests.get(k, {}).get("requests", 0) for k in ("coingecko", "lunarcrush")) + 3  # + 2 exchangeInfo, premiumIndex
    per_coin = max(0, sum(s["requests"] for s in run.requests.values()) - bulk - shortlist)
    waves = 1 + math.ceil((per_coin + shortlist) / waves_of) + (1 if shortlist else 0)
    return waves * rtt, {"bulk": bulk, "per_coin": per_coin, "shortlist": shortlist, "waves": waves}


def lowest_possible_ratio(requests: int, concurrency: int) -> float:
    """The lowest `ratio_to_floor` any plan can reach whose per-coin requests must wait for the
    universe (`exchangeInfo`): one round trip for it, then the other requests perfectly pipelined
    over `concurrency` connections with no CPU at all, against the floor's requests ÷ concurrency
    round trips: (requests + concurrency − 1) ÷ requests. Below 4 × concurrency − 4 requests (196
    at 50) it exceeds 1.25, so at about 100 coins the target cannot be met by any scan."""
    return (requests + concurrency - 1) / requests if requests else 0.0


def run_inner(coins: int) -> dict:
    from django.core.management import call_command

    from marketdata.cache import smart_cache
    from cryptosatx.scanning import scan as run_scan
    from scanners.gather import forget_candles

    call_command("migrate", verbosity=0)
    # Migrating leaves ~35,000 objects of cyclic garbage (model states); a worker that scans has not
    # just migrated, and a scan defers full collections (scanners.engine.scan_gc), so collect it here.
    gc.collect()
    rtt = median_round_trip(settings.BINANCE_SPOT_URL)
    sim_pid = int(os.environ.get("BENCH_SIMULATOR_PID") or 0)
    sim_cpu = sum(_cpu_seconds_by_pid(sim_pid).values()) if sim_pid else None
    cpu, children = _own_cpu_seconds(), _children_cpu_seconds()
    started = time.monotonic()
    cold = run_scan("all")
    wall = time.monotonic() - started
    cpu, children = _own_cpu_seconds() - cpu, _children_cpu_seconds() - children
    if sim_pid:  # what serving the cold scan cost the simulator, on the same cores
        sim_cpu = round(sum(_cpu_seconds_by_pid(sim_pid).values()) - sim_cpu, 2)
    smart_cache.clear()  # the next hour: bulk data have expired, candles and archive stay warm
    started = time.monotonic()
    warm = run_scan("all")
    warm_wall = time.monotonic() - started
    forget_candles()
    requests = sum(s["requests"] for s in cold.requests.values())
    statuses: dict[str, int] = {}
    for s in cold.requests.values():
        for code, n in s["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    latency_floor = requests / settings.PARALLEL_MAX_CONCURRENT * rtt
    floor = max(latency_floor, budget_floor(spent(cold)))
    depth, plan = dependency_floor(cold, rtt)
    return {
        "coins": cold.universe_size, "requests": requests,
        "dependency_floor_seconds": round(depth, 3), "plan_waves": plan,
        "lowest_possible_ratio": round(lowest_possible_ratio(requests, settings.PARALLEL_MAX_CONCURRENT), 3),
        "requests_by_host": {k: v["requests"] for k, v in cold.requests.items()},
        "weight_by_host": {k: v["weight"] for k, v in cold.requests.items()},
        "wall_seconds": round(wall, 3), "floor_seconds": round(floor, 3),
        "latency_floor_seconds": round(latency_floor, 3), "median_round_trip_ms": round(rtt * 1000, 1),
        "ratio_to_floor": round(wall / floor, 3) if floor else None,
        "warm_wall_seconds": round(warm_wall, 3), "warm_requests": sum(s["requests"] for s in warm.requests.values()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "errors": len(cold.errors), "coverage": round(cold.coverage or 0, 4),
        "shortlist": len(cold.parameters.get("shortlist", [])),
        "http_429": statuses.get("429", 0), "http_418": statuses.get("418", 0),
        "status": cold.status, "warm_status": warm.status, "cpu_seconds": round(cpu, 2),
        "simulator_cpu_seconds": sim_cpu,
        # the candle writer process's (marketdata/archive_process.py), on the same cores
        "writer_cpu_seconds": round(children, 2),
        "candles_archived_by_process": cold.parameters.get("candles_archived_by_process", 0),
        "stage_seconds": cold.parameters.get("stage_seconds"), "warm_stage_seconds": warm.parameters.get("stage_seconds"),
        # what follows the fetch and the archive: scoring (its own stage, while a writer process
        # archives) and storing the results, unified scores and signals
        "score_and_store_seconds": round(wall - sum(v for k, v in (cold.parameters.get("stage_seconds") or {}).items()
                                                    if k != "score"), 3),
    }


# ---------------------------------------------------------------- `--workers N`: the chunked path

# The measured cluster's settings: the project's, with a 0.1 s broker poll instead of 1 s (an idle
# pusher sleeps one poll before it looks again: 1 s would add up to a second per hand-over).
CLUSTER_SETTINGS = """
from cryptosatx.settings import *  # noqa: F401,F403
from cryptosatx.settings import Q_CLUSTER
Q_CLUSTER = {**Q_CLUSTER, "poll": 0.1}
"""


def run_outer_workers(coins: int, latency_ms: int, jitter_ms: int, database_url: str | None, workers: int,
                      chunk_size: int) -> str:
    """A simulator, one database, a real `qcluster` with `workers` worker processes, and the measuring
    process, which plans each scan as the scheduled task does and waits for the cluster to finish it."""
    import signal

    sim, url = start_simulator(coins, latency_ms, jitter_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "bench_cluster_settings.py").write_text(CLUSTER_SETTINGS)
            env = {**os.environ, "DATABASE_URL": database_url or f"sqlite:///{tmp}/bench.sqlite3", "REDIS_URL": "",
                   "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost", "DEBUG": "false",
                   "SECRET_KEY": secrets.token_urlsafe(40), "SIMULATOR_URL": url, "BINANCE_SPOT_URL": url,
                   "BINANCE_FUTURES_URL": url, "COINGECKO_URL": f"{url}/coingecko/api/v3",
                   "LUNARCRUSH_URL": f"{url}/lunarcrush/api4", "TELEGRAM_BOT_TOKEN": "",
                   "Q_WORKERS": str(workers), "SCAN_CHUNK_SIZE": str(chunk_size),
                   "DJANGO_SETTINGS_MODULE": "bench_cluster_settings",
                   "PYTHONPATH": os.pathsep.join(filter(None, [tmp, str(ROOT), os.environ.get("PYTHONPATH")]))}
            manage = [sys.executable, str(ROOT / "manage.py")]
            migrated = subprocess.run([*manage, "migrate", "--noinput"], env=env, capture_output=True, text=True,
                                      timeout=600)
            if migrated.returncode != 0:
                raise RuntimeError(f"migrate failed:\n{migrated.stderr[-3000:]}")
            with open(Path(tmp) / "qcluster.log", "w") as log:
                cluster = subprocess.Popen([*manage, "qcluster"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            try:
                out = subprocess.run([*manage, "benchmark", "scan", "--inner", "--coins", str(coins),
                                      "--workers", str(workers), "--chunk-size", str(chunk_size)],
                                     env=env, capture_output=True, text=True, timeout=1800)
                if out.returncode != 0:
                    raise RuntimeError(f"the measured process failed:\n{out.stderr[-3000:]}\n--- qcluster\n"
                                       f"{(Path(tmp) / 'qcluster.log').read_text()[-3000:]}")
                return out.stdout.strip().splitlines()[-1]
            finally:
                os.killpg(cluster.pid, signal.SIGTERM)
                try:
                    cluster.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
                    cluster.wait(timeout=10)
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the child processes waited for
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds_by_pid(root: int) -> dict[int, float]:
    """User + system CPU seconds of `root` and every process below it (read from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def _peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _chunked_scan(chunk_size: int, timeout: float = 900):
    """Plan a chunked `scan all` here (as the scheduled task does) and wait until the cluster has
    run its chunks and assembled it. Returns (run, wall seconds, planning seconds)."""
    from cryptosatx.scanning import scan as run_scan
    from scanners.models import ScanRun

    cpu = _own_cpu_seconds()
    started = time.monotonic()
    run = run_scan("all", chunk_size=chunk_size)
    planned, plan_cpu = time.monotonic() - started, _own_cpu_seconds() - cpu
    deadline = started + timeout
    while run.status == ScanRun.RUNNING:
        if time.monotonic() > deadline:
            raise RuntimeError(f"scan #{run.pk} did not finish within {timeout:.0f} s")
        time.sleep(0.05)
        run.refresh_from_db(fields=["status"])
    run.refresh_from_db()
    return run, time.monotonic() - started, planned, plan_cpu


def run_inner_workers(coins: int, workers: int, chunk_size: int) -> dict:
    from marketdata.cache import smart_cache
    from scanners.models import ScanChunk

    from cryptosatx.heartbeat import alive_clusters

    deadline = time.monotonic() + 120
    while not alive_clusters().exists():  # the cluster's workers have spawned
        if time.monotonic() > deadline:
            raise RuntimeError("the q cluster did not start within 120 s")
        time.sleep(0.1)
    rtt = median_round_trip(settings.BINANCE_SPOT_URL)
    cluster_pid = alive_clusters().first().pid
    cluster_cpu = _cpu_seconds_by_pid(cluster_pid)
    cold, wall, planned, plan_cpu = _chunked_scan(chunk_size)
    cluster_cpu = {pid: round(cpu - cluster_cpu.get(pid, 0.0), 2) for pid, cpu in _cpu_seconds_by_pid(cluster_pid).items()}
    smart_cache.clear()  # the next hour: the coordinator's bulk data have expired
    warm, warm_wall, _, _ = _chunked_scan(chunk_size)
    requests = sum(s["requests"] for s in cold.requests.values())
    statuses: dict[str, int] = {}
    for s in cold.requests.values():
        for code, n in s["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    latency_floor = requests / settings.PARALLEL_MAX_CONCURRENT * rtt
    floor = max(latency_floor, budget_floor(spent(cold)))
    pids = {int(w.rsplit(":", 1)[1]) for w in ScanChunk.objects.filter(run__in=[cold, warm])
            .values_list("worker", flat=True)}
    chunk_seconds = [(c.finished_at - c.started_at).total_seconds() for c in ScanChunk.objects.filter(run=cold)]
    return {
        "coins": cold.universe_size, "workers": workers, "chunk_size": chunk_size,
        "chunks": cold.parameters.get("chunks", 1), "requests": requests,
        "requests_by_host": {k: v["requests"] for k, v in cold.requests.items()},
        "weight_by_host": {k: v["weight"] for k, v in cold.requests.items()},
        "wall_seconds": round(wall, 3), "plan_seconds": round(planned, 3), "floor_seconds": round(floor, 3),
        "latency_floor_seconds": round(latency_floor, 3), "median_round_trip_ms": round(rtt * 1000, 1),
        "ratio_to_floor": round(wall / floor, 3) if floor else None,
        # N workers may each keep PARALLEL_MAX_CONCURRENT requests in flight: the floor at that concurrency
        "latency_floor_at_worker_concurrency_seconds": round(latency_floor / workers, 3),
        "warm_wall_seconds": round(warm_wall, 3), "warm_requests": sum(s["requests"] for s in warm.requests.values()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_peak_rss_mb": sorted(filter(None, (_peak_rss_mb(p) for p in pids))),
        "chunk_seconds": sorted(round(s, 2) for s in chunk_seconds),
        "chunk_stage_seconds": [c.parameters.get("stage_seconds") for c in ScanChunk.objects.filter(run=cold)],
        "plan_stage_seconds": cold.parameters.get("stage_seconds"),
        "errors": len(cold.errors), "coverage": round(cold.coverage or 0, 4),
        "shortlist": len(cold.parameters.get("shortlist", [])),
        "http_429": statuses.get("429", 0), "http_418": statuses.get("418", 0),
        "status": cold.status, "warm_status": warm.status, "chunk_workers": len(pids),
        # CPU of the cold scan: planning it (as the scheduled task does), each worker that ran chunks
        # (the gather task runs on one of them), the rest of the cluster (sentinel, monitor, pusher)
        "cpu_seconds": {"planner": round(plan_cpu, 2),
                        "workers": sorted((cpu for pid, cpu in cluster_cpu.items() if pid in pids), reverse=True),
                        "rest_of_cluster": round(sum(cpu for pid, cpu in cluster_cpu.items() if pid not in pids), 2)},
    }
