"""Scheduled scans: one run per slot, never two scans of a scanner at once, dead runs reaped."""
from datetime import datetime, timedelta, timezone

import pytest

from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun, ScanSlot
from cryptosatx.tasks import scan_task, slot_start
from tests.conftest import point_all_at

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 11, 27, 12, 0, 30, tzinfo=timezone.utc)


@pytest.fixture
def sim_scan(settings):
    settings.SCAN_MAX_COINS = 5
    settings.RSI_SCREENER_INTERVAL_HOURS = 4
    with SimulatorServer(seed=9, coins=30) as server:
        point_all_at(settings, server.base_url)
        yield


def test_a_slot_runs_once_however_often_it_is_picked_up(sim_scan):
    first = scan_task("rsi", NOON)
    again = scan_task("rsi", NOON + timedelta(minutes=30))  # the same 4-hour slot, e.g. a second cluster
    assert first["status"] == "completed" and "already ran" in again["skipped"]
    assert ScanRun.objects.count() == 1
    assert ScanSlot.objects.get().run_id == first["run_id"]
    later = scan_task("rsi", NOON + timedelta(hours=4))  # the next slot
    assert later["status"] == "completed" and ScanRun.objects.count() == 2


def test_slots_are_aligned_to_the_interval(settings):
    settings.RSI_SCREENER_INTERVAL_HOURS = 4
    assert slot_start("rsi", NOON) == datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    assert slot_start("rsi", NOON + timedelta(hours=3, minutes=59)) == datetime(2026, 11, 27, 12, tzinfo=timezone.utc)


def test_a_scan_never_starts_beside_a_running_one_of_the_same_scanner(sim_scan):
    ScanRun.objects.create(scanner="rsi")  # still running
    result = scan_task("rsi", datetime.now(timezone.utc))
    assert "still running" in result["skipped"]
    assert ScanSlot.objects.get().skipped == result["skipped"]
    assert ScanRun.objects.count() == 1


def test_a_run_left_running_by_a_dead_worker_is_reaped(sim_scan, settings):
    stale = ScanRun.objects.create(scanner="rsi")
    ScanRun.objects.filter(pk=stale.pk).update(
        started_at=datetime.now(timezone.utc) - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 60))
    result = scan_task("rsi", datetime.now(timezone.utc))
    assert result["status"] == "completed"
    assert ScanRun.objects.get(pk=stale.pk).status == "failed"


def test_auto_scan_disabled_runs_nothing(sim_scan, settings):
    settings.AUTO_SCAN_ENABLED = False
    assert scan_task("rsi")["skipped"] == "AUTO_SCAN_ENABLED is false"
    assert not ScanRun.objects.exists() and not ScanSlot.objects.exists()
