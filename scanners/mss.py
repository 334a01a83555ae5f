"""MSS — Multimodal Signal Score for new listings, 0–100 (SCORING.md §3).

Three phases are scored in points and normalised to 0–100, then combined with weights
0.35 / 0.30 / 0.35.

Missing inputs (the choices SCORING.md leaves open):
- A phase whose inputs are all missing is left out and the phase weights renormalise.
- A phase with *some* inputs missing is normalised by the phase's full maximum: a missing input
  earns nothing (as in the smart-money and whale scores), so a partial phase is a lower bound.
  Normalising by the inputs present instead would let one input carry a whole phase (a listing
  known only by a tiny FDV would score 100). ``coverage`` (share of the full MSS backed by inputs
  present: Σ phase weight × present max ÷ full max) says how much of the score is measured.
- The accumulation bonus is an input of the validation phase (max 5) when given, but it alone
  does not make a validation phase: a spot-only listing has no futures inputs and so no
  validation phase, whatever its accumulation score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from scanners.snapshot import CoinSnapshot, ResultMixin, Tiers, fmt, pts, round_score

WEIGHTS = {"discovery": 0.35, "social": 0.30, "validation": 0.35}


class Band(NamedTuple):
    """A range rule, both ends inclusive: lo ≤ value ≤ hi → points; above hi → above;
    below lo → the ``below`` tiers (which must have a default)."""

    lo: float
    hi: float
    points: float
    above: float
    below: Tiers

    def score(self, value: float, show: Callable[[float], str] = fmt) -> tuple[float, str]:
        if self.lo <= value <= self.hi:
            return self.points, f"in {show(self.lo)}–{show(self.hi)}"
        if value > self.hi:
            return self.above, f"> {show(self.hi)}"
        return self.below.score(value, show)  # type: ignore[return-value]

    @property
    def max_points(self) -> float:
        return max(self.points, self.above, self.below.max_points)


def _millions(x: float) -> str:
    return f"${fmt(x / 1e6)}M"


def _fmt4(x: float) -> str:  # funding is quoted to the basis point and below
    return fmt(x, 4)


# (snapshot field, label, unit, rule, formatter) per phase, in SCORING.md order
PHASE_RULES: dict[str, tuple[tuple[str, str, str, Tiers | Band, Callable[[float], str]], ...]] = {
    "discovery": (
        ("fdv", "FDV", "", Tiers("≤", ((5e6, 15), (10e6, 13), (25e6, 10), (50e6, 6)), 2), _millions),
        ("age_hours", "age", "h", Tiers("≤", ((24, 12), (48, 10), (72, 7), (168, 4)), 1), fmt),
        ("circulating_share_pct", "circulating share", "%", Tiers("≤", ((20, 8), (40, 6), (60, 4)), 2), fmt),
    ),
    "social": (
        ("alt_rank", "AltRank", "", Tiers("≤", ((50, 10), (100, 8), (200, 5), (500, 3)), 1), fmt),
        ("galaxy_score", "Galaxy Score", "", Tiers("≥", ((75, 8), (65, 6), (50, 4)), 1), fmt),
        ("sentiment", "sentiment", "", Tiers("≥", ((70, 6), (60, 4.5), (50, 3)), 1), fmt),
        ("volume_change_24h_pct", "24h volume change", "%",
         Tiers("≥", ((200, 6), (100, 5), (50, 3.5), (25, 2)), 0.5), fmt),
    ),
    "validation": (
        ("oi_change_24h_pct", "OI change 24h", "%",
         Tiers("≥", ((200, 12), (100, 10), (50, 7), (25, 4), (0, 1)), 0), fmt),
        ("funding_pct", "funding", "%", Band(0.01, 0.04, 8, 4, Tiers(">", ((0, 5),), 1)), _fmt4),
        ("top_trader_position_ratio", "top-trader long/short", "",
         Band(1.5, 2.5, 10, 5, Tiers("≥", ((1.2, 7), (1.0, 4)), 1)), fmt),
    ),
}
ACCUMULATION_BONUS = Tiers("≥", ((7, 5),), 0)


@dataclass
class PhaseScore:
    points: float
    max_points: float  # maximum points of the inputs present (how much of the phase is measurable)
    full_max: float  # maximum points with every input present (35 / 30 / 35): the normaliser
    normalised: float  # 0–100, rounded to 0.1
    weight: float  # configured phase weight
    inputs: list[str] = field(default_factory=list)  # inputs present


@dataclass
class MssResult(ResultMixin):
    score: float | None  # 0–100, rounded to 0.1; None when no phase could be scored
    direction: str | None  # "LONG" when score ≥ alert threshold
    phases: dict[str, PhaseScore] = field(default_factory=dict)
    phases_scored: list[str] = field(default_factory=list)
    coverage: float = 0.0  # share of the full MSS (weights × input maxima) backed by inputs
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _score_phase(name: str, snap: CoinSnapshot, accumulation: float | None,
                 reasons: list[str], missing: list[str]) -> tuple[float, float, float, list[str]]:
    """(points, max points present, full max, inputs present) of one phase."""
    points = present_max = full_max = 0.0
    present: list[str] = []
    for attr, label, unit, rule, show in PHASE_RULES[name]:
        full_max += rule.max_points
        value = getattr(snap, attr)
        if value is None:
            missing.append(attr)
            continue
        got, why = rule.score(value, show)  # type: ignore[misc]
        points += got
        present_max += rule.max_points
        present.append(attr)
        reasons.append(f"{name}: {label} {show(value)}{unit} {why}{unit} → {pts(got)}")
    if name == "validation":
        full_max += ACCUMULATION_BONUS.max_points
        if accumulation is None:
            missing.append("accumulation")
        elif present:
            got, why = ACCUMULATION_BONUS.score(accumulation)  # type: ignore[misc]
            points += got
            present_max += ACCUMULATION_BONUS.max_points
            present.append("accumulation")
            reasons.append(f"validation: accumulation {fmt(accumulation)} {why} → {pts(got)}")
        else:
            reasons.append(f"validation: accumulation {fmt(accumulation)} unused, no futures inputs")
    return points, present_max, full_max, present


def score_mss(
    snap: CoinSnapshot,
    accumulation: float | None = None,
    *,
    weights: dict[str, float] | None = None,
    alert_threshold: float = 75,
) -> MssResult:
    """MSS of one listing; ``accumulation`` is the smart-money accumulation score (0–10) for
    the validation bonus, None when unknown."""
    weights = {**WEIGHTS, **(weights or {})}
    if set(weights) != set(WEIGHTS) or any(w < 0 for w in weights.values()):
        raise ValueError(f"MSS weights must be non-negative, for phases {sorted(WEIGHTS)}: {weights}")
    reasons: list[str] = []
    missing: list[str] = []
    phases: dict[str, PhaseScore] = {}
    covered = 0.0
    for name in PHASE_RULES:
        points, present_max, full_max, present = _score_phase(name, snap, accumulation, reasons, missing)
        covered += weights[name] * present_max / full_max
        if present_max > 0:
            norm = 100 * points / full_max
            phases[name] = PhaseScore(points, present_max, full_max, round_score(norm), weights[name], present)
            reasons.append(f"{name}: {fmt(points)}/{fmt(full_max)} points → {fmt(norm, 1)}/100"
                           + (f" ({fmt(present_max)} of them measurable)" if present_max < full_max else ""))
    total_weight = sum(weights[p] for p in PHASE_RULES)
    coverage = round(covered / total_weight, 4)
    scored = [p for p in PHASE_RULES if p in phases]
    used = sum(weights[p] for p in scored)
    if not scored or used <= 0:
        return MssResult(None, None, phases, scored, coverage, reasons, missing)
    # Combine the unrounded phase values; only the final score is rounded.
    raw = sum(weights[p] * 100 * phases[p].points / phases[p].full_max for p in scored) / used
    score = round_score(raw)
    direction = "LONG" if score >= alert_threshold else None
    return MssResult(score, direction, phases, scored, coverage, reasons, missing)
