"""GET /api/reports/monthly: parameters and response (PLAN.md §4.3; docs/performance-tracking.md)."""
from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from performance.reports import BEST_MIN_N, ReportError, parse_month

from .analytics import HORIZON_NAMES, StatsSerializer
from .common import FreeJSONField


class MonthlyReportParams(serializers.Serializer):
    month = serializers.CharField(required=False, help_text=(
        "The calendar month, YYYY-MM, from 2009-01 to the current month (default: the current month, TIME_ZONE)."))
    horizon = serializers.ChoiceField(
        choices=HORIZON_NAMES, default="24h", required=False,
        error_messages={"invalid_choice": f"Must be one of: {', '.join(HORIZON_NAMES)}."},
        help_text="The outcome horizon measured (default 24h).")

    def validate_month(self, value: str) -> tuple[int, int]:
        try:
            return parse_month(value)
        except ReportError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict) -> dict:
        if "month" not in attrs:
            today = timezone.localdate()
            attrs["month"] = (today.year, today.month)
        return attrs


class OverallSerializer(StatsSerializer):
    """The month's evaluated outcomes. avg_win / avg_loss are the average gain / loss."""


class BucketSerializer(serializers.Serializer):
    scanner = serializers.CharField()
    bucket = serializers.CharField(help_text="A bucket of /api/analytics/win-rates' by_scanner.")
    n = serializers.IntegerField(help_text="Evaluated outcomes in the bucket (the sample size of its rate).")
    wins = serializers.IntegerField()
    win_rate = serializers.FloatField(help_text="wins ÷ n, 0–1.")
    win_rate_ci = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2,
                                        help_text="95 % Wilson interval [low, high]; ranked by low.")
    avg_win = serializers.FloatField(allow_null=True, help_text="Mean return of the wins, percent.")
    median_return = serializers.FloatField(allow_null=True, help_text="Median return, percent.")


class SmallBucketSerializer(serializers.Serializer):
    scanner = serializers.CharField()
    bucket = serializers.CharField()
    n = serializers.IntegerField()


class BestPerformersSerializer(serializers.Serializer):
    ranked_by = serializers.CharField(help_text="How the buckets are ordered.")
    min_n = serializers.IntegerField(help_text=f"Buckets need at least this many evaluated outcomes ({BEST_MIN_N}).")
    buckets = BucketSerializer(many=True, help_text="Best first.")
    below_min_n = SmallBucketSerializer(many=True, help_text="Buckets with 1 to min_n − 1 outcomes: not ranked.")


class ReportThresholdsSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="Whether performance.optimizer.suggest_thresholds() answered.")
    note = serializers.CharField(allow_null=True, help_text=(
        "When not available: \"threshold suggestions: not available in this version\" or why the optimizer failed."))
    suggestions = FreeJSONField(allow_null=True, help_text="The optimizer's output, unchanged.")


class TopSignalSerializer(serializers.Serializer):
    signal_id = serializers.IntegerField()
    symbol = serializers.CharField()
    scanner = serializers.CharField()
    kind = serializers.CharField()
    direction = serializers.CharField()
    tier = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True, help_text="The scanner's headline number (score_metric).")
    score_metric = serializers.CharField()
    candle_close_time = serializers.DateTimeField()
    simulated = serializers.BooleanField()
    return_pct = serializers.FloatField(help_text="The trade's return at the horizon, percent (direction-aware).")
    outcome = serializers.CharField(help_text="WIN, LOSS or NEUTRAL.")
    days = serializers.FloatField(help_text="The horizon in days (the return is measured over it).")


class MonthlyReportSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM.")
    horizon = serializers.ChoiceField(choices=HORIZON_NAMES)
    since = serializers.DateTimeField(help_text="Signals whose candle closed at or after this time…")
    until = serializers.DateTimeField(help_text="…and before this one (the calendar month in TIME_ZONE).")
    window_days = serializers.IntegerField(help_text="Days in the month (the Sharpe ratio's annualisation).")
    generated_at = serializers.DateTimeField()
    simulated_signals = serializers.IntegerField(help_text="Outcomes whose signal came from the simulator (included).")
    overall = OverallSerializer()
    best_performers = BestPerformersSerializer()
    threshold_recommendations = ReportThresholdsSerializer()
    top_signals = TopSignalSerializer(many=True, help_text="Up to 10 evaluated signals by return, best first.")
