"""The outbox: a finished scan → Signal rows and their AlertDelivery rows, in one transaction, once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from marketdata.models import Candle
from scanners.models import ScanRun
from signals.models import AlertDelivery, ProcessedRun, Recipient, Signal, UnifiedScore
from signals.outbox import record_signals
from signals.tasks import record_new_runs, record_signals_for_run
from tests.api_factories import make_result, make_run
from tests.test_alert_support import CANDLE, NOW, alice, bob, charlie, coin

pytestmark = pytest.mark.django_db


def candle(symbol: str, close: float, closes_at=CANDLE) -> None:
    Candle.objects.create(coin=coin(symbol), interval="1h", open_time=closes_at - timedelta(hours=1),
                          close_time=closes_at - timedelta(milliseconds=1), open=close, high=close, low=close,
                          close=close, volume=1, quote_volume=1, trades=1, taker_buy_base_volume=0,
                          taker_buy_quote_volume=0)


def scan(*, scanner: str = "all", candle_at=CANDLE, simulated: bool = False, unified_tier: str = "TIER_2",
         finished: bool = True) -> ScanRun:
    """ARB accumulating 9/10 (tier 1), DOGE distributing 7/10 (tier 2), ETH RSI 27 (tier 3),
    NEW an MSS 80 listing (tier 2), and ARB's unified score in `unified_tier`."""
    run = make_run(scanner=scanner, started_at=NOW - timedelta(minutes=1), finished_at=NOW if finished else None,
                   status=ScanRun.COMPLETED if finished else ScanRun.RUNNING, simulated=simulated)
    at = {"data_as_of": candle_at}
    make_result(run, coin("ARBUSDT"), "smart_money", score=9, scores={"accumulation": 9, "distribution": 1},
                signal="accumulating", direction="LONG", reasons=["accumulation: buy pressure 87% > 80 → +3"],
                inputs={"buy_pressure_pct": {"value": 87.0, "as_of": candle_at.isoformat()}}, **at)
    make_result(run, coin("DOGEUSDT"), "smart_money", score=7, scores={"accumulation": 2, "distribution": 7},
                signal="distributing", direction="SHORT", reasons=["distribution: funding 0.8% > 0.5 → +2"], **at)
    make_result(run, coin("ETHUSDT"), "rsi", score=8.8, scores={"rsi": 27.0, "technical": 8.8},
                inputs={"last_close": {"value": 3100.5, "as_of": candle_at.isoformat()}}, **at)
    make_result(run, coin("NEWUSDT"), "mss", score=80, scores={"mss": 80, "coverage": 1}, signal="gem",
                direction="LONG", **at)
    make_result(run, coin("BTCUSDT"), "smart_money", score=3, scores={"accumulation": 3, "distribution": 2}, **at)
    UnifiedScore.objects.filter(coin=coin("ARBUSDT")).update(is_latest=False)
    UnifiedScore.objects.create(coin=coin("ARBUSDT"), run=run, computed_at=NOW, data_as_of=candle_at,
                                unified_score=74.5, tier=unified_tier, label="STRONG BUY",
                                components={"smart_money": {"scores": {"accumulation": 9}, "as_of": NOW.isoformat()}},
                                reasons=["accumulation 9 → 90/100 × 0.4 = 36"])
    return run


def by_key() -> dict[tuple[str, str, str], Signal]:
    return {(s.coin.symbol, s.scanner, s.direction): s for s in Signal.objects.select_related("coin")}


def test_a_scan_records_each_coin_scanner_and_direction_at_its_highest_tier():
    alice()
    candle("ARBUSDT", 1.25)
    run = scan(simulated=True)
    created = record_signals(run, now=NOW)
    signals = by_key()
    assert len(created) == len(signals) == 5
    assert {k: s.tier for k, s in signals.items()} == {
        ("ARBUSDT", "smart_money", "LONG"): 1, ("DOGEUSDT", "smart_money", "SHORT"): 2,
        ("ETHUSDT", "rsi", "LONG"): 3, ("NEWUSDT", "mss", "LONG"): 2, ("ARBUSDT", "unified", "LONG"): 2}
    arb = signals[("ARBUSDT", "smart_money", "LONG")]
    assert (arb.kind, arb.score, arb.score_metric, arb.unified_score) == ("accumulating", 9, "accumulation", 74.5)
    assert arb.rules_matched == ["Accumulation ≥ 9"]
    assert (arb.entry_price, arb.candle_close_time, arb.run_id, arb.simulated) == (1.25, CANDLE, run.pk, True)
    assert arb.inputs["buy_pressure_pct"] == {"value": 87.0, "as_of": CANDLE.isoformat()}
    assert arb.reasons == ["accumulation: buy pressure 87% > 80 → +3"]
    doge = signals[("DOGEUSDT", "smart_money", "SHORT")]
    assert (doge.kind, doge.score, doge.score_metric) == ("distributing", 7, "distribution")
    assert signals[("ETHUSDT", "rsi", "LONG")].entry_price == 3100.5  # no stored candle: the scanner's close
    unified = signals[("ARBUSDT", "unified", "LONG")]
    assert (unified.kind, unified.score, unified.rules_matched) == ("unified", 74.5, ["Unified TIER_2"])
    assert unified.inputs["smart_money"]["scores"] == {"accumulation": 9}
    assert unified.reasons == ["accumulation 9 → 90/100 × 0.4 = 36"]  # read for the matched coin only


