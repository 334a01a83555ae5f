"""GET /api/analytics/calibration and /api/analytics/thresholds: parameters and responses."""
from __future__ import annotations

from rest_framework import serializers

from performance.optimizer import DEFAULT_DAYS

from ..fields import BoundedIntegerField
from .analytics import HORIZON_NAMES, days_field, horizon_field


def _ci(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), allow_null=True, min_length=2, max_length=2,
                                 help_text=help_text)


class CalibrationParams(serializers.Serializer):
    days = days_field(90)
    horizon = horizon_field()


class CalibrationBucketSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Unified-score range [low, high); the last includes 100.")
    low = serializers.FloatField()
    high = serializers.FloatField()
    n = serializers.IntegerField(help_text="Evaluated outcomes of signals in the bucket.")
    wins = serializers.IntegerField()
    win_probability = serializers.FloatField(allow_null=True, help_text="wins ÷ n, 0–1; null when n = 0.")
    win_probability_ci = _ci("95 % Wilson interval [low, high]; null when n = 0.")
    mean_unified_score = serializers.FloatField(allow_null=True, help_text="Mean unified score; null when n = 0.")


class CalibrationSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    horizon = serializers.ChoiceField(choices=HORIZON_NAMES)
    since = serializers.DateTimeField(help_text="Signals whose candle closed at or after this time.")
    generated_at = serializers.DateTimeField()
    buckets = CalibrationBucketSerializer(many=True, help_text="0–55, 55–70, 70–85, 85–100 by the signal's "
                                                               "unified score.")
    outside_buckets = serializers.IntegerField(help_text="Evaluated outcomes whose unified score is outside 0–100.")


class ThresholdParams(serializers.Serializer):
    days = BoundedIntegerField(min_value=1, max_value=365, default=DEFAULT_DAYS, required=False,
                               message="Must be an integer between 1 and 365.",
                               help_text=f"Signals whose candle closed in the last this many days, 1–365 "
                                         f"(default {DEFAULT_DAYS}).")


class SampleSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    wins = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True, help_text="wins ÷ n, 0–1; null when n = 0.")
    win_rate_ci = _ci("95 % Wilson interval [low, high] of the win rate; null when n = 0.")
    expectancy = serializers.FloatField(allow_null=True, help_text="Mean trade return, percent; null when n = 0.")


class FoldSerializer(serializers.Serializer):
    fit_n = serializers.IntegerField(help_text="Outcomes in the fit window (all older blocks).")
    test_n = serializers.IntegerField(help_text="Outcomes in the test block (before the threshold).")
    threshold = serializers.FloatField(allow_null=True, help_text="Chosen on the fit window; null when no "
                                                                  "candidate had 10 in-sample outcomes.")
    in_sample = SampleSerializer()
    out_of_sample = SampleSerializer()


class RecommendationSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The ScoringConfig field.")
    current = serializers.FloatField()
    suggested = serializers.FloatField()


class ScannerThresholdSerializer(serializers.Serializer):
    scanner = serializers.CharField()
    direction = serializers.CharField()
    field = serializers.CharField(help_text="The ScoringConfig field the threshold lives in.")
    comparison = serializers.CharField(help_text="How a signal's score passes: '>=' or '<'.")
    current_threshold = serializers.FloatField()
    suggested_threshold = serializers.FloatField(allow_null=True, help_text=(
        "The best candidate on the whole window (what the next fold would use); null if none qualifies."))
    candidates = serializers.ListField(child=serializers.FloatField())
    outcomes = serializers.IntegerField(help_text="Evaluated 24h outcomes of the scanner's signals in the window.")
    in_sample = SampleSerializer(help_text="The suggested threshold over the whole window (fitted on it).")
    out_of_sample = SampleSerializer(help_text="Walk-forward: each test block under the threshold fitted on the "
                                               "blocks before it, pooled.")
    current_in_sample = SampleSerializer(help_text="The current threshold over the whole window, for comparison.")
    folds = FoldSerializer(many=True)
    recommendation = RecommendationSerializer(allow_null=True, help_text=(
        "Null unless there are ≥ 30 out-of-sample outcomes, the suggestion differs from the current threshold "
        "and its out-of-sample expectancy is positive; see recommendation_note."))
    recommendation_note = serializers.CharField(allow_null=True, help_text="Why recommendation is null.")


class ThresholdScannersSerializer(serializers.Serializer):
    smart_money = ScannerThresholdSerializer()
    mss = ScannerThresholdSerializer()
    rsi = ScannerThresholdSerializer()


class ThresholdsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    horizon = serializers.CharField()
    since = serializers.DateTimeField()
    generated_at = serializers.DateTimeField()
    folds = serializers.IntegerField(help_text="Consecutive blocks the outcomes are cut into (the first is only fit).")
    min_in_sample = serializers.IntegerField()
    min_out_of_sample = serializers.IntegerField()
    scanners = ThresholdScannersSerializer()
