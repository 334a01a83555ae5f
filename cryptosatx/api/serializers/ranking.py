"""The unified ranking's rows (PLAN.md §3.3 as DESIGN.md "Honesty" amends it)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from signals.models import UnifiedScore

from ..constants import ACTIONS, RISK_LEVELS, TIERS
from ..fields import BlankAsNullCharField, BlankAsNullChoiceField


class BreakdownEntrySerializer(serializers.Serializer):
    raw = serializers.FloatField(allow_null=True, help_text=(
        "The scanner's value on its own scale (accumulation, technical, whale, volume_spike 0–10; "
        "mss, social_momentum 0–100); null when the component was missing."))
    normalised = serializers.FloatField(allow_null=True, help_text="The value on 0–100.")
    weight = serializers.FloatField(help_text="The configured weight.")
    effective_weight = serializers.FloatField(allow_null=True, help_text=(
        "The weight after renormalising over the components present; null when missing."))
    points = serializers.FloatField(allow_null=True, help_text=(
        "normalised × effective_weight: the component's share of the unified score."))


def _component(name: str) -> BreakdownEntrySerializer:
    return BreakdownEntrySerializer(read_only=True, allow_null=True, help_text=f"The {name} component.")


class BreakdownSerializer(serializers.Serializer):
    """Each weighted component (SCORING.md §6); the points of those present sum to the score."""

    accumulation = _component("smart-money accumulation (smart_money scanner)")
    mss = _component("MSS (mss scanner)")
    technical = _component("technical (rsi scanner)")
    social_momentum = _component("social momentum (social scanner)")
    whale = _component("whale activity (whale scanner)")
    volume_spike = _component("volume spike (volume_spike scanner)")


class HistoricalPerformanceSerializer(serializers.Serializer):
    """The measured record of a tier, once outcome tracking has measured one."""

    n = serializers.IntegerField(help_text="Signals of this tier with a measured outcome.")
    win_rate = serializers.FloatField(help_text="Share of them that were wins (SCORING.md §8), 0–1.")
    median_return_pct = serializers.FloatField(help_text="Median return of them, in percent.")


class UnifiedScoreSerializer(serializers.Serializer):
    """One coin's latest unified score. `rank` must be set on the instance by the caller."""

    rank = serializers.IntegerField(read_only=True, help_text=(
        "Position in the list: in the ranking, within the filtered and ordered rows (offset counted); "
        "on a coin, in the unfiltered ranking."))
    symbol = serializers.CharField(source="coin.symbol", read_only=True)
    unified_score = serializers.FloatField(allow_null=True, read_only=True, help_text=(
        "0–100; null when no component was measured."))
    tier = BlankAsNullChoiceField(choices=TIERS, help_text="TIER_1 ≥ 85 (needs enough agreeing scanners), "
                                                          "TIER_2 ≥ 70, TIER_3 ≥ 55, else TIER_4; null without a score.")
    recommendation = BlankAsNullCharField(source="label", help_text=(
        "The tier's label: MUST BUY, STRONG BUY, WATCHLIST or NEUTRAL. Not financial advice."))
    tier_demoted = serializers.BooleanField(read_only=True, help_text=(
        "The score reached TIER_1 but too few scanners agreed, so the coin is TIER_2."))
    confidence = serializers.FloatField(read_only=True, help_text=(
        "Cross-validation confidence (85 / 75 / 60 for 3+ / 2 / fewer confirmations) × coverage."))
    breakdown = BreakdownSerializer(read_only=True)
    confirmations = serializers.IntegerField(read_only=True, help_text="Scanners voting BUY.")
    agreeing_scanners = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=(
        "The voters that said BUY: smart_money, mss, technical, social."))
    coverage = serializers.FloatField(read_only=True, help_text="Share of the configured weight that was measured, 0–1.")
    risk_level = BlankAsNullChoiceField(choices=RISK_LEVELS)
    historical_performance = serializers.SerializerMethodField(help_text=(
        "The measured record of the alert tier this tier raises: {n, win_rate, median_return_pct} of its "
        "evaluated 24h outcomes over 90 days; null below 10 outcomes and for TIER_4. CryptoSatX shows no "
        "expected return it has not measured."))
    action = BlankAsNullChoiceField(choices=ACTIONS, help_text="STRONG_BUY (3+ confirmations), BUY (2), WATCH.")
    computed_at = serializers.DateTimeField(read_only=True)
    data_as_of = serializers.DateTimeField(allow_null=True, read_only=True, help_text=(
        "Close time of the newest candle the score used."))

    @extend_schema_field(HistoricalPerformanceSerializer(allow_null=True))
    def get_historical_performance(self, score: UnifiedScore) -> dict | None:
        # The measured record of the alert tier this unified tier raises (TIER_1 → tier 1 …), from the same
        # function as the alerts; null below 10 outcomes, and for TIER_4 (no alert). One read per tier a
        # response holds, whatever the number of rows.
        tier = {"TIER_1": 1, "TIER_2": 2, "TIER_3": 3}.get(score.tier or "")
        if tier is None:
            return None
        cache = self.__dict__.setdefault("_track_records", {})
        if tier not in cache:
            from signals.messages import tier_track_record

            record = tier_track_record(tier)
            cache[tier] = None if record is None else {
                "n": record.n, "win_rate": round(record.win_rate / 100, 4),
                "median_return_pct": record.median_pnl_pct}
        return cache[tier]


class RankingSerializer(serializers.Serializer):
    timestamp = serializers.DateTimeField(allow_null=True, help_text=(
        "When the newest unified score was computed; null when nothing has been scored."))
    total_scanned = serializers.IntegerField(help_text="Coins with a latest unified score, before filters.")
    count = serializers.IntegerField(help_text="Rows that match the filters.")
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = UnifiedScoreSerializer(many=True)
