"""Entering a trade from a signal and closing one: the rules the API and the pages share.
Both raise django's ValidationError({field: message}) and save nothing when the input is wrong."""
from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from signals.models import Signal

from .models import DEFAULT_TRADE_QUOTE, Trade


def from_signal(owner, signal: Signal, *, quantity: float | None = None, entry_price: float | None = None,
                entry_fee: float = 0.0, opened_at: datetime | None = None, notes: str = "") -> Trade:
    """A trade in the signal's coin and direction (LONG → long, SHORT → short) at the signal's entry price,
    for `quantity` or, by default, DEFAULT_TRADE_QUOTE (100 USDT) worth at that price."""
    price = entry_price if entry_price is not None else signal.entry_price
    if price is None:
        raise ValidationError({"entry_price": "This signal has no entry price; give one."})
    trade = Trade(owner=owner, coin=signal.coin, signal=signal,
                  side=Trade.SHORT if signal.direction == "SHORT" else Trade.LONG,
                  entry_price=price, entry_fee=entry_fee, opened_at=opened_at or timezone.now(), notes=notes,
                  quantity=quantity if quantity is not None else _default_quantity(price))
    trade.full_clean(exclude=["owner", "coin", "signal"])
    trade.save()
    return trade


def _default_quantity(price: float) -> float:
    try:
        return DEFAULT_TRADE_QUOTE / price if price > 0 else 0.0  # 0 fails validation with the price's error
    except (TypeError, ZeroDivisionError, OverflowError):
        return 0.0


def close(trade: Trade, *, exit_price: float, exit_fee: float | None = None, closed_at: datetime | None = None) -> Trade:
    if trade.status == Trade.CLOSED:
        raise ValidationError({"status": "This trade is already closed."})
    trade.status, trade.exit_price = Trade.CLOSED, exit_price
    trade.exit_fee = exit_fee if exit_fee is not None else 0.0
    trade.closed_at = closed_at or timezone.now()
    try:
        trade.full_clean(exclude=["owner", "coin", "signal"])
    except ValidationError:
        trade.refresh_from_db()  # leave the caller's object as stored
        raise
    trade.save(update_fields=["status", "exit_price", "exit_fee", "closed_at"])
    return trade


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """{field: [messages]}, as DRF renders its own errors."""
    if hasattr(exc, "error_dict"):
        return {field: [m for e in errs for m in e.messages] for field, errs in exc.error_dict.items()}
    return {"non_field_errors": exc.messages}
