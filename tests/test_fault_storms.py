"""Storms from the outside services in the middle of a chunked scan: 5xx, 429 and a 418 ban.

Each scan is planned by the scheduled task (bulk stage, chunks enqueued on the real ORM broker
queue) against a calm simulator; then the storm starts and the chunk tasks run, taken from the
queue as a worker would (tests/test_scan_chunks.py). Everything is loopback HTTP to the simulator.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest

from cryptosatx.tasks import scan_task
from marketdata.models import DataSource
from marketdata.simulator.faults import Faults
from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanChunk, ScanResult, ScanRun
from tests.conftest import point_all_at
from tests.fault_support import hard_timeout
from tests.test_scan_chunks import drain, execute, queued

pytestmark = pytest.mark.django_db
COINS, CHUNK = 12, 4


def plan(settings, server: SimulatorServer, window: float = 60) -> ScanRun:
    point_all_at(settings, server.base_url, window=window)
    settings.SCAN_MAX_COINS, settings.SCAN_CHUNK_SIZE = COINS, CHUNK
    started = scan_task("all", datetime.now(timezone.utc))
    assert (started["status"], started["chunks"]) == ("running", COINS // CHUNK)
    return ScanRun.objects.get(pk=started["run_id"])


def state(server: SimulatorServer) -> dict:
    return httpx.get(f"{server.base_url}/sim/state").json()


def scored_symbols(run: ScanRun) -> set[str]:
    return set(ScanResult.objects.filter(run=run).values_list("coin__symbol", flat=True))


def test_a_5xx_storm_leaves_a_partial_scan_with_its_coverage_and_every_failure_recorded(settings):
    settings.HTTP_MAX_RETRIES = 1
    with hard_timeout(120), SimulatorServer(seed=31, coins=40) as server:
        run = plan(settings, server)
        server.faults = Faults(31, error_rate=0.5)  # the storm: half of all answers are 5xx
        drain()
        s = state(server)
    run.refresh_from_db()
    assert run.status == "partial" and 0 < run.coverage < 1, (run.status, run.coverage)
    assert run.scored == len(scored_symbols(run))
    klines_failed = {e["symbol"] for e in run.errors if e["error"].startswith("klines")}
    assert klines_failed and not klines_failed & scored_symbols(run)  # no coin scored from nothing
    assert run.scored + len(klines_failed) == COINS  # every coin either scored or failed with its reason
    # each failure names what failed and the server's answer, e.g. "klines: ... (HTTP 502)"
    assert all(re.search(r"^(klines|openInterest|futures data): .*\(HTTP 50[023]\)$", e["error"])
               for e in run.errors), run.errors
    statuses = run.requests["binance_spot"]["statuses"]
    assert sum(n for code, n in statuses.items() if code.startswith("5")) > 0
    assert s["status_counts"].get("418", 0) == 0 and s["faults"]["error"] > 0


def test_a_429_storm_is_waited_out_for_retry_after_and_the_scan_completes_unbanned(settings):
    """Another client on our IP spends each 2-second window's weight as it opens, for three windows.
    Our chunks get 429s and must wait out Retry-After: the simulator bans an IP that sends more
    than 2 requests in a window after its 429 (ban_after=2), so ignoring one would show as a 418."""
    window, limit = 2, 60
    with hard_timeout(120), SimulatorServer(seed=33, coins=40, weight_limit=limit, window_seconds=window,
                                            ban_after=2) as server:
        run = plan(settings, server, window=window)
        stop = threading.Event()

        def burn(c: httpx.Client) -> None:
            while not stop.is_set():
                r = c.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h", "limit": 1})
                if r.status_code != 200 or int(r.headers["x-mbx-used-weight-1m"]) + 2 > limit:
                    return

        def burner():  # the storm goes on: the next two windows are burnt as they open
            with httpx.Client(base_url=server.base_url) as c:
                for _ in range(2):
                    time.sleep(window - time.time() % window + 0.001)
                    burn(c)
        time.sleep(window - time.time() % window + 0.05)  # a fresh window, the plan's requests behind us
        with httpx.Client(base_url=server.base_url) as c:
            burn(c)  # the storm starts: this window is spent before the chunks run
        thread = threading.Thread(target=burner, daemon=True)
        thread.start()
        started = time.monotonic()
        drain()
        stop.set()
        thread.join(10)
        s = state(server)
    run.refresh_from_db()
    spot = run.requests["binance_spot"]
    assert spot["statuses"].get("429", 0) >= 1, "the storm must have reached the scan"
    assert s["status_counts"].get("418", 0) == 0 and not s["bans"], "a 429 was not waited out"
    assert (run.status, run.scored) == ("completed", COINS) and run.coverage == 1.0
    assert time.monotonic() - started >= window  # it waited for at least one window to pass


def test_a_418_ban_mid_scan_stops_every_request_to_that_host_and_flags_the_scan_partial(settings):
    limit = 200
    with hard_timeout(120), SimulatorServer(seed=35, coins=40, weight_limit=limit, window_seconds=60,
                                            ban_after=10) as server:
        run = plan(settings, server)
        first, *rest = queued()
        execute(first[1])  # one chunk is stored before the ban
        first[0].delete()
        # the storm: someone on our IP ignores the 429s and gets it banned for two minutes
        with httpx.Client(base_url=server.base_url) as c:
            codes = [c.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).status_code
                     for _ in range(limit // 2 + 15)]
        assert codes[-1] == 418
        banned_before = state(server)["status_counts"]["418"]
        second, *rest = queued()
        execute(second[1])  # learns of the ban from the answers to the requests it had in flight
        second[0].delete()
        learnt = state(server)["status_counts"]["418"] - banned_before
        spot_before = DataSource.objects.get(name="binance_spot").banned_until
        drain()  # the last chunk: a new session reads the ban from the database and sends nothing to spot
        s = state(server)
    run.refresh_from_db()
    # Requests already on the wire when the first 418 came back cannot be recalled: at most one per
    # coin of that chunk (all were in flight at once); after that, not one.
    assert 1 <= learnt <= CHUNK
    # (every request to spot during the ban is answered 418, so no new 418 means none was sent)
    assert s["status_counts"]["418"] - banned_before == learnt, "sent to the host after learning of its ban"
    assert spot_before is not None  # the chunk that learnt of the ban stored it for every other process
    first_chunk = ScanChunk.objects.get(run=run, index=0)
    assert (run.status, run.scored) == ("partial", first_chunk.scored) and first_chunk.scored == CHUNK
    assert run.coverage == CHUNK / COINS
    banned = {e["symbol"] for e in run.errors if "banned" in e["error"]}
    assert banned == set(run.parameters["symbols"] or []) | {
        s for c in ScanChunk.objects.filter(run=run, index__gt=0) for s in c.symbols}
    assert not banned & scored_symbols(run)
    assert DataSource.objects.get(name="binance_spot").banned_until is not None
