"""`manage.py benchmark alerts`: N tier-1 signals from one scan, through the outbox and the sender,
to the simulator's Telegram (its real pacing limits), in a throwaway database. Measures what reached
Telegram: messages, lost and doubled alerts, and the latency from the signal's commit to Telegram's
acceptance. The hourly and daily alert caps are lifted for the run (they would hold most of 1,000
alerts back by design); pacing and digests stay as in production."""
from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from marketdata.models import Coin
from scanners.models import ScanResult, ScanRun
from signals.models import AlertDelivery, Recipient, Signal
from signals.outbox import record_signals
from signals.sender import send_pending
from signals.telegram import TelegramTransport

TERMINAL = {AlertDelivery.SENT, AlertDelivery.SUPPRESSED, AlertDelivery.FAILED, AlertDelivery.POSSIBLY_DELIVERED}


def _scan_with_signals(n: int) -> ScanRun:
    """A finished scan in which n coins show accumulation 9 (SCORING.md §7: tier 1)."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    Coin.objects.bulk_create([Coin(symbol=f"ALRT{i:04d}USDT", base_asset=f"ALRT{i:04d}", quote_asset="USDT")
                              for i in range(n)])
    run = ScanRun.objects.create(scanner="smart_money", status=ScanRun.COMPLETED, finished_at=timezone.now(),
                                 universe_size=n, scored=n, simulated=True)
    ScanResult.objects.bulk_create([
        ScanResult(run=run, coin=coin, scanner="smart_money", score=9, scores={"accumulation": 9, "distribution": 1},
                   signal="accumulating", direction="LONG", reasons=["buy pressure 86% > 80 → +3"],
                   inputs={"last_close": {"value": 1.0 + i / 1000, "as_of": now.isoformat()}}, data_as_of=now)
        for i, coin in enumerate(Coin.objects.filter(symbol__startswith="ALRT").order_by("symbol"))])
    return run


def run(n: int, sim_url: str) -> dict:
    settings.MAX_ALERTS_PER_HOUR = settings.TIER_1_MAX_PER_DAY = settings.TIER_2_MAX_PER_DAY = 10 * n
    httpx.delete(f"{sim_url}/sim/telegram/messages")
    scan = _scan_with_signals(n)
    committed = time.time()
    signals = record_signals(scan)
    recipient = Recipient.objects.get()
    transport = TelegramTransport.from_settings()
    started = time.monotonic()
    deadline = started + 30 * 60
    while AlertDelivery.objects.exclude(status__in=TERMINAL).exists() and time.monotonic() < deadline:
        report = send_pending(transport)
        if not report.claimed:
            due = (AlertDelivery.objects.exclude(status__in=TERMINAL).order_by("next_attempt_at")
                   .values_list("next_attempt_at", flat=True).first())
            wait = (due - timezone.now()).total_seconds() if due else 0.5
            time.sleep(min(max(wait, 0.05), 5))
    wall = time.monotonic() - started
    transport.close()

    inbox = httpx.get(f"{sim_url}/sim/telegram/messages", params={"chat_id": recipient.chat_id}).json()
    seen: Counter = Counter()
    accepted_at: dict[str, float] = {}
    symbols = [s.coin.symbol for s in Signal.objects.select_related("coin")]
    for message in inbox:
        text = message["text"]
        for symbol in symbols:
            if symbol in text:
                seen[symbol] += 1
                accepted_at.setdefault(symbol, message["received_at"])
    latencies = sorted(accepted_at[s] - committed for s in accepted_at)
    gaps = [b["received_at"] - a["received_at"] for a, b in zip(inbox, inbox[1:])]
    statuses = Counter(AlertDelivery.objects.values_list("status", flat=True))
    first = [accepted_at[s] - committed for s in accepted_at if accepted_at[s] == inbox[0]["received_at"]] if inbox else []
    return {
        "signals": len(signals), "deliveries": dict(statuses), "messages": len(inbox),
        "alerts_delivered": len(seen), "lost": len(symbols) - len(seen),
        "doubled": sum(1 for c in seen.values() if c > 1), "wall_seconds": round(wall, 2),
        "latency_p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "unpaced_latency_p95_seconds": round(sorted(first)[int(0.95 * (len(first) - 1))], 2) if first else None,
        "min_gap_between_messages_seconds": round(min(gaps), 2) if gaps else None,
        "chat_id_is_group": str(recipient.chat_id).startswith("-"),
    }
