"""Injected faults: 5xx (JSON or an HTML 502), held requests that make the client time out, and
200s with a truncated or non-JSON body. Each comes at about its rate, is counted in
/sim/state, is charged by the rate limiter first, never touches /sim/* and never changes data.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.testing import FakeClock

T0 = datetime(2026, 6, 15, 10, 20, tzinfo=timezone.utc).timestamp()
N = 300


def serve(**kw) -> SimulatorServer:
    kw.setdefault("clock", FakeClock(T0))
    return SimulatorServer(coins=60, weight_limit=10**9, futures_weight_limit=10**9,
                           coingecko_per_minute=10**6, lunarcrush_per_minute=10**6,
                           lunarcrush_per_day=10**6, **kw).start()


def parses(r: httpx.Response) -> bool:
    try:
        json.loads(r.content)
        return True
    except ValueError:
        return False


def test_error_rate_gives_5xx_with_json_or_html_bodies_and_is_counted():
    with serve(error_rate=0.3) as s, httpx.Client(base_url=s.base_url) as c:
        rs = [c.get("/api/v3/ping") for _ in range(N)]
        bad = [r for r in rs if r.status_code >= 500]
        assert 0.22 * N <= len(bad) <= 0.38 * N
        assert all(r.status_code == 200 and r.json() == {} for r in rs if r.status_code < 500)
        assert {r.status_code for r in bad} == {500, 502, 503}
        html = [r for r in bad if r.headers["content-type"].startswith("text/html")]
        assert html and all(r.status_code == 502 and b"502 Bad Gateway" in r.content for r in html)
        js = [r for r in bad if r not in html]
        assert js and all(r.json()["code"] == -1001 and r.json()["msg"] for r in js)
        state = c.get("/sim/state").json()
        assert state["faults"] == {"error": len(bad), "timeout": 0, "malformed": 0}


def test_malformed_rate_gives_200s_that_are_not_json():
    with serve(malformed_rate=0.25) as s, httpx.Client(base_url=s.base_url) as c:
        rs = [c.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}) for _ in range(N)]
        assert all(r.status_code == 200 for r in rs)
        broken = [r for r in rs if not parses(r)]
        assert 0.17 * N <= len(broken) <= 0.33 * N
        good = rs[0].content if parses(rs[0]) else next(r.content for r in rs if parses(r))
        truncated = [r for r in broken if r.content and good.startswith(r.content)]
        assert truncated and len(truncated) < len(broken)  # both cut-short and non-JSON bodies
        assert c.get("/sim/state").json()["faults"]["malformed"] == len(broken)


def test_timeout_rate_holds_requests_until_the_client_gives_up():
    with serve(timeout_rate=0.4, timeout_seconds=0.6) as s, \
            httpx.Client(base_url=s.base_url, timeout=0.12) as c:
        outcomes = []
        for _ in range(25):
            try:
                outcomes.append(c.get("/coingecko/api/v3/ping").status_code)
            except httpx.ReadTimeout:
                outcomes.append("timeout")
        timeouts = outcomes.count("timeout")
        assert 4 <= timeouts <= 17 and outcomes.count(200) == 25 - timeouts
        assert c.get("/sim/state").json()["faults"]["timeout"] == timeouts


def test_faults_come_after_the_rate_limiter_and_never_hit_sim_endpoints():
    clock = FakeClock(1_800_000_000.0)
    with SimulatorServer(coins=60, clock=clock, error_rate=1.0, weight_limit=5,
                         window_seconds=2, ban_after=100).start() as s, \
            httpx.Client(base_url=s.base_url) as c:
        rs = [c.get("/api/v3/ping") for _ in range(7)]
        assert [r.status_code >= 500 for r in rs] == [True] * 5 + [False] * 2
        assert [r.headers["X-MBX-USED-WEIGHT-1M"] for r in rs] == [str(i) for i in range(1, 8)]
        assert [r.status_code for r in rs[5:]] == [429, 429]  # a rejected request is not faulted
        for path in ("/sim/health", "/sim/state", "/sim/episodes"):
            assert c.get(path).status_code == 200
        assert c.get("/sim/state").json()["faults"]["error"] == 5


@pytest.mark.parametrize("path,check", [
    ("/coingecko/api/v3/coins/list", lambda b: b["status"]["error_code"] >= 500),
    ("/lunarcrush/api4/public/coins/list/v2", lambda b: b["error"]),
])
def test_every_service_speaks_its_own_error_dialect(path, check):
    with serve(error_rate=1.0) as s, httpx.Client(base_url=s.base_url) as c:
        js = [r for r in (c.get(path) for _ in range(12)) if parses(r)]
        assert js and all(check(r.json()) for r in js)


def test_faults_never_change_market_data():
    paths = [("/api/v3/klines", {"symbol": "ETHUSDT", "interval": "1h", "limit": 50}),
             ("/fapi/v1/fundingRate", {"symbol": "BTCUSDT", "limit": 20}),
             ("/futures/data/topLongShortPositionRatio", {"symbol": "BTCUSDT", "period": "1h"})]
    with serve(seed=9) as clean, httpx.Client(base_url=clean.base_url) as c:
        want = [c.get(p, params=q).content for p, q in paths]
    with serve(seed=9, error_rate=0.3, malformed_rate=0.3) as s, \
            httpx.Client(base_url=s.base_url) as c:
        for (p, q), body in zip(paths, want):
            got = [c.get(p, params=q) for _ in range(10)]
            ok = [r.content for r in got if r.status_code == 200 and parses(r)]
            assert ok and all(b == body for b in ok)


def test_marketsim_flags_reach_the_server():
    """The command's new flags: limits, the HTML 429, required keys and fault rates."""
    import os
    import queue
    import signal
    import subprocess
    import sys
    import threading
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "cryptosatx" / "settings.py").exists():
        pytest.skip("cryptosatx/settings.py is missing")
    cmd = [sys.executable, "manage.py", "marketsim", "--port", "0", "--coins", "40",
           "--coingecko-per-minute", "1", "--html-429", "--require-keys",
           "--malformed-rate", "1", "--timeout-seconds", "1", "--follow-through-prob", "0.5"]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ,
                                            "DJANGO_SETTINGS_MODULE": "cryptosatx.settings"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        url = lines.get(timeout=60).split()[-1]
        with httpx.Client(base_url=url, timeout=10) as c:
            assert not parses(c.get("/coingecko/api/v3/ping"))  # malformed, but served
            r = c.get("/coingecko/api/v3/ping")
            assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
            state = c.get("/sim/state").json()
            assert state["faults"]["malformed"] == 1
            assert {k: state["config"][k] for k in ("coingecko_per_minute", "html_429",
                                                    "require_keys", "malformed_rate",
                                                    "timeout_seconds", "follow_through_prob")} \
                == {"coingecko_per_minute": 1, "html_429": True, "require_keys": True,
                    "malformed_rate": 1.0, "timeout_seconds": 1.0, "follow_through_prob": 0.5}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, proc.stderr.read()
    bad = subprocess.run(cmd[:5] + ["--error-rate", "2"], cwd=root, capture_output=True,
                         text=True, env={**os.environ,
                                         "DJANGO_SETTINGS_MODULE": "cryptosatx.settings"})
    assert bad.returncode != 0 and "fault rates" in bad.stderr
