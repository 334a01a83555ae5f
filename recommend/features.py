"""A signal's features as known when its candle closed (nothing measured after candle_close_time).

Read: scanner, kind, direction, tier (one-hot or numbers), the headline score, the unified score, the
numbers in `scores`, how many inputs were missing, the coin's age at the candle close, and each
numeric input of `inputs` whose own data time is not after the candle close (inputs measured later,
such as a funding rate fetched at scan time, and inputs without a time are left out). Never read:
created_at, outcomes, prices after the candle."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from signals.models import KIND_CHOICES, SCANNER_CHOICES, Signal

# Price levels identify a coin, not the quality of its signal.
SKIP_INPUTS = {"last_close"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _known_by(as_of: Any, cutoff: datetime) -> bool:
    if not isinstance(as_of, str):
        return False
    try:
        at = datetime.fromisoformat(as_of)
    except ValueError:
        return False
    return at.tzinfo is not None and at <= cutoff


def signal_features(s: Signal) -> dict[str, float]:
    cutoff = s.candle_close_time
    out: dict[str, float] = {f"scanner={name}": float(s.scanner == name) for name, _ in SCANNER_CHOICES}
    out.update({f"kind={name}": float(s.kind == name) for name, _ in KIND_CHOICES})
    out["direction_long"] = float(s.direction == "LONG")
    out["tier"] = float(s.tier)
    out["n_missing"] = float(len(s.missing or []))
    for name, value in (("score", s.score), ("unified_score", s.unified_score)):
        if _number(value) is not None:
            out[name] = float(value)
    listed = s.coin.listed_at
    if listed is not None and listed <= cutoff:
        out["coin_age_days"] = (cutoff - listed).total_seconds() / 86400
    for key, value in (s.scores or {}).items():
        if _number(value) is not None:
            out[f"scores.{key}"] = _number(value)
    for key, item in (s.inputs or {}).items():
        if key in SKIP_INPUTS or not isinstance(item, dict):
            continue
        if "value" in item:  # a scanner's input: {value, as_of}
            if _number(item["value"]) is not None and _known_by(item.get("as_of"), cutoff):
                out[f"inputs.{key}"] = _number(item["value"])
        elif isinstance(item.get("scores"), dict) and _known_by(item.get("as_of"), cutoff):
            # a unified signal's inputs: each scanner's scores with their time
            for name, value in item["scores"].items():
                if _number(value) is not None:
                    out[f"inputs.{key}.{name}"] = _number(value)
    return out
