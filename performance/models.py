"""How each signal turned out at 1h, 4h, 24h, 7d and 30d (SCORING.md §8, DESIGN.md step 7)."""
from __future__ import annotations

from datetime import timedelta

from django.db import models

from signals.models import Signal

HORIZONS: dict[str, timedelta] = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24),
                                  "7d": timedelta(days=7), "30d": timedelta(days=30)}
HORIZON_CHOICES = [(h, h) for h in HORIZONS]


class SignalOutcome(models.Model):
    """One signal at one horizon. `pnl_pct` is the price change from the entry price (the close of the
    candle the signal was computed on) to the close of the candle that ends at `due_at`; the other
    returns are direction-aware where their help text says so (docs/performance-tracking.md)."""

    PENDING, EVALUATED, UNAVAILABLE = "pending", "evaluated", "unavailable"
    STATUS_CHOICES = [(PENDING, "pending"), (EVALUATED, "evaluated"), (UNAVAILABLE, "unavailable")]
    WIN, LOSS, NEUTRAL = "WIN", "LOSS", "NEUTRAL"
    OUTCOME_CHOICES = [(WIN, "WIN"), (LOSS, "LOSS"), (NEUTRAL, "NEUTRAL")]

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="outcomes")
    horizon = models.CharField(max_length=4, choices=HORIZON_CHOICES)
    due_at = models.DateTimeField(help_text="The signal's candle close time + the horizon.")
    status = models.CharField(max_length=12, choices=STATUS_CHOICES, default=PENDING)
    exit_price = models.FloatField(null=True, blank=True, help_text="Close of the candle that closes at due_at.")
    pnl_pct = models.FloatField(null=True, blank=True, help_text="(exit − entry) / entry × 100: the price change.")
    outcome = models.CharField(max_length=8, choices=OUTCOME_CHOICES, blank=True)
    mfe_pct = models.FloatField(null=True, blank=True, help_text=(
        "Max favourable excursion within the horizon, in the signal's direction (LONG: highest high; SHORT: "
        "lowest low), percent of entry."))
    mae_pct = models.FloatField(null=True, blank=True, help_text=(
        "Max adverse excursion within the horizon, in the signal's direction (LONG: lowest low; SHORT: highest "
        "high), percent of entry; negative when the price went against the signal."))
    btc_pnl_pct = models.FloatField(null=True, blank=True, help_text="BTCUSDT's price change over the same window.")
    relative_pnl_pct = models.FloatField(null=True, blank=True, help_text="pnl_pct − btc_pnl_pct.")
    evaluated_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="What was missing, or why a part could not be measured.")

    class Meta:
        ordering = ["due_at"]
        constraints = [models.UniqueConstraint(fields=["signal", "horizon"], name="signaloutcome_once_per_horizon")]
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["horizon", "status"])]

    def __str__(self) -> str:
        return f"{self.signal_id} {self.horizon}: {self.outcome or self.status}"

    @property
    def return_pct(self) -> float | None:
        """The trade's return: pnl_pct for LONG, −pnl_pct for SHORT (a SHORT gains when the price falls)."""
        if self.pnl_pct is None:
            return None
        return self.pnl_pct if self.signal.direction == "LONG" else -self.pnl_pct
