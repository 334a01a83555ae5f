"""A user's trades: entered from a signal or by hand, closed with an exit price (DESIGN.md, PLAN §5.3).

Prices and fees are in the coin's quote currency (USDT). Fees are absolute amounts, not rates."""
from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from marketdata.models import Coin
from signals.models import Signal

# One click on "Add trade" buys this much (quote currency) at the signal's entry price.
DEFAULT_TRADE_QUOTE = 100.0
# Clocks differ a little; a time further ahead than this is a typo, not a trade.
FUTURE_SLACK = timedelta(minutes=5)
# Larger prices, quantities or fees are typos; the cap also keeps every product finite (valid JSON).
MAX_AMOUNT = 1e15


def positive(value: float) -> None:
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValidationError("Must be a number greater than 0.")
    if value > MAX_AMOUNT:
        raise ValidationError(f"Must be at most {MAX_AMOUNT:.0e}.")


def non_negative(value: float) -> None:
    if value is None or not math.isfinite(value) or value < 0:
        raise ValidationError("Must be a number of 0 or more.")
    if value > MAX_AMOUNT:
        raise ValidationError(f"Must be at most {MAX_AMOUNT:.0e}.")


class Trade(models.Model):
    LONG, SHORT = "long", "short"
    SIDE_CHOICES = [(LONG, "Long"), (SHORT, "Short")]
    OPEN, CLOSED = "open", "closed"
    STATUS_CHOICES = [(OPEN, "Open"), (CLOSED, "Closed")]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trades")
    coin = models.ForeignKey(Coin, on_delete=models.PROTECT, related_name="trades")
    signal = models.ForeignKey(Signal, null=True, blank=True, on_delete=models.SET_NULL, related_name="trades",
                               help_text="The signal this trade was entered from, if any.")
    side = models.CharField(max_length=5, choices=SIDE_CHOICES, default=LONG)
    quantity = models.FloatField(validators=[positive], help_text="Units of the coin's base asset.")
    entry_price = models.FloatField(validators=[positive])
    entry_fee = models.FloatField(default=0, validators=[non_negative], help_text="In the quote currency (USDT).")
    opened_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=6, choices=STATUS_CHOICES, default=OPEN)
    exit_price = models.FloatField(null=True, blank=True, validators=[positive])
    exit_fee = models.FloatField(null=True, blank=True, validators=[non_negative],
                                 help_text="In the quote currency (USDT).")
    closed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["owner", "status", "-opened_at"])]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.side} {self.quantity:g} {self.coin_id} @ {self.entry_price:g} ({self.status})"

    def clean(self) -> None:
        errors = trade_errors(self.opened_at, self.status, self.exit_price, self.closed_at)
        if errors:
            raise ValidationError(errors)

    # --- P&L (docs/users.md, "Portfolio"): fees count against the trade.
    @property
    def invested(self) -> float:
        """What entering cost: entry price × quantity + the entry fee."""
        return self.entry_price * self.quantity + self.entry_fee

    def pnl_at(self, price: float, exit_fee: float = 0.0) -> float:
        """Profit at `price`, net of the entry fee and `exit_fee`; a short gains when the price falls."""
        move = price - self.entry_price if self.side == self.LONG else self.entry_price - price
        return move * self.quantity - self.entry_fee - exit_fee

    @property
    def realized_pnl(self) -> float | None:
        if self.status != self.CLOSED or self.exit_price is None:
            return None
        return self.pnl_at(self.exit_price, self.exit_fee or 0.0)


def trade_errors(opened_at, status: str, exit_price, closed_at) -> dict[str, str]:
    """The rules that join fields, shared by the model, the forms and the API."""
    errors: dict[str, str] = {}
    latest = timezone.now() + FUTURE_SLACK
    if opened_at is not None and opened_at > latest:
        errors["opened_at"] = "The entry time is in the future."
    if status == Trade.CLOSED:
        if exit_price is None:
            errors["exit_price"] = "A closed trade needs its exit price."
        if closed_at is None:
            errors["closed_at"] = "A closed trade needs its exit time."
        elif opened_at is not None and closed_at < opened_at:
            errors["closed_at"] = "The exit must come after the entry."
        elif closed_at > latest:
            errors["closed_at"] = "The exit time is in the future."
    return errors
