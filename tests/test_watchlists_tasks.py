"""The scheduled scan of a watchlist: one scan per slot, never beside its own running scan, and
nothing at all for a watchlist that is gone, unscheduled, empty or whose owner is inactive."""
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import User

from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from tests.api_factories import make_coin
from tests.conftest import point_all_at
from watchlists.models import Watchlist, WatchlistScanSlot
from watchlists.tasks import scan_watchlist_task, slot_start

pytestmark = pytest.mark.django_db
NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def market():
    with SimulatorServer(seed=4, coins=30) as server:
        yield server


@pytest.fixture
def watchlist(settings, market):
    point_all_at(settings, market.base_url)
    w = Watchlist.objects.create(owner=User.objects.create_user("alice"), name="w", scan_interval_minutes=30)
    w.coins.set([make_coin("BTCUSDT"), make_coin("ETHUSDT")])
    return w


def test_slots_are_aligned_to_the_epoch():
    assert slot_start(30, datetime(2025, 1, 1, 10, 44, 59, tzinfo=timezone.utc)) == datetime(
        2025, 1, 1, 10, 30, tzinfo=timezone.utc)


def test_a_slot_scans_the_watchlists_coins_once(watchlist):
    result = scan_watchlist_task(watchlist.pk, now=NOW)
    run = ScanRun.objects.get()
    assert result == {"run_id": run.pk, "status": "completed", "scored": 2}
    assert run.parameters["symbols"] == ["BTCUSDT", "ETHUSDT"]
    slot = WatchlistScanSlot.objects.get()
    assert (slot.watchlist_id, slot.run_id, slot.slot_start) == (watchlist.pk, run.pk, slot_start(30, NOW))
    # The same slot again (a retried task, a second cluster): skipped, no second scan.
    assert scan_watchlist_task(watchlist.pk, now=NOW + timedelta(seconds=5)) == {
        "skipped": "this slot already ran (another worker or cluster took it)"}
    assert ScanRun.objects.count() == 1
    # The next slot scans again.
    assert "run_id" in scan_watchlist_task(watchlist.pk, now=NOW + timedelta(minutes=30))
    assert ScanRun.objects.count() == 2


def test_it_does_not_scan_beside_its_own_running_scan(watchlist):
    WatchlistScanSlot.objects.create(watchlist=watchlist, slot_start=slot_start(30, NOW) - timedelta(minutes=30))
    assert scan_watchlist_task(watchlist.pk, now=NOW) == {
        "skipped": "the previous scan of this watchlist is still running"}
    assert not ScanRun.objects.exists()
    assert WatchlistScanSlot.objects.get(slot_start=slot_start(30, NOW)).skipped.startswith("the previous scan")


@pytest.mark.parametrize("change, reason", [
    (lambda w: w.delete(), "no longer exists"),
    (lambda w: Watchlist.objects.filter(pk=w.pk).update(scan_interval_minutes=None), "has no scan interval"),
    (lambda w: User.objects.filter(pk=w.owner_id).update(is_active=False), "owner's account is inactive"),
    (lambda w: w.coins.clear(), "has no coin the exchange lists"),
])
def test_nothing_is_scanned_when_there_is_nothing_to_scan(watchlist, change, reason):
    pk = watchlist.pk
    change(watchlist)
    result = scan_watchlist_task(pk, now=NOW)
    assert reason in result["skipped"]
    assert not ScanRun.objects.exists()


def test_auto_scan_disabled_stops_watchlist_schedules_too(watchlist, settings):
    settings.AUTO_SCAN_ENABLED = False
    assert scan_watchlist_task(watchlist.pk, now=NOW) == {"skipped": "AUTO_SCAN_ENABLED is false"}
    assert not WatchlistScanSlot.objects.exists()


def test_the_schedule_row_runs_this_task(watchlist):
    """What django-q2 does with the row: import `func`, evaluate `args`, call."""
    import ast

    from django.utils.module_loading import import_string

    from watchlists.schedules import sync_schedule

    schedule = sync_schedule(watchlist)
    result = import_string(schedule.func)(ast.literal_eval(schedule.args))
    assert result["run_id"] == ScanRun.objects.get().pk
