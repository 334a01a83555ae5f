"""The look-ahead check (after freqtrade's lookahead-analysis): score stored history twice —
with everything we have, and with the history cut at the evaluation time — and report every
difference. A scanner that peeks at a candle or a data point from after its evaluation time
scores differently in the two runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .coindata import CoinData, utc_ms
from .pipeline import SCANNERS, Thresholds, score_universe


@dataclass
class LookaheadReport:
    evaluations: int = 0
    compared: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SCANNERS})
    differences: list[dict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _comparable(o) -> tuple:
    return (o.score, tuple(sorted(o.scores.items())), o.signal, o.direction, tuple(o.missing))


def check(coins: dict[str, CoinData], times: list[datetime], t: Thresholds) -> LookaheadReport:
    report = LookaheadReport()
    for as_of in times:
        cut = {s: cd.truncated(utc_ms(as_of)) for s, cd in coins.items()}
        _, full_out = score_universe(coins, as_of, t)
        _, cut_out = score_universe(cut, as_of, t)
        report.evaluations += 1
        for symbol, per_scanner in full_out.items():
            for scanner, o in per_scanner.items():
                report.compared[scanner] += 1
                other = cut_out[symbol].get(scanner)
                if other is None or _comparable(o) != _comparable(other):
                    report.differences.append({"as_of": as_of.isoformat(), "symbol": symbol, "scanner": scanner,
                                               "full": o.scores, "cut": other.scores if other else None})
        for symbol, per_scanner in cut_out.items():  # a scanner that only scored with the full history
            for scanner in per_scanner.keys() - full_out[symbol].keys():
                report.differences.append({"as_of": as_of.isoformat(), "symbol": symbol, "scanner": scanner,
                                           "full": None, "cut": per_scanner[scanner].scores})
    return report


def evaluation_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Whole hours from start to end (exclusive), every `step`."""
    t = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    out = []
    while t < end:
        out.append(t)
        t += step
    return out
