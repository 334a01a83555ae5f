"""Alert rules as data (SCORING.md §7): the numbers each scanner offers, validation for admin, and
evaluation of the enabled rules against one coin's scores. No ORM queries here.

A rule reads one metric of its scanner (``accumulation ≥ 9``) and optionally a second metric of
any scanner (``rsi < 20`` and ``smart_money.accumulation ≥ 7``). Per (coin, scanner, direction)
the highest matching tier wins, and the signal records the rules of that tier that matched.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from django.core.exceptions import ValidationError

# scanner → metric → (lowest, highest) value it can take
METRICS: dict[str, dict[str, tuple[float, float]]] = {
    "smart_money": {"accumulation": (0, 10), "distribution": (0, 10)},
    "mss": {"mss": (0, 100)},
    "rsi": {"rsi": (0, 100), "technical": (0, 10)},
    "social": {"momentum": (0, 100)},
    "unified": {"unified_score": (0, 100), "tier": (1, 4), "confidence": (0, 100), "confirmations": (0, 4),
                "coverage": (0, 1)},
}
# the number a signal of that scanner (and direction) shows as its score
HEADLINE = {"smart_money": {"LONG": "accumulation", "SHORT": "distribution"}, "mss": "mss", "rsi": "rsi",
            "social": "momentum", "unified": "unified_score"}
SYMBOL = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}
CHAT_ID_RE = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")

ValueOf = Callable[[str, str], "float | None"]  # (scanner, metric) → value for one coin, None = missing


class RuleLike(Protocol):
    name: str
    tier: int
    scanner: str
    metric: str
    comparison: str
    threshold: float
    threshold_max: float | None
    also_metric: str
    also_comparison: str
    also_threshold: float | None
    direction: str
    kind: str


@dataclass
class Match:
    tier: int
    direction: str
    kind: str
    rules: list[str] = field(default_factory=list)


def headline_metric(scanner: str, direction: str) -> str:
    h = HEADLINE[scanner]
    return h[direction] if isinstance(h, dict) else h


def compare(value: float | None, comparison: str, low: float, high: float | None = None) -> bool:
    """Missing (None) or non-finite values match nothing."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if comparison == "between":
        return high is not None and low <= value < high
    return {"gte": value >= low, "gt": value > low, "lte": value <= low, "lt": value < low,
            "eq": value == low}[comparison]


def _fmt(x: float | None) -> str:
    return "?" if x is None else f"{x:g}"


def _side(metric: str, comparison: str, low: float | None, high: float | None) -> str:
    if metric.endswith("tier") and comparison == "eq" and low is not None:
        return f"{metric} TIER_{low:g}"
    if comparison == "between":
        return f"{metric} {_fmt(low)}–<{_fmt(high)}"
    return f"{metric} {SYMBOL.get(comparison, comparison)} {_fmt(low)}"


def describe(rule: RuleLike) -> str:
    """e.g. "rsi < 20 and smart_money.accumulation ≥ 7", "unified tier TIER_1"."""
    metric = f"unified {rule.metric}" if rule.scanner == "unified" else rule.metric
    text = _side(metric, rule.comparison, rule.threshold, rule.threshold_max)
    if rule.also_metric:
        text += " and " + _side(rule.also_metric, rule.also_comparison, rule.also_threshold, None)
    return text


def _check_value(errors: dict, key: str, scanner: str, metric: str, comparison: str, value: float | None) -> None:
    low, high = METRICS[scanner][metric]
    if value is None or not math.isfinite(value):
        errors[key] = "A threshold is required."
    elif not low <= value <= high:
        errors[key] = f"{scanner}.{metric} lies between {low:g} and {high:g}."
    elif metric == "tier" and (comparison not in ("eq", "lte") or value != int(value)):
        errors[key] = "The unified tier is compared with = or ≤ a whole number 1–4 (1 = TIER_1)."


def validate_rule(rule: RuleLike) -> None:
    """Raise ValidationError naming each bad field (used by AlertRule.clean, i.e. admin)."""
    errors: dict[str, str] = {}
    if rule.tier not in (1, 2, 3):
        errors["tier"] = "Tier 1, 2 or 3."
    if rule.scanner not in METRICS:
        errors["scanner"] = f"One of {', '.join(METRICS)}."
    elif rule.metric not in METRICS[rule.scanner]:
        errors["metric"] = f"{rule.scanner} offers: {', '.join(METRICS[rule.scanner])}."
    elif rule.comparison not in (*SYMBOL, "between"):
        errors["comparison"] = "Pick a comparison."
    else:
        _check_value(errors, "threshold", rule.scanner, rule.metric, rule.comparison, rule.threshold)
        if rule.comparison == "between":
            if rule.threshold_max is None or rule.threshold is None or rule.threshold_max <= rule.threshold:
                errors["threshold_max"] = "'between' needs an upper bound above the threshold."
        elif rule.threshold_max is not None:
            errors["threshold_max"] = "Only 'between' takes an upper bound."
    if rule.also_metric or rule.also_comparison or rule.also_threshold is not None:
        scanner, _, metric = (rule.also_metric or "").partition(".")
        if metric not in METRICS.get(scanner, {}):
            errors["also_metric"] = "Write scanner.metric, e.g. smart_money.accumulation."
        elif rule.also_comparison not in SYMBOL:
            errors["also_comparison"] = "The second condition needs ≥, >, ≤, < or =."
        else:
            _check_value(errors, "also_threshold", scanner, metric, rule.also_comparison, rule.also_threshold)
    if rule.direction not in ("LONG", "SHORT"):
        errors["direction"] = "LONG or SHORT."
    if errors:
        raise ValidationError(errors)


