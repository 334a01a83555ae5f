"""Names the API accepts, in one place so parameters, schema and docs agree."""
from __future__ import annotations

from scanners.models import ScanRun
from scanners.pipeline import SCANNERS

TIERS = ("TIER_1", "TIER_2", "TIER_3", "TIER_4")
ACTIONS = ("STRONG_BUY", "BUY", "WATCH")
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH")

# Each scanner's component in UnifiedScore.breakdown (SCORING.md §6). RSI's weighted component is
# its 0–10 technical score; the raw RSI only votes in cross-validation.
SCANNER_COMPONENT = {"rsi": "technical", "smart_money": "accumulation", "mss": "mss",
                     "social": "social_momentum", "whale": "whale", "volume_spike": "volume_spike"}
assert set(SCANNER_COMPONENT) == set(SCANNERS)
COMPONENTS = tuple(SCANNER_COMPONENT.values())

RESULT_SCANNERS = SCANNERS  # one ScanResult per (run, coin, scanner)
RUN_SCANNERS = ("rsi", "smart_money", "mss", "social", "all")  # what a ScanRun is started for
RUN_STATUSES = tuple(s for s, _ in ScanRun.STATUS_CHOICES)

HISTORY_LENGTH = 48  # unified scores shown in a coin's history
LIST_ERRORS = 5  # errors a scan list row carries; the detail view has them all
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
