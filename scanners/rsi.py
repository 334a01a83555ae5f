"""RSI screener (SCORING.md §1): Wilder's RSI from TA-Lib on closed candles, as a pure function."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Sequence

import numpy as np
import talib

# Wilder's smoothing forgets its seed slowly; SCORING.md asks for 500+ candles so that the value
# agrees with RSI over the coin's whole history to within 0.01 (tests/test_rsi.py measures it).
RSI_HISTORY_CANDLES = 500
OVERSOLD, OVERBOUGHT = "oversold", "overbought"


@dataclass
class RsiResult:
    symbol: str
    rsi: float | None
    signal: str | None  # "oversold" | "overbought" | None
    direction: str | None  # "LONG" | "SHORT" | None
    score: float | None  # technical score 0–10 for the unified score
    candle_close_time: datetime | None
    candles_used: int
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["candle_close_time"] = self.candle_close_time.isoformat() if self.candle_close_time else None
        return out


def wilder_rsi(closes: Sequence[float], period: int = 14) -> np.ndarray:
    """RSI per candle (NaN until `period` changes exist), TA-Lib's definition."""
    return talib.RSI(np.asarray(closes, dtype=np.float64), timeperiod=period)


def technical_score(rsi: float) -> float:
    """10 at RSI ≤ 20, 0 at RSI ≥ 80, linear between: (80 − RSI) / 6."""
    return float(min(10.0, max(0.0, (80.0 - rsi) / 6.0)))


def score_rsi(symbol: str, closes: Sequence[float], candle_close_time: datetime | None, *,
              period: int = 14, oversold: float = 25.0, overbought: float = 75.0) -> RsiResult:
    """Score one coin from the closes of its *closed* candles, oldest first."""
    if len(closes) <= period:
        return RsiResult(symbol, None, None, None, None, candle_close_time, len(closes),
                         reasons=[f"only {len(closes)} closed candles; RSI({period}) needs more than {period}"],
                         missing=["closes"])
    rsi = float(wilder_rsi(closes, period)[-1])
    score = technical_score(rsi)
    reasons = [f"RSI({period}) {rsi:.2f} on {len(closes)} closed candles → technical score {score:.2f}/10"]
    signal = direction = None
    if rsi < oversold:
        signal, direction = OVERSOLD, "LONG"
        reasons.append(f"RSI {rsi:.2f} < {oversold:g} → oversold (LONG)")
    elif rsi > overbought:
        signal, direction = OVERBOUGHT, "SHORT"
        reasons.append(f"RSI {rsi:.2f} > {overbought:g} → overbought (SHORT)")
    return RsiResult(symbol, round(rsi, 6), signal, direction, round(score, 4), candle_close_time,
                     len(closes), reasons)