def matches(rule: RuleLike, value_of: ValueOf) -> bool:
    if not compare(value_of(rule.scanner, rule.metric), rule.comparison, rule.threshold, rule.threshold_max):
        return False
    if not rule.also_metric:
        return True
    scanner, _, metric = rule.also_metric.partition(".")
    return compare(value_of(scanner, metric), rule.also_comparison, rule.also_threshold)


def evaluate(rules: Iterable[RuleLike], value_of: ValueOf) -> dict[str, Match]:
    """direction → the highest tier (1 is highest) that any rule matched, with that tier's matching
    rules in order. Rules of every scanner may be passed; each reads its own metric via value_of."""
    best: dict[str, Match] = {}
    for rule in rules:
        if not matches(rule, value_of):
            continue
        current = best.get(rule.direction)
        if current is None or rule.tier < current.tier:
            best[rule.direction] = Match(rule.tier, rule.direction, rule.kind, [rule.name])
        elif rule.tier == current.tier:
            current.rules.append(rule.name)
    return best


def tier_number(tier: str | None) -> int | None:
    """"TIER_2" → 2 (the unified tier as a number rules can compare)."""
    if tier and tier.startswith("TIER_") and tier[5:].isdigit():
        return int(tier[5:])
    return None


# The defaults of SCORING.md §7, seeded by migration 0003. A range "a–b" is stored as "≥ a": the
# highest matching tier wins anyway, so e.g. distribution 9–10 (no tier-1 rule) stays tier 2, as in
# signals.unified.alert_tier. `env` names the .env key whose value replaces the default threshold.
DEFAULT_RULES = [
    # name, tier, scanner, metric, comparison, threshold, env key, also (metric, comparison, threshold, env), direction, kind
    ("MSS ≥ 90", 1, "mss", "mss", "gte", 90, None, None, "LONG", "gem"),
    ("Accumulation ≥ 9", 1, "smart_money", "accumulation", "gte", 9, None, None, "LONG", "accumulating"),
    ("RSI < 20 and accumulation ≥ 7", 1, "rsi", "rsi", "lt", 20, None,
     ("smart_money.accumulation", "gte", 7, "ACCUMULATION_ALERT_THRESHOLD"), "LONG", "oversold"),
    ("Unified TIER_1", 1, "unified", "tier", "eq", 1, None, None, "LONG", "unified"),
    ("MSS 75–89", 2, "mss", "mss", "gte", 75, "MSS_ALERT_THRESHOLD", None, "LONG", "gem"),
    ("Accumulation 7–8", 2, "smart_money", "accumulation", "gte", 7, "ACCUMULATION_ALERT_THRESHOLD", None, "LONG",
     "accumulating"),
    ("Distribution 7–8", 2, "smart_money", "distribution", "gte", 7, "DISTRIBUTION_ALERT_THRESHOLD", None, "SHORT",
     "distributing"),
    ("RSI < 25", 2, "rsi", "rsi", "lt", 25, "RSI_OVERSOLD_THRESHOLD", None, "LONG", "oversold"),
    ("Unified TIER_2", 2, "unified", "tier", "eq", 2, None, None, "LONG", "unified"),
    ("MSS 60–74", 3, "mss", "mss", "gte", 60, None, None, "LONG", "gem"),
    ("Accumulation 5–6", 3, "smart_money", "accumulation", "gte", 5, None, None, "LONG", "accumulating"),
    ("RSI < 30", 3, "rsi", "rsi", "lt", 30, None, None, "LONG", "oversold"),
    ("Unified TIER_3", 3, "unified", "tier", "eq", 3, None, None, "LONG", "unified"),
]


def default_rule_rows(settings) -> list[dict]:
    """DEFAULT_RULES as AlertRule field values, thresholds overridden by .env where it has a key."""
    rows = []
    for name, tier, scanner, metric, comparison, threshold, key, also, direction, kind in DEFAULT_RULES:
        row = {"name": name, "tier": tier, "scanner": scanner, "metric": metric, "comparison": comparison,
               "threshold": float(getattr(settings, key, threshold) if key else threshold), "direction": direction,
               "kind": kind, "enabled": True}
        if also:
            also_metric, also_cmp, also_value, also_key = also
            row.update(also_metric=also_metric, also_comparison=also_cmp,
                       also_threshold=float(getattr(settings, also_key, also_value) if also_key else also_value))
        rows.append(row)
    return rows
