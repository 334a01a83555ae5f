"""Walk-forward threshold optimizer (PLAN.md §4.3; docs/performance-tracking.md "Threshold optimizer").

It only *suggests*: nothing here writes a threshold. `apply_suggestions` is called by the ScoringConfig
admin action "apply suggested threshold", and changes a threshold only when the report recommends it."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from signals.models import ScoringConfig

from .models import SignalOutcome
from .stats import _r, wilson

HORIZON = "24h"
FOLDS = 5                 # the outcomes are cut into this many consecutive blocks; blocks 2..5 are tested
MIN_IN_SAMPLE = 10        # a candidate needs this many in-sample outcomes to be chosen
MIN_OUT_OF_SAMPLE = 30    # below this many out-of-sample outcomes there is no recommendation
DEFAULT_DAYS = 180


def _grid(start: float, stop: float, step: float) -> tuple[float, ...]:
    count = round((stop - start) / step)
    return tuple(round(start + i * step, 4) for i in range(count + 1))


@dataclass(frozen=True)
class Spec:
    """One scanner threshold: which signals it governs and how a signal passes it."""

    field: str                 # the ScoringConfig field
    scanner: str
    direction: str
    comparison: str            # ">=" (score at least t) or "<" (score below t)
    grid: tuple[float, ...]

    def passes(self, score: float, threshold: float) -> bool:
        return score >= threshold if self.comparison == ">=" else score < threshold

    def stricter_key(self, threshold: float) -> float:
        """Larger = stricter (passes fewer signals)."""
        return threshold if self.comparison == ">=" else -threshold


SPECS: dict[str, Spec] = {
    # smart money: accumulation score (0–10) of LONG (accumulating) signals, passes when ≥ t
    "smart_money": Spec("accumulation_threshold", "smart_money", "LONG", ">=", _grid(4, 9, 0.5)),
    # MSS (0–100) of LONG signals, passes when ≥ t
    "mss": Spec("mss_threshold", "mss", "LONG", ">=", _grid(50, 95, 5)),
    # RSI oversold: the RSI of LONG signals, passes when < t
    "rsi": Spec("rsi_oversold", "rsi", "LONG", "<", _grid(10, 35, 2.5)),
}


@dataclass(frozen=True)
class Row:
    score: float
    ret: float       # the trade's return, percent (SignalOutcome.return_pct)
    win: bool


def rows_for(spec: Spec, since: datetime) -> list[Row]:
    """The evaluated 24h outcomes of the spec's signals since `since`, oldest candle first."""
    qs = (SignalOutcome.objects.filter(horizon=HORIZON, status=SignalOutcome.EVALUATED, signal__scanner=spec.scanner,
                                       signal__direction=spec.direction, signal__score__isnull=False,
                                       signal__candle_close_time__gte=since, pnl_pct__isnull=False)
          .select_related("signal").order_by("signal__candle_close_time", "pk"))
    return [Row(o.signal.score, o.return_pct, o.outcome == SignalOutcome.WIN) for o in qs]


def stats(rows: list[Row]) -> dict:
    """n, wins, win rate with its 95 % Wilson interval, expectancy (mean return, percent)."""
    n = len(rows)
    wins = sum(r.win for r in rows)
    interval = wilson(wins, n)
    return {"n": n, "wins": wins, "win_rate": _r(wins / n) if n else None,
            "win_rate_ci": [_r(interval[0]), _r(interval[1])] if interval else None,
            "expectancy": _r(statistics.fmean(r.ret for r in rows)) if n else None}


def choose(spec: Spec, rows: list[Row]) -> float | None:
    """The candidate with the highest mean return over `rows` among those passing ≥ MIN_IN_SAMPLE of them;
    ties (same mean, same n: the same signals) go to the stricter threshold. None when no candidate qualifies."""
    best: tuple | None = None
    for t in spec.grid:
        taken = [r.ret for r in rows if spec.passes(r.score, t)]
        if len(taken) < MIN_IN_SAMPLE:
            continue
        key = (statistics.fmean(taken), len(taken), spec.stricter_key(t))
        if best is None or key > best[0]:
            best = (key, t)
    return None if best is None else best[1]


