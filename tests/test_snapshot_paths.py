"""Candle-derived snapshot fields from a list as CoinData keeps it (`_closed_as_kept`: a slice, times
in milliseconds) are the fields the general path derives, and both are what the code before it
derived (kept here as the reference), on random histories with gaps, duplicates, disorder and
cut-offs inside an hour."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from scanners.coindata import HOUR_MS, CoinData, build_snapshot
from scanners.snapshot import _EPOCH, _closed, _closed_as_kept, snapshot_from_candles

_HOUR_US = 3_600_000_000


# ---------------------------------------------------------------- the code before, as it was

def old_window(closed, count):
    if len(closed) < count:
        return None
    last = closed[-1][0]
    tail = closed[-count:]
    if tail[0][0] == last - (count - 1) * _HOUR_US and all(b[0] - a[0] == _HOUR_US for a, b in zip(tail, tail[1:])):
        return tail
    by_time = {c[0]: c for c in closed}
    window = [by_time.get(last - k * _HOUR_US) for k in range(count - 1, -1, -1)]
    return None if any(c is None for c in window) else window


def old_pct(closed, hours):
    w = old_window(closed, hours + 1)
    if w is None or w[0][1] <= 0:
        return None
    return (w[-1][1] / w[0][1] - 1) * 100


def old_buy_pressure(closed, hours=24):
    w = old_window(closed, hours)
    total = sum(c[2] for c in w) if w else 0.0
    return None if not w or total <= 0 else 100 * sum(c[3] for c in w) / total


def old_volumes(closed):
    last24 = old_window(closed, 24)
    last8d = old_window(closed, 24 * 8)
    return (sum(c[2] for c in last24) if last24 else None, sum(c[2] for c in last8d[:-24]) / 7 if last8d else None)


def old_fields(candles, as_of):
    closed = _closed(candles, as_of)  # unchanged
    vol24, avg7 = old_volumes(closed)
    return {"candle_close_time": _EPOCH + timedelta(microseconds=closed[-1][0] + _HOUR_US) if closed else None,
            "last_close": closed[-1][1] if closed else None, "pct_4h": old_pct(closed, 4),
            "pct_24h": old_pct(closed, 24), "buy_pressure_pct": old_buy_pressure(closed),
            "quote_volume_24h": vol24, "avg_daily_quote_volume_7d": avg7}


def fields_of(snap):
    return {k: getattr(snap, k) for k in ("candle_close_time", "last_close", "pct_4h", "pct_24h", "buy_pressure_pct",
                                          "quote_volume_24h", "avg_daily_quote_volume_7d")}


def history(rng: random.Random, n: int, start_ms: int) -> list[tuple[int, float, float, float]]:
    candles, price = [], 10.0
    for h in range(n):
        if rng.random() < 0.03:
            continue  # a gap
        price *= 1 + rng.gauss(0, 0.03)
        qv = rng.random() * 1e5
        candles.append((start_ms + h * HOUR_MS, price if rng.random() > 0.01 else 0.0, qv, qv * rng.random()))
    return candles


@pytest.mark.parametrize("seed", range(40))
def test_fields_from_kept_candles_are_the_general_paths_and_the_old_ones(seed):
    rng = random.Random(seed)
    start = 1_780_000_000_000 // HOUR_MS * HOUR_MS
    candles = history(rng, rng.choice([3, 30, 200, 260]), start)
    for _ in range(6):
        as_of = datetime.fromtimestamp(start / 1000 + rng.uniform(-2, len(candles) + 3) * 3600, tz=timezone.utc)
        as_of += timedelta(microseconds=rng.choice([0, 1, 999, 1000, 1001]))
        kept = snapshot_from_candles("X", as_of, candles)
        assert _closed_as_kept(candles, as_of) is not None
        general = snapshot_from_candles("X", as_of, [list(c) for c in candles])  # lists: the general path
        assert _closed_as_kept([list(c) for c in candles], as_of) is None
        assert fields_of(kept) == fields_of(general) == old_fields(candles, as_of)
        assert kept == general


def test_only_lists_as_coindata_keeps_them_take_the_kept_path():
    as_of = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    t = int(as_of.timestamp() * 1000) - 5 * HOUR_MS
    ok = [(t, 1.0, 2.0, 1.0), (t + HOUR_MS, 1.5, 2.0, 1.0)]
    assert _closed_as_kept(ok, as_of) == ok and _closed_as_kept([], as_of) == []
    for other in ([(t + HOUR_MS, 1.0, 2.0, 1.0), (t, 1.5, 2.0, 1.0)],  # disorder
                  [(t, 1.0, 2.0, 1.0), (t, 1.5, 2.0, 1.0)],  # a duplicate open time (the later one wins)
                  [(t, 1, 2.0, 1.0)],  # an int close
                  [(float(t), 1.0, 2.0, 1.0)],  # a float time
                  [(t, 1.0, 2.0)],  # a short row
                  [(t, 1.0, 2.0, 1.0, 9)],  # a longer one
                  (c for c in ok)):  # not a list
        assert _closed_as_kept(other, as_of) is None
    dup = [(t, 1.0, 2.0, 1.0), (t, 1.5, 2.0, 1.0), (t - HOUR_MS, 3.0, 2.0, 1.0)]
    assert fields_of(snapshot_from_candles("X", as_of, dup)) == old_fields(dup, as_of)
    with pytest.raises(ValueError):  # what the general path always raised
        snapshot_from_candles("X", as_of, [(t, 1.0, 2.0)])


@pytest.mark.parametrize("seed", range(10))
def test_build_snapshot_volume_change_unchanged(seed):
    """build_snapshot no longer filters its closed candles twice for the volume change."""
    rng = random.Random(seed)
    as_of = datetime(2026, 6, 1, 12, 0, 0, 500, tzinfo=timezone.utc)
    end = int(as_of.timestamp() * 1000) // HOUR_MS * HOUR_MS
    cd = CoinData("X", 1, None, False, history(rng, 300, end - 300 * HOUR_MS + rng.choice([0, HOUR_MS])))
    for back in (0, 1, 50, 250):  # as_of further back: build_snapshot searches the history
        at = as_of - timedelta(hours=back)
        at_ms = int(at.timestamp() * 1000)
        closed = [c for c in cd.candles if c[0] + HOUR_MS <= at_ms][-48:]
        expected = None
        if len(closed) == 48 and closed[-1][0] - closed[0][0] == 47 * HOUR_MS:
            before, last = sum(c[2] for c in closed[:24]), sum(c[2] for c in closed[24:])
            expected = (last / before - 1) * 100 if before > 0 else None
        assert build_snapshot(cd, at).volume_change_24h_pct == expected