def test_finding_candidates_reads_matched_unified_scores_whole_in_one_query():
    """The rules read each unified score without its detail; the matched ones are read whole in one
    more query, not one per coin (the detail is deferred, so touching it would cost a query each)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from signals.outbox import find_candidates

    def queries(extra: int) -> tuple[int, list]:
        run = scan()
        for i in range(extra):
            sym = f"X{i}USDT"
            UnifiedScore.objects.create(coin=coin(sym), run=run, computed_at=NOW, data_as_of=CANDLE,
                                        unified_score=80, tier="TIER_2", label="STRONG BUY",
                                        breakdown={"smart_money": 40}, reasons=[f"{sym} reason"])
        with CaptureQueriesContext(connection) as ctx:
            found = find_candidates(run)
        return len(ctx.captured_queries), found
    one, found_one = queries(0)
    many, found_many = queries(6)
    unified = [c for c in found_many if c.scanner == "unified"]
    assert len(unified) == 7 and len([c for c in found_one if c.scanner == "unified"]) == 1
    assert many == one
    assert {c.fields["reasons"][0] for c in unified} >= {f"X{i}USDT reason" for i in range(6)}
    assert all(c.fields["scores"]["breakdown"] == {"smart_money": 40} for c in unified if c.fields["reasons"][0].startswith("X"))


def test_deliveries_are_written_with_the_signals_one_per_recipient_wanting_the_tier():
    a, b, c = alice(), bob(), charlie()
    Recipient.objects.create(name="dave", chat_id="4004", enabled=False)
    record_signals(scan(), now=NOW)
    rows = {(d.signal.coin.symbol, d.signal.scanner, d.recipient.name): (d.status, d.reason)
            for d in AlertDelivery.objects.select_related("signal__coin", "recipient")}
    assert rows[("ARBUSDT", "smart_money", "alice")] == ("pending", "")
    assert rows[("ARBUSDT", "smart_money", "charlie")] == ("pending", "")  # charlie wants tier 1 only
    assert ("DOGEUSDT", "smart_money", "charlie") not in rows
    assert rows[("ETHUSDT", "rsi", "alice")] == ("summary_only", "tier_3_summary_only")
    assert rows[("ETHUSDT", "rsi", "bob's group")] == ("summary_only", "tier_3_summary_only")
    assert not AlertDelivery.objects.filter(recipient__name="dave").exists()
    assert AlertDelivery.objects.count() == 5 * 2 + 1  # alice and bob get all five, charlie one


def test_a_deactivated_users_chat_gets_no_alerts_and_no_summary():
    from django.contrib.auth.models import User

    alice()
    eve = User.objects.create_user("eve", is_active=False)
    Recipient.objects.create(name="eve", chat_id="5005", kind=Recipient.USER, user=eve)
    record_signals(scan(), now=NOW)
    assert AlertDelivery.objects.filter(recipient__name="alice").exists()
    assert not AlertDelivery.objects.filter(recipient__name="eve").exists()
    assert list(Recipient.objects.active().values_list("name", flat=True)) == ["alice"]
    eve.is_active = True
    eve.save()
    assert sorted(Recipient.objects.active().values_list("name", flat=True)) == ["alice", "eve"]


def test_a_tier_switched_off_in_settings_is_kept_for_the_summary_with_its_reason(settings):
    settings.TELEGRAM_TIER_2_ENABLED = False
    settings.TELEGRAM_TIER_3_ENABLED = True
    alice()
    record_signals(scan(), now=NOW)
    reasons = {d.signal.tier: (d.status, d.reason) for d in AlertDelivery.objects.select_related("signal")}
    assert reasons == {1: ("pending", ""), 2: ("summary_only", "tier_2_disabled"), 3: ("pending", "")}


def test_a_rerun_of_the_same_scan_writes_nothing_new():
    alice()
    run = scan()
    assert len(record_signals(run, now=NOW)) == 5
    before = (Signal.objects.count(), AlertDelivery.objects.count())
    assert record_signals(run, now=NOW + timedelta(minutes=5)) == []
    assert (Signal.objects.count(), AlertDelivery.objects.count()) == before
    assert ProcessedRun.objects.get(run=run).signals == 5


def test_another_scan_over_the_same_candle_writes_nothing_new_but_the_next_candle_does():
    alice()
    record_signals(scan(), now=NOW)
    assert record_signals(scan(scanner="smart_money"), now=NOW) == []
    later = record_signals(scan(candle_at=CANDLE + timedelta(hours=1)), now=NOW + timedelta(hours=1))
    assert len(later) == 5 and Signal.objects.count() == 10


def test_signal_and_deliveries_are_written_together_or_not_at_all(monkeypatch):
    alice()
    run = scan()

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr(AlertDelivery.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        record_signals(run, now=NOW)
    assert not Signal.objects.exists() and not ProcessedRun.objects.exists()


def test_an_rsi_scan_reads_the_last_accumulation_from_the_unified_score():
    """RSI < 20 and accumulation ≥ 7 is tier 1 even when accumulation came from an earlier scan."""
    alice()
    run = make_run(scanner="rsi", started_at=NOW - timedelta(minutes=1), finished_at=NOW)
    for symbol, rsi in (("SOLUSDT", 18.0), ("AVAXUSDT", 18.0)):
        make_result(run, coin(symbol), "rsi", score=10, scores={"rsi": rsi, "technical": 10}, data_as_of=CANDLE)
    UnifiedScore.objects.create(coin=coin("SOLUSDT"), run=run, computed_at=NOW, data_as_of=CANDLE, tier="TIER_4",
                                components={"smart_money": {"scores": {"accumulation": 7}, "as_of": NOW.isoformat()}})
    record_signals(run, now=NOW)
    tiers = {s.coin.symbol: (s.tier, s.rules_matched) for s in Signal.objects.select_related("coin")}
    assert tiers == {"SOLUSDT": (1, ["RSI < 20 and accumulation ≥ 7"]), "AVAXUSDT": (2, ["RSI < 25"])}


def test_a_running_scan_records_nothing():
    alice()
    assert record_signals(scan(finished=False), now=NOW) == []
    assert not Signal.objects.exists()


def test_a_result_without_a_closed_candle_cannot_anchor_a_signal():
    alice()
    run = make_run(scanner="smart_money", started_at=NOW, finished_at=NOW)
    make_result(run, coin("ARBUSDT"), "smart_money", score=9, scores={"accumulation": 9, "distribution": 0},
                data_as_of=None)
    assert record_signals(run, now=NOW) == []


def test_the_chat_of_telegram_chat_id_becomes_a_recipient_on_first_use(settings):
    settings.TELEGRAM_CHAT_ID = "-1009999"
    record_signals(scan(), now=NOW)
    r = Recipient.objects.get()
    assert (r.chat_id, r.kind, r.from_settings, r.is_group) == ("-1009999", "global", True, True)
    assert AlertDelivery.objects.filter(recipient=r).count() == 5
    Recipient.objects.filter(pk=r.pk).update(enabled=False, disabled_reason="Forbidden: bot was kicked")
    settings.TELEGRAM_CHAT_ID = "-1008888"  # moved to a new group: a new chat, the old refusal is void
    Recipient.ensure_from_settings()
    r.refresh_from_db()
    assert (r.chat_id, r.enabled, r.disabled_reason) == ("-1008888", True, "")
    assert Recipient.objects.count() == 1


def test_tasks_record_a_run_by_id_and_catch_up_on_runs_nobody_recorded(monkeypatch):
    from django.utils import timezone

    alice()
    monkeypatch.setattr(timezone, "now", lambda: NOW + timedelta(minutes=1))
    first, second = scan(), scan(candle_at=CANDLE + timedelta(hours=1))
    assert record_signals_for_run(first.pk) == {"run_id": first.pk, "signals": 5}
    assert record_signals_for_run(999999) == {"skipped": "scan run 999999 is gone"}
    assert record_new_runs() == {"runs": 1, "signals": 5}  # only the second
    assert record_new_runs() == {"runs": 0, "signals": 0}
    assert ProcessedRun.objects.filter(run__in=[first, second]).count() == 2
