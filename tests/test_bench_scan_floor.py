"""The floors `benchmark scan` measures against (cryptosatx/bench/scan.py)."""
from types import SimpleNamespace

import pytest

from cryptosatx.bench.scan import budget_floor, dependency_floor, lowest_possible_ratio


def stats(requests, **buckets):
    return {"requests": requests, "weight": 0, "buckets": buckets}


def test_the_dependency_floor_counts_the_plans_waves_in_order(settings):
    settings.PARALLEL_MAX_CONCURRENT = 50
    run = SimpleNamespace(requests={
        "binance_spot": stats(99), "binance_futures": stats(70, futures_data=6),
        "coingecko": stats(1), "lunarcrush": stats(1)})
    seconds, plan = dependency_floor(run, rtt=0.1)
    # bulk: 2 calls + 3 (exchangeInfo twice, premiumIndex); per coin: 171 − 5 − 6 = 160; with the
    # streamed shortlist's 6, 4 waves; then one for the last qualifier's capped calls
    assert plan == {"bulk": 5, "per_coin": 160, "shortlist": 6, "waves": 6}
    assert seconds == pytest.approx(0.6)
    run.requests["binance_futures"] = stats(64)  # no capped call: no wave after the per-coin ones
    assert dependency_floor(run, rtt=0.1)[1]["waves"] == 5


def test_the_budget_floor_is_zero_within_one_window_and_counts_the_excess_beyond_it():
    assert budget_floor({"binance_futures": {"weight": 2400, "futures_data": 1000}}) == 0
    # 600 futures weight beyond 2,400 a minute refills at 40 a second: 15 s
    assert budget_floor({"binance_futures": {"weight": 3000}}) == pytest.approx(15)


def test_the_lowest_possible_ratio_of_a_plan_that_waits_for_its_universe():
    # 169 requests (98 coins): one round trip, then 168 over 50 connections = 4.36 of the floor's 3.38
    assert lowest_possible_ratio(169, 50) == pytest.approx(218 / 169)
    assert lowest_possible_ratio(169, 50) > 1.25
    assert lowest_possible_ratio(196, 50) == pytest.approx(1.25)  # the size from which 1.25 is possible
    assert lowest_possible_ratio(1674, 50) == pytest.approx(1723 / 1674)
    assert lowest_possible_ratio(0, 50) == 0.0
