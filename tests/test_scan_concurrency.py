"""One concurrency bound for every request of a scan, and stage A sent beside the request that
learns the universe (scanners.bulk), against the simulator on loopback."""
from __future__ import annotations

import gc
import logging
import time

import pytest

from cryptosatx.scanning import scan as run_scan
from marketdata.http import ServiceClient
from marketdata.simulator.server import SimulatorServer
from scanners import bulk
from scanners.engine import UnknownSymbolsError
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
BULK_PATHS = ("/fapi/v1/exchangeInfo", "/fapi/v1/premiumIndex", "/public/coins/list/v2", "/coins/markets")


@pytest.fixture(scope="module")
def slow_sim():
    # Latency, so that requests overlap and the order of starts and answers means something.
    with SimulatorServer(seed=13, coins=60, latency_ms=30, jitter_ms=10) as server:
        server.warm()
        yield server


@pytest.fixture
def traced(settings, slow_sim, monkeypatch):
    """Every request of the scan, (path, started, finished), and the most in flight at once. A
    request counts from before the governor lets it go, so the count is never below the truth."""
    point_all_at(settings, slow_sim.base_url)
    calls: list[tuple[str, float, float]] = []
    state = {"now": 0, "peak": 0}
    real = ServiceClient._get_once

    async def get_once(self, path, *args, **kwargs):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        started = time.monotonic()
        try:
            return await real(self, path, *args, **kwargs)
        finally:
            state["now"] -= 1
            calls.append((path, started, time.monotonic()))
    monkeypatch.setattr(ServiceClient, "_get_once", get_once)
    return calls, state


def test_every_request_of_a_scan_counts_against_the_concurrency_bound(settings, traced):
    calls, state = traced
    settings.PARALLEL_MAX_CONCURRENT = 6
    run = run_scan("all")
    assert run.status == "completed", run.errors
    paths = {p for p, _, _ in calls}
    # Stage A, one request per coin, and capped calls (three or two to a coin) all took part...
    assert {"/api/v3/exchangeInfo", "/api/v3/klines", "/fapi/v1/openInterest", *BULK_PATHS} <= paths
    assert any(p.startswith("/futures/data/") for p in paths) and run.parameters["shortlist"]
    # ...and never more than the bound were in flight, though it was reached.
    assert state["peak"] == settings.PARALLEL_MAX_CONCURRENT


def test_the_bulk_requests_go_out_beside_the_one_that_learns_the_universe(traced):
    calls, _ = traced
    run = run_scan("all")
    assert run.status == "completed", run.errors
    [(_, _, universe_known)] = [c for c in calls if c[0] == "/api/v3/exchangeInfo"]
    first_start = {}
    for path, started, _ in calls:
        first_start.setdefault(path, started)
    assert all(first_start[p] < universe_known for p in BULK_PATHS), first_start
    assert all(first_start[p] > universe_known for p in ("/api/v3/klines", "/fapi/v1/openInterest"))


def test_coingecko_pages_past_the_first_are_asked_for_once_the_universe_is_known(traced, monkeypatch):
    calls, _ = traced
    # ~60 coins, counted 20 to a page: four pages asked for. The client still asks 250 a page, so
    # those past the first come back empty, which the scan takes as no more markets.
    monkeypatch.setattr(bulk, "COINGECKO_PAGE", 20)
    run = run_scan("all")
    assert run.status == "completed", run.errors
    pages = sorted(started for path, started, _ in calls if path == "/coins/markets")
    [(_, _, universe_known)] = [c for c in calls if c[0] == "/api/v3/exchangeInfo"]
    assert len(pages) == run.universe_size // 20 + 1 == run.requests["coingecko"]["requests"]
    assert pages[0] < universe_known < pages[1]
    assert "coingecko" in run.parameters["data_times"]


def test_a_scan_that_fails_on_its_universe_leaves_nothing_running(traced, caplog):
    calls, state = traced
    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(UnknownSymbolsError):
        run_scan("all", ["NOSUCHCOINUSDT"])
    gc.collect()  # a task destroyed while pending, or a failure never read, is logged now
    assert state["now"] == 0
    # Stage A had gone out beside the universe, so there was something to stop or wait for.
    assert {p for p, _, _ in calls} >= {"/api/v3/exchangeInfo", *BULK_PATHS}
    assert [r for r in caplog.records if r.name == "asyncio"] == []
