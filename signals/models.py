"""Scoring configuration (edited in admin, defaults from .env) and the unified score per coin."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from marketdata.models import Coin

WEIGHT_FIELDS = ("weight_accumulation", "weight_mss", "weight_technical", "weight_social_momentum",
                 "weight_whale", "weight_volume_spike")


# Module-level callables (migrations cannot serialise lambdas): defaults come from .env.
def default_min_confirmations() -> int:
    return settings.MIN_CONFIRMATIONS_TIER1


def default_accumulation() -> float:
    return settings.ACCUMULATION_ALERT_THRESHOLD


def default_distribution() -> float:
    return settings.DISTRIBUTION_ALERT_THRESHOLD


def default_mss() -> float:
    return settings.MSS_ALERT_THRESHOLD


def default_oversold() -> float:
    return settings.RSI_OVERSOLD_THRESHOLD


def default_overbought() -> float:
    return settings.RSI_OVERBOUGHT_THRESHOLD


class ScoringConfig(models.Model):
    """One row: the weights and thresholds every scan uses. Created from .env on first use."""

    weight_accumulation = models.FloatField(default=0.30)
    weight_mss = models.FloatField(default=0.25)
    weight_technical = models.FloatField(default=0.15)
    weight_social_momentum = models.FloatField(default=0.15)
    weight_whale = models.FloatField(default=0.10)
    weight_volume_spike = models.FloatField(default=0.05)
    tier1_min = models.FloatField(default=85, help_text="Unified score for TIER_1 (MUST BUY).")
    tier2_min = models.FloatField(default=70, help_text="Unified score for TIER_2 (STRONG BUY).")
    tier3_min = models.FloatField(default=55, help_text="Unified score for TIER_3 (WATCHLIST).")
    min_confirmations_tier1 = models.PositiveSmallIntegerField(default=default_min_confirmations)
    accumulation_threshold = models.FloatField(default=default_accumulation)
    distribution_threshold = models.FloatField(default=default_distribution)
    mss_threshold = models.FloatField(default=default_mss)
    rsi_oversold = models.FloatField(default=default_oversold)
    rsi_overbought = models.FloatField(default=default_overbought)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scoring configuration"
        verbose_name_plural = "scoring configuration"

    def __str__(self) -> str:
        return "Scoring configuration"

    def clean(self) -> None:
        errors = {}
        for name in WEIGHT_FIELDS:
            if getattr(self, name) is None or getattr(self, name) < 0:
                errors[name] = "A weight must be 0 or more."
        if not errors and sum(getattr(self, n) for n in WEIGHT_FIELDS) <= 0:
            errors["weight_accumulation"] = "At least one weight must be above 0."
        if not 0 < self.tier3_min < self.tier2_min < self.tier1_min <= 100:
            errors["tier1_min"] = "Tier thresholds must rise: 0 < tier 3 < tier 2 < tier 1 ≤ 100."
        for name, top in (("accumulation_threshold", 10), ("distribution_threshold", 10), ("mss_threshold", 100),
                          ("rsi_oversold", 100), ("rsi_overbought", 100)):
            if not 0 <= getattr(self, name) <= top:
                errors[name] = f"Must lie between 0 and {top}."
        if self.rsi_oversold >= self.rsi_overbought:
            errors["rsi_oversold"] = "Oversold must be below overbought."
        if not 1 <= self.min_confirmations_tier1 <= 4:
            errors["min_confirmations_tier1"] = "Between 1 and 4 (there are four voting scanners)."
        if errors:
            raise ValidationError(errors)

    @classmethod
    def current(cls) -> "ScoringConfig":
        config = cls.objects.order_by("pk").first()
        return config or cls.objects.create()

    @property
    def weights(self) -> dict[str, float]:
        return {name.removeprefix("weight_"): getattr(self, name) for name in WEIGHT_FIELDS}

    @property
    def tier_thresholds(self) -> tuple[tuple[str, float], ...]:
        return (("TIER_1", self.tier1_min), ("TIER_2", self.tier2_min), ("TIER_3", self.tier3_min))


class UnifiedScore(models.Model):
    """A coin's unified score from the latest result of each scanner (SCORING.md §6)."""

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="unified_scores")
    run = models.ForeignKey("scanners.ScanRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computed_at = models.DateTimeField(db_index=True)
    data_as_of = models.DateTimeField(null=True, blank=True, help_text="Close time of the newest candle used.")
    is_latest = models.BooleanField(default=True, help_text="The newest score of this coin.")
    unified_score = models.FloatField(null=True, blank=True)
    tier = models.CharField(max_length=8, blank=True)
    label = models.CharField(max_length=16, blank=True)
    tier_demoted = models.BooleanField(default=False)
    action = models.CharField(max_length=12, blank=True)
    confidence = models.FloatField(default=0)
    coverage = models.FloatField(default=0)
    confirmations = models.PositiveSmallIntegerField(default=0)
    agreeing_scanners = models.JSONField(default=list, blank=True)
    breakdown = models.JSONField(default=dict, blank=True)
    components = models.JSONField(default=dict, blank=True, help_text="Each scanner's raw value (None = missing).")
    missing = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["is_latest", "-unified_score"]), models.Index(fields=["coin", "-computed_at"])]
        constraints = [models.UniqueConstraint(fields=["coin"], condition=models.Q(is_latest=True),
                                               name="unifiedscore_one_latest_per_coin")]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.unified_score} {self.tier}"
