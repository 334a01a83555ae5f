"""The unified score (SCORING.md §6), cross-validation, tiers, and alert tiers (§7).

Each component present is normalised to 0–100 and weighted; missing components are dropped and
the weights of the rest renormalise. ``coverage`` is the share of the configured weight that
was present, and scales the cross-validation confidence. Tiers are read from the score rounded
to 0.1, the number the user sees, so a displayed 85.0 is always TIER_1 material.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from scanners.snapshot import ResultMixin, fmt, round_score

# component → factor that brings it to 0–100
SCALE = {"accumulation": 10, "mss": 1, "technical": 10, "social_momentum": 1, "whale": 10, "volume_spike": 10}
DEFAULT_WEIGHTS = {"accumulation": 0.30, "mss": 0.25, "technical": 0.15, "social_momentum": 0.15,
                   "whale": 0.10, "volume_spike": 0.05}
TIER_THRESHOLDS = (("TIER_1", 85.0), ("TIER_2", 70.0), ("TIER_3", 55.0))
TIER_LABELS = {"TIER_1": "MUST BUY", "TIER_2": "STRONG BUY", "TIER_3": "WATCHLIST", "TIER_4": "NEUTRAL"}


@dataclass(frozen=True)
class ComponentScores:
    """The latest value of each scanner for one coin; None = missing. ``rsi`` is not weighted,
    it only votes in cross-validation and alert rules."""

    accumulation: float | None = None  # 0–10
    mss: float | None = None  # 0–100
    technical: float | None = None  # 0–10
    rsi: float | None = None  # 0–100
    social_momentum: float | None = None  # 0–100
    whale: float | None = None  # 0–10
    volume_spike: float | None = None  # 0–10

    def __post_init__(self) -> None:
        for f in fields(self):
            value, top = getattr(self, f.name), 100 if f.name == "rsi" else 100 / SCALE[f.name]
            if value is not None and not 0 <= value <= top:  # also rejects NaN
                raise ValueError(f"{f.name} must be within 0–{fmt(top)}, got {value!r}")


@dataclass(frozen=True)
class VoteThresholds:
    accumulation: float = 7  # ≥
    mss: float = 75  # ≥
    rsi: float = 30  # <
    social_momentum: float = 70  # ≥


@dataclass
class ComponentBreakdown:
    raw: float | None
    normalised: float | None  # 0–100
    weight: float  # configured
    effective_weight: float | None  # after renormalisation over the components present
    points: float | None  # contribution to the unified score (they sum to it, before rounding)


@dataclass
class CrossValidation(ResultMixin):
    votes: dict[str, bool | None]  # scanner → voted BUY; None when its input is missing
    confirmations: int
    agreeing_scanners: list[str]
    action: str  # STRONG_BUY | BUY | WATCH
    base_confidence: int  # 85 | 75 | 60
    confidence: float  # base × coverage


@dataclass
class UnifiedResult(ResultMixin):
    unified_score: float | None
    tier: str | None
    label: str | None
    tier_demoted: bool
    coverage: float
    breakdown: dict[str, ComponentBreakdown]
    cross_validation: CrossValidation
    missing: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class AlertTierResult(ResultMixin):
    tier: int | None  # 1, 2, 3 or None
    rules: list[str]  # the rules of that tier that matched


@dataclass(frozen=True)
class AlertThresholds:
    """§7 rules. A range "a–b" is read as ≥ a, since the highest matching tier wins anyway;
    so distribution ≥ 7 (9–10 included) is TIER 2, there being no distribution rule in TIER 1."""

    t1_mss: float = 90
    t1_accumulation: float = 9
    t1_rsi: float = 20  # RSI < this and accumulation ≥ t1_rsi_accumulation
    t1_rsi_accumulation: float = 7
    t2_mss: float = 75
    t2_accumulation: float = 7
    t2_distribution: float = 7
    t2_rsi: float = 25
    t3_mss: float = 60
    t3_accumulation: float = 5
    t3_rsi: float = 30


def _weights(weights: dict[str, float] | None) -> dict[str, float]:
    """Configured weights; a component left out weighs 0, an unknown name is an error."""
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(w) - set(SCALE)
    if unknown or any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise ValueError(f"weights must be non-negative, sum > 0, over {sorted(SCALE)}: {w}")
    return {name: float(w.get(name, 0.0)) for name in SCALE}


def classify_tier(score: float, thresholds: tuple[tuple[str, float], ...] = TIER_THRESHOLDS) -> str:
    """The first tier whose threshold the score reaches (≥), else TIER_4."""
    return next((tier for tier, floor in thresholds if score >= floor), "TIER_4")


def cross_validate(c: ComponentScores, coverage: float, votes: VoteThresholds = VoteThresholds()) -> CrossValidation:
    """BUY votes: accumulation ≥ 7, MSS ≥ 75, RSI < 30, social momentum ≥ 70."""
    ballot: dict[str, bool | None] = {
        "smart_money": None if c.accumulation is None else c.accumulation >= votes.accumulation,
        "mss": None if c.mss is None else c.mss >= votes.mss,
        "technical": None if c.rsi is None else c.rsi < votes.rsi,
        "social": None if c.social_momentum is None else c.social_momentum >= votes.social_momentum,
    }
    agreeing = [name for name, v in ballot.items() if v]
    n = len(agreeing)
    action, base = ("STRONG_BUY", 85) if n >= 3 else ("BUY", 75) if n == 2 else ("WATCH", 60)
    return CrossValidation(ballot, n, agreeing, action, base, round_score(base * coverage))


def unified_score(
    c: ComponentScores,
    weights: dict[str, float] | None = None,
    *,
    tier_thresholds: tuple[tuple[str, float], ...] = TIER_THRESHOLDS,
    min_confirmations: int = 2,
    votes: VoteThresholds = VoteThresholds(),
) -> UnifiedResult:
    """Unified 0–100 score, tier (TIER_1 needs ``min_confirmations`` BUY votes, else TIER_2),
    coverage, per-component breakdown and cross-validation."""
    w = _weights(weights)
    present = {name: getattr(c, name) for name in SCALE if getattr(c, name) is not None}
    missing = [name for name in SCALE if name not in present]
    used = sum(w[name] for name in present)
    coverage = round(used / sum(w.values()), 4)
    breakdown: dict[str, ComponentBreakdown] = {}
    reasons: list[str] = []
    total = 0.0
    for name in SCALE:
        raw = present.get(name)
        if raw is None or used <= 0:
            breakdown[name] = ComponentBreakdown(raw, None if raw is None else raw * SCALE[name], w[name], None, None)
            continue
        norm, eff = raw * SCALE[name], w[name] / used
        total += norm * eff
        breakdown[name] = ComponentBreakdown(raw, norm, w[name], round(eff, 4), round(norm * eff, 2))
        reasons.append(f"{name} {fmt(raw)} → {fmt(norm, 1)}/100 × {fmt(eff, 3)} = {fmt(norm * eff)}")
    cv = cross_validate(c, coverage, votes)
    if used <= 0:
        return UnifiedResult(None, None, None, False, coverage, breakdown, cv, missing, reasons)
    score = round_score(total)
    tier, demoted = classify_tier(score, tier_thresholds), False
    if tier == "TIER_1" and cv.confirmations < min_confirmations:
        tier, demoted = "TIER_2", True
        reasons.append(f"TIER_1 score {fmt(score, 1)} but {cv.confirmations} agreeing scanner(s) "
                       f"< {min_confirmations} → TIER_2")
    if coverage < 1:
        reasons.append(f"missing {', '.join(missing)}: weights renormalised over {fmt(coverage * 100, 1)}%")
    return UnifiedResult(score, tier, TIER_LABELS[tier], demoted, coverage, breakdown, cv, missing, reasons)


def alert_tier(
    mss: float | None = None,
    accumulation: float | None = None,
    distribution: float | None = None,
    rsi: float | None = None,
    unified_tier: str | None = None,
    thresholds: AlertThresholds = AlertThresholds(),
) -> AlertTierResult:
    """§7: the highest alert tier (1, 2, 3) any rule matches, with that tier's matching rules;
    ``unified_tier`` is the tier after the TIER_1 confirmation rule. Missing values match nothing."""
    t = thresholds

    def ge(v: float | None, floor: float) -> bool:
        return v is not None and v >= floor

    def lt(v: float | None, ceiling: float) -> bool:
        return v is not None and v < ceiling

    tiers = {
        1: [(f"MSS ≥ {fmt(t.t1_mss)}", ge(mss, t.t1_mss)),
            (f"accumulation ≥ {fmt(t.t1_accumulation)}", ge(accumulation, t.t1_accumulation)),
            (f"RSI < {fmt(t.t1_rsi)} and accumulation ≥ {fmt(t.t1_rsi_accumulation)}",
             lt(rsi, t.t1_rsi) and ge(accumulation, t.t1_rsi_accumulation)),
            ("unified TIER_1", unified_tier == "TIER_1")],
        2: [(f"MSS ≥ {fmt(t.t2_mss)}", ge(mss, t.t2_mss)),
            (f"accumulation ≥ {fmt(t.t2_accumulation)}", ge(accumulation, t.t2_accumulation)),
            (f"distribution ≥ {fmt(t.t2_distribution)}", ge(distribution, t.t2_distribution)),
            (f"RSI < {fmt(t.t2_rsi)}", lt(rsi, t.t2_rsi)),
            ("unified TIER_2", unified_tier == "TIER_2")],
        3: [(f"MSS ≥ {fmt(t.t3_mss)}", ge(mss, t.t3_mss)),
            (f"accumulation ≥ {fmt(t.t3_accumulation)}", ge(accumulation, t.t3_accumulation)),
            (f"RSI < {fmt(t.t3_rsi)}", lt(rsi, t.t3_rsi)),
            ("unified TIER_3", unified_tier == "TIER_3")],
    }
    for tier, rules in tiers.items():
        matched = [name for name, ok in rules if ok]
        if matched:
            return AlertTierResult(tier, matched)
    return AlertTierResult(None, [])
