"""`manage.py benchmark ranking`: the CPU cost of the unified ranking for N coins — computing every
coin's unified score from its scanners' results, and answering the ranking API — in a throwaway
database (the default test database machinery is not used: this is a measurement, not a test)."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone

from django.db import transaction
from django.test import Client

from marketdata.models import Coin
from signals.models import ScoringConfig, UnifiedScore

from signals.ranking import unify


def _components(rng: random.Random) -> dict[str, dict]:
    return {
        "smart_money": {"accumulation": rng.randint(0, 10), "distribution": rng.randint(0, 10)},
        "rsi": {"rsi": rng.uniform(5, 95), "technical": rng.uniform(0, 10)},
        "social": {"momentum": rng.uniform(0, 100)},
        "whale": {"whale": rng.randint(0, 10)},
        "volume_spike": {"volume_spike": rng.uniform(0, 10)},
        **({"mss": {"mss": rng.uniform(0, 100)}} if rng.random() < 0.05 else {}),
    }


def run(coins: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    with transaction.atomic():
        Coin.objects.bulk_create([Coin(symbol=f"BENCH{i:04d}USDT", base_asset=f"BENCH{i:04d}", quote_asset="USDT")
                                  for i in range(coins)], ignore_conflicts=True)
    ids = list(Coin.objects.filter(symbol__startswith="BENCH").values_list("id", flat=True))
    latest = {cid: _components(rng) for cid in ids}
    config = ScoringConfig.current()
    now = datetime.now(timezone.utc)

    cpu = time.process_time()
    results = {cid: unify(c, config.weights, config.tier_thresholds, config.min_confirmations_tier1)
               for cid, c in latest.items()}
    unify_cpu = time.process_time() - cpu

    cpu = time.process_time()
    rows = [UnifiedScore(coin_id=cid, computed_at=now, unified_score=r.unified_score, tier=r.tier or "",
                         label=r.label or "", action=r.cross_validation.action, confidence=r.cross_validation.confidence,
                         coverage=r.coverage, confirmations=r.cross_validation.confirmations,
                         agreeing_scanners=r.cross_validation.agreeing_scanners,
                         breakdown={k: vars(b) for k, b in r.breakdown.items()}, components=latest[cid],
                         missing=r.missing, reasons=r.reasons, risk_level="MEDIUM")
            for cid, r in results.items()]
    with transaction.atomic():
        UnifiedScore.objects.filter(coin_id__in=ids, is_latest=True).update(is_latest=False)
        UnifiedScore.objects.bulk_create(rows, batch_size=500)
    store_cpu = time.process_time() - cpu

    client = Client()
    timings = []
    for _ in range(5):
        cpu = time.process_time()
        response = client.get("/api/scan/unified-ranking", {"limit": 500})
        timings.append(time.process_time() - cpu)
        assert response.status_code == 200, response.content[:200]
    return {"coins": len(ids), "unify_cpu_seconds": round(unify_cpu, 4), "store_cpu_seconds": round(store_cpu, 4),
            "ranking_cpu_seconds": round(unify_cpu + store_cpu, 4),
            "api_ranking_500_cpu_seconds_median": round(sorted(timings)[2], 4)}
