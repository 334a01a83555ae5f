"""The portfolio API's shapes. Validation is the model's (field validators) plus `trade_errors`."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketdata.models import Coin

from .models import DEFAULT_TRADE_QUOTE, Trade, trade_errors
from .valuation import Valuation

EDITABLE = ["side", "quantity", "entry_price", "entry_fee", "opened_at", "exit_price", "exit_fee", "closed_at",
            "notes"]


class TradeSerializer(serializers.ModelSerializer):
    coin = serializers.CharField(max_length=32, help_text="The coin's symbol, e.g. BTCUSDT (case-insensitive).")
    signal = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The signal it was entered from.")
    invested = serializers.SerializerMethodField(help_text="entry_price × quantity + entry_fee (USDT).")
    current_price = serializers.SerializerMethodField(
        help_text="Open trades: the coin's latest stored candle close; null when none is stored (then the trade "
                  "is unpriced, never valued at 0). Closed trades: null.")
    current_price_as_of = serializers.SerializerMethodField(help_text="Close time of that candle.")
    pnl = serializers.SerializerMethodField(help_text="Net of fees: realized when closed, unrealized when open.")
    pnl_pct = serializers.SerializerMethodField(help_text="pnl / invested × 100.")

    class Meta:
        model = Trade
        fields = ["id", "coin", "signal", "side", "quantity", "entry_price", "entry_fee", "opened_at", "status",
                  "exit_price", "exit_fee", "closed_at", "notes", "invested", "current_price",
                  "current_price_as_of", "pnl", "pnl_pct"]
        read_only_fields = ["id", "status"]
        extra_kwargs = {"entry_fee": {"required": False}, "opened_at": {"required": False}}

    def __init__(self, *args, valuations: dict[int, Valuation] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.valuations = valuations or {}

    def _valuation(self, trade: Trade) -> Valuation:
        return self.valuations.get(trade.pk) or Valuation(trade, None)

    def to_representation(self, trade: Trade) -> dict:
        data = super().to_representation(trade)
        data["coin"] = trade.coin.symbol
        return data

    def get_invested(self, trade: Trade) -> float:
        return round(trade.invested, 8)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_current_price(self, trade: Trade) -> float | None:
        price = self._valuation(trade).price
        return price.value if price else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_current_price_as_of(self, trade: Trade):
        price = self._valuation(trade).price
        return price.as_of if price else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_pnl(self, trade: Trade) -> float | None:
        pnl = self._valuation(trade).pnl
        return None if pnl is None else round(pnl, 8)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_pnl_pct(self, trade: Trade) -> float | None:
        pct = self._valuation(trade).pnl_pct
        return None if pct is None else round(pct, 4)

    def validate_coin(self, symbol: str) -> Coin:
        if self.instance is not None and symbol.upper() != self.instance.coin.symbol:
            raise serializers.ValidationError("A trade's coin cannot change; delete it and add another.")
        coin = Coin.objects.filter(symbol=symbol.strip().upper()).first()
        if coin is None:
            raise serializers.ValidationError(f"Unknown coin: {symbol.strip().upper()[:32]}.")
        return coin

    def validate(self, attrs: dict) -> dict:
        current = self.instance
        merged = {f: attrs.get(f, getattr(current, f, None)) for f in EDITABLE}
        if current is None:
            merged["opened_at"] = merged["opened_at"] or timezone.now()
            # A trade entered with its exit is entered closed (a past trade); closed_at defaults to now.
            if merged["exit_price"] is not None:
                merged["closed_at"] = merged["closed_at"] or timezone.now()
                attrs["closed_at"] = merged["closed_at"]
                attrs["status"] = Trade.CLOSED
            elif merged["closed_at"] is not None or merged["exit_fee"] is not None:
                raise serializers.ValidationError({"exit_price": ["Give the exit price to enter a closed trade."]})
            status = attrs.get("status", Trade.OPEN)
        else:
            status = current.status
            if status == Trade.OPEN and any(attrs.get(f) is not None for f in ("exit_price", "exit_fee", "closed_at")):
                raise serializers.ValidationError(
                    {"exit_price": ["Close an open trade with POST /api/portfolio/trades/{id}/close."]})
        errors = trade_errors(merged["opened_at"], status, merged["exit_price"], merged["closed_at"])
        if errors:
            raise serializers.ValidationError({k: [v] for k, v in errors.items()})
        return attrs


class CloseSerializer(serializers.Serializer):
    exit_price = serializers.FloatField(help_text="Price the position was closed at (> 0).")
    exit_fee = serializers.FloatField(required=False, default=0.0, help_text="In USDT, ≥ 0 (default 0).")
    closed_at = serializers.DateTimeField(required=False, help_text="Default: now. Not before the entry.")


class FromSignalSerializer(serializers.Serializer):
    quantity = serializers.FloatField(required=False, help_text=(
        f"Default: {DEFAULT_TRADE_QUOTE:g} USDT's worth at the entry price."))
    entry_price = serializers.FloatField(required=False, help_text="Default: the signal's entry_price.")
    entry_fee = serializers.FloatField(required=False, default=0.0)
    opened_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class UnpricedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    invested = serializers.FloatField()
    reason = serializers.CharField()


class PriceSourceSerializer(serializers.Serializer):
    source = serializers.CharField()
    simulated = serializers.BooleanField(help_text="The candles came from the built-in market simulator.")
    oldest_as_of = serializers.DateTimeField(allow_null=True, help_text="The oldest price used (candle close).")


class PerformanceSerializer(serializers.Serializer):
    total_invested = serializers.FloatField(help_text="Σ entry_price × quantity + entry_fee over priced trades.")
    current_value = serializers.FloatField(help_text="Σ invested + P&L (closed at exit, open at current price).")
    total_pnl = serializers.FloatField(help_text="current_value − total_invested = realized + unrealized.")
    total_pnl_pct = serializers.FloatField(allow_null=True, help_text="null with nothing invested.")
    open_positions = serializers.IntegerField()
    closed_positions = serializers.IntegerField()
    realized_gains = serializers.FloatField(help_text="Σ P&L of closed trades, net of both fees.")
    unrealized_pnl = serializers.FloatField(help_text="Σ P&L of priced open trades, net of the entry fee.")
    trades_valued = serializers.IntegerField(help_text="Trades in the totals (all but the unpriced).")
    unpriced = UnpricedSerializer(many=True, help_text="Open trades whose coin has no stored price: left out.")
    prices = PriceSourceSerializer()
