"""The simulator's rate limits (429, then 418 bans), injected latency and `manage.py marketsim`.

Exact semantics use an injected clock; the end-to-end checks use real time with 1 s windows
(and so 2 s bans) to keep the file fast.
"""
from __future__ import annotations

import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from marketdata.simulator.ratelimit import MAX_BAN_SECONDS, WeightLimiter
from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

ROOT = Path(__file__).resolve().parents[1]
KLINES = ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 5})


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(1_800_000_000.5))  # half a second into a 2 s window
    return SimulatorServer(coins=60, **kw).start()


# ---- rate limits ---------------------------------------------------------------------------
def test_usage_header_counts_each_requests_weight():
    with serve(weight_limit=40, window_seconds=2) as s, \
            httpx.Client(base_url=s.base_url) as c:
        used = [int(c.get(p, params=q).headers["X-MBX-USED-WEIGHT-1M"]) for p, q in [
            ("/api/v3/ping", {}), ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"}),
            ("/api/v3/exchangeInfo", {}), ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}),
            ("/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","ETHUSDT","SOLUSDT"]'})]]
        assert used == [1, 3, 23, 25, 31]  # 2 per symbol in symbols=[...]
        c.get("/sim/health")  # free: /sim/* endpoints cost no weight
        assert c.get("/sim/state").json()["weights"] == {"127.0.0.1": 31}


def test_ignoring_429_gets_the_ip_banned_and_bans_double():
    clock = FakeClock(1_800_000_000.5)
    with serve(weight_limit=40, window_seconds=2, ban_after=3, clock=clock) as s, \
            httpx.Client(base_url=s.base_url) as c:
        for _ in range(2):
            assert c.get("/api/v3/exchangeInfo").status_code == 200
        r = c.get("/api/v3/ping")
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"  # 1.5 s left, rounded up
        assert r.json()["code"] == -1003 and "Too much request weight" in r.json()["msg"]
        assert [c.get("/api/v3/ping").status_code for _ in range(3)] == [429] * 3
        r = c.get("/api/v3/ping")
        assert r.status_code == 418 and r.headers["Retry-After"] == "4"  # 120 s x 2/60
        assert "IP banned until" in r.json()["msg"]
        clock.t += 3
        r = c.get("/api/v3/ping")
        assert r.status_code == 418 and r.headers["Retry-After"] == "1"
        assert c.get("/sim/state").json()["bans"] == {"127.0.0.1": int((clock.t - 3 + 4) * 1000)}
        clock.t += 1
        assert c.get("/api/v3/ping").status_code == 200
        for _ in range(3):
            c.get("/api/v3/exchangeInfo")
        codes = [c.get("/api/v3/ping") for _ in range(4)]
        assert codes[-1].status_code == 418 and codes[-1].headers["Retry-After"] == "8"


def test_a_client_that_waits_retry_after_is_never_banned():
    with serve(weight_limit=10, window_seconds=1, ban_after=2, clock=time.time) as s, \
            httpx.Client(base_url=s.base_url) as c:
        seen_429, deadline = 0, time.time() + 3
        while time.time() < deadline:
            r = c.get(KLINES[0], params=KLINES[1])
            assert r.status_code in (200, 429)
            if r.status_code == 429:
                seen_429 += 1
                time.sleep(int(r.headers["Retry-After"]))
        state = c.get("/sim/state").json()
        assert seen_429 >= 2 and state["bans"] == {} and "418" not in state["status_counts"]


def test_a_ban_expires_in_real_time():
    with serve(weight_limit=5, window_seconds=1, ban_after=2, clock=time.time) as s, \
            httpx.Client(base_url=s.base_url) as c:
        time.sleep(1 - time.time() % 1 + 0.01)  # start at the top of a window
        codes = [c.get("/api/v3/ping").status_code for _ in range(9)]
        assert codes == [200] * 5 + [429] * 3 + [418]
        r = c.get("/api/v3/ping")
        assert r.status_code == 418
        time.sleep(int(r.headers["Retry-After"]))
        assert c.get("/api/v3/ping").status_code == 200


def test_limiter_ban_lengths_double_up_to_three_days():
    clock = FakeClock(0.0)
    limiter = WeightLimiter(limit=1, window_seconds=60, ban_after=0, clock=clock)
    lengths = []
    for _ in range(14):
        assert limiter.charge("alice", 1).status == 200
        assert limiter.charge("alice", 1).status == 429
        ban = limiter.charge("alice", 1)
        lengths.append(ban.retry_after)
        assert limiter.charge("bob", 1).status == 200  # bans are per client
        clock.t += ban.retry_after + 60
        clock.t = math.floor(clock.t / 60) * 60
    assert lengths[:3] == [120, 240, 480] and lengths[-1] == MAX_BAN_SECONDS


def test_latency_is_injected_for_services_but_not_for_sim_endpoints():
    with serve(latency_ms=120) as s, httpx.Client(base_url=s.base_url) as c:
        c.get("/sim/health")  # connect first
        t = time.perf_counter()
        c.get("/api/v3/ping")
        assert time.perf_counter() - t >= 0.12
        t = time.perf_counter()
        c.get("/sim/health")
        assert time.perf_counter() - t < 0.1


# ---- the management command ----------------------------------------------------------------
@pytest.mark.skipif(not (ROOT / "manage.py").exists()
                    or not (ROOT / "cryptosatx" / "settings.py").exists(),
                    reason="manage.py or cryptosatx/settings.py is missing")
def test_marketsim_command_serves_until_sigterm():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cryptosatx.settings"}
    cmd = [sys.executable, "manage.py", "marketsim", "--port", "0", "--coins", "50"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=60)
        assert line.startswith("marketsim listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert not url.endswith(":0")
        health = httpx.get(url + "/sim/health", timeout=10).json()
        assert health == {"ok": True, "seed": 42, "coins": 50}
        assert httpx.get(url + "/api/v3/ping", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, proc.stderr.read()
    assert lines.get(timeout=5).strip() == "marketsim stopped"