def block_bounds(n: int, folds: int = FOLDS) -> list[int]:
    """Indexes cutting n rows into `folds` consecutive blocks of (nearly) equal size."""
    return [round(i * n / folds) for i in range(folds + 1)]


def walk_forward(spec: Spec, rows: list[Row], current: float) -> dict:
    bounds = block_bounds(len(rows))
    folds, tested = [], []
    for k in range(1, FOLDS):
        fit, test = rows[:bounds[k]], rows[bounds[k]:bounds[k + 1]]
        t = choose(spec, fit)
        taken = [r for r in test if spec.passes(r.score, t)] if t is not None else []
        tested += taken
        folds.append({"fit_n": len(fit), "test_n": len(test), "threshold": t,
                      "in_sample": stats([r for r in fit if spec.passes(r.score, t)] if t is not None else []),
                      "out_of_sample": stats(taken)})
    suggested = choose(spec, rows)
    in_sample = stats([r for r in rows if spec.passes(r.score, suggested)] if suggested is not None else [])
    out_of_sample = stats(tested)
    recommendation, note = None, None
    if out_of_sample["n"] < MIN_OUT_OF_SAMPLE:
        note = f"fewer than {MIN_OUT_OF_SAMPLE} out-of-sample outcomes: n={out_of_sample['n']}"
    elif suggested is None:
        note = f"no candidate threshold passes {MIN_IN_SAMPLE} or more outcomes"
    elif suggested == current:
        note = f"the suggestion equals the current threshold ({current:g})"
    elif out_of_sample["expectancy"] <= 0:
        note = f"out-of-sample expectancy is not positive ({out_of_sample['expectancy']:g} %)"
    else:
        recommendation = {"field": spec.field, "current": current, "suggested": suggested}
    return {"scanner": spec.scanner, "direction": spec.direction, "field": spec.field,
            "comparison": spec.comparison, "current_threshold": current, "suggested_threshold": suggested,
            "candidates": list(spec.grid), "outcomes": len(rows), "in_sample": in_sample,
            "out_of_sample": out_of_sample, "current_in_sample": stats(
                [r for r in rows if spec.passes(r.score, current)]),
            "folds": folds, "recommendation": recommendation, "recommendation_note": note}


def thresholds_report(days: int = DEFAULT_DAYS, now: datetime | None = None,
                      config: ScoringConfig | None = None) -> dict:
    now = now or timezone.now()
    config = config or ScoringConfig.current()
    since = now - timedelta(days=days)
    return {"days": days, "horizon": HORIZON, "since": since, "generated_at": now, "folds": FOLDS,
            "min_in_sample": MIN_IN_SAMPLE, "min_out_of_sample": MIN_OUT_OF_SAMPLE,
            "scanners": {name: walk_forward(spec, rows_for(spec, since), getattr(config, spec.field))
                         for name, spec in SPECS.items()}}


def apply_suggestions(config: ScoringConfig, report: dict | None = None,
                      now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Set every threshold the report recommends (and only those) on `config`, validated as the admin form
    would. Returns (what changed, what was refused and why), one line per scanner."""
    report = report or thresholds_report(now=now, config=config)
    changed, refused, old = [], [], {}
    for name, entry in report["scanners"].items():
        rec = entry["recommendation"]
        if rec is None:
            refused.append(f"{name} ({entry['field']}): not changed — {entry['recommendation_note']}")
            continue
        old[rec["field"]] = getattr(config, rec["field"])
        setattr(config, rec["field"], rec["suggested"])
        oos = entry["out_of_sample"]
        changed.append(f"{rec['field']}: {old[rec['field']]:g} → {rec['suggested']:g} ({name}; out-of-sample "
                       f"n={oos['n']}, win rate {oos['win_rate']:.0%}, expectancy {oos['expectancy']:+.2f} %)")
    if changed:
        try:
            config.full_clean()
        except ValidationError as error:
            for field, value in old.items():
                setattr(config, field, value)
            return [], refused + [f"not saved, the new values are invalid: {'; '.join(error.messages)}"]
        config.save(update_fields=[*old, "updated_at"])
    return changed, refused




def suggest_thresholds() -> dict:
    """The optimizer's report over the default window, for the monthly report (performance.reports)."""
    return thresholds_report()
