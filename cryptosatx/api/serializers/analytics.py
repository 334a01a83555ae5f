"""GET /api/analytics/win-rates: parameters and response (PLAN.md §4.2 as DESIGN.md "Honesty" amends it)."""
from __future__ import annotations

from rest_framework import serializers

from performance.models import HORIZONS
from performance.queries import BUCKETS, TIERS

from ..fields import BoundedIntegerField

HORIZON_NAMES = tuple(HORIZONS)


def days_field(default: int) -> BoundedIntegerField:
    return BoundedIntegerField(min_value=1, max_value=365, default=default, required=False,
                               message="Must be an integer between 1 and 365.",
                               help_text=f"Signals whose candle closed in the last this many days, 1–365 "
                                         f"(default {default}).")


def horizon_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=HORIZON_NAMES, default="24h", required=False,
        error_messages={"invalid_choice": f"Must be one of: {', '.join(HORIZON_NAMES)}."},
        help_text="The outcome horizon measured (default 24h).")


class WinRateParams(serializers.Serializer):
    days = days_field(30)
    horizon = horizon_field()


class StatsSerializer(serializers.Serializer):
    """One group of signals. Only evaluated outcomes count; pending and unavailable are counted apart."""

    total_signals = serializers.IntegerField(help_text="Evaluated outcomes (= wins + losses + neutral = n).")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    neutral = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True, help_text="wins ÷ n, 0–1; null when n = 0.")
    win_rate_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True, min_length=2,
                                        max_length=2, help_text="95 % Wilson interval [low, high] of the win rate; "
                                                                "null when n = 0.")
    n = serializers.IntegerField(help_text="The sample size of every rate here.")
    avg_win = serializers.FloatField(allow_null=True, help_text=(
        "Mean return of the wins, percent (the trade's return: SHORT gains when the price falls)."))
    avg_loss = serializers.FloatField(allow_null=True, help_text="Mean return of the losses, percent (negative).")
    median_return = serializers.FloatField(allow_null=True, help_text="Median return of all evaluated, percent.")
    sharpe_ratio = serializers.FloatField(allow_null=True, help_text=(
        "mean ÷ standard deviation of the returns × sqrt(signals per year over the window); null below n = 30."))
    sharpe_ratio_note = serializers.CharField(allow_null=True, help_text="Why sharpe_ratio is null, else null.")
    pending = serializers.IntegerField(help_text="Outcomes not yet evaluated (not counted in any rate).")
    unavailable = serializers.IntegerField(help_text="Outcomes whose candles were never stored (not counted).")


def _group(names, help_text: str) -> type[serializers.Serializer]:
    fields = {name: StatsSerializer() for name in names}
    label = "".join(part.capitalize() for part in help_text.split()[:2] if part.isalpha())
    return type(f"{label}Buckets", (serializers.Serializer,), {**fields, "__doc__": help_text})


BY_SCANNER = type("WinRatesByScanner", (serializers.Serializer,), {
    scanner: _group(buckets, f"{scanner.replace('_', ' ').title()} buckets")() for scanner, buckets in BUCKETS.items()})


class WinRatesSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    horizon = serializers.ChoiceField(choices=HORIZON_NAMES)
    since = serializers.DateTimeField(help_text="Signals whose candle closed at or after this time.")
    generated_at = serializers.DateTimeField()
    simulated_signals = serializers.IntegerField(help_text=(
        "Outcomes in the window whose signal came from the market simulator (they are included)."))
    overall = StatsSerializer()
    by_scanner = BY_SCANNER(help_text=(
        "PLAN.md §4.2's buckets by the signal's headline score: smart_money (accumulation/distribution 0–10), "
        "mss (0–100), rsi (the RSI), social (all), unified (by alert tier)."))
    by_tier = _group([f"TIER_{t}" for t in TIERS], "Alert tiers")(help_text="By the alert's tier (1, 2, 3).")
