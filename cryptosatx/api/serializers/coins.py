"""One coin: what it is, its latest unified score, each scanner's latest result, how fresh the data
are, and its recent unified scores."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..constants import TIERS
from ..fields import BlankAsNullCharField, BlankAsNullChoiceField
from .common import ScoresField
from .ranking import UnifiedScoreSerializer


@extend_schema_field({
    "type": "object",
    "additionalProperties": {"type": "object", "properties": {
        "scores": {"type": "object", "additionalProperties": True},
        "as_of": {"type": "string", "format": "date-time"},
        "run": {"type": "integer", "nullable": True}}},
    "example": {"mss": {"scores": {"mss": 88.0, "coverage": 0.9}, "as_of": "2025-11-15T08:00:00+00:00", "run": 12}},
})
class ComponentsField(serializers.JSONField):
    """{scanner: {scores, as_of, run}}: the scanner results the unified score was computed from."""


class CoinUnifiedSerializer(UnifiedScoreSerializer):
    missing = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=(
        "Components that were not measured (their weight went to the others)."))
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=(
        "How the score was reached, one line per step."))
    components = ComponentsField(read_only=True)
    run_id = serializers.IntegerField(allow_null=True, read_only=True, help_text="The scan that computed it.")


class ScannerResultSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True, help_text="The scanner's main score; null when not measurable.")
    scores = ScoresField()
    signal = BlankAsNullCharField(help_text="e.g. oversold, overbought, accumulating, gem, trending, spike.")
    direction = BlankAsNullCharField(help_text="LONG or SHORT when the signal has one.")
    reasons = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField(), help_text="Inputs that were not available.")
    data_as_of = serializers.DateTimeField(allow_null=True, help_text="Close time of the newest candle used.")
    run_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class SourceFreshnessSerializer(serializers.Serializer):
    last_success_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True, help_text="Seconds since last_success_at.")
    simulated = serializers.BooleanField(help_text="The last answer came from the market simulator.")
    last_error = BlankAsNullCharField()
    last_error_at = serializers.DateTimeField(allow_null=True)
    banned_until = serializers.DateTimeField(allow_null=True, help_text="The service banned our IP until then.")


class FreshnessSerializer(serializers.Serializer):
    sources = serializers.DictField(child=SourceFreshnessSerializer(), help_text=(
        "Per outside service (binance_spot, binance_futures, coingecko, lunarcrush)."))
    inputs = serializers.DictField(child=serializers.DateTimeField(allow_null=True), help_text=(
        "Per input of the latest scanner results: the newest time its data were measured; "
        "null when it was missing."))


class HistoryPointSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    unified_score = serializers.FloatField(allow_null=True)
    tier = BlankAsNullChoiceField(choices=TIERS)


class CoinDetailSerializer(serializers.Serializer):
    symbol = serializers.CharField(source="coin.symbol")
    base_asset = serializers.CharField(source="coin.base_asset")
    quote_asset = serializers.CharField(source="coin.quote_asset")
    has_spot = serializers.BooleanField(source="coin.has_spot")
    has_perpetual = serializers.BooleanField(source="coin.has_perpetual")
    listed_at = serializers.DateTimeField(source="coin.listed_at", allow_null=True, help_text=(
        "Open time of the first candle ever traded."))
    first_seen_at = serializers.DateTimeField(source="coin.first_seen_at")
    active = serializers.BooleanField(source="coin.active")
    unified = CoinUnifiedSerializer(allow_null=True, help_text="The latest unified score; null before the first.")
    scanners = serializers.DictField(child=ScannerResultSerializer(), help_text=(
        "Each scanner's latest result for the coin: rsi, smart_money, mss, social, whale, volume_spike "
        "(a scanner that never scored the coin is absent)."))
    freshness = FreshnessSerializer()
    history = HistoryPointSerializer(many=True, help_text="The last 48 unified scores, oldest first.")


