"""Watchlists in and out of the API; the pages validate their forms with the same serializers."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from cryptosatx.api.fields import BoundedIntegerField
from cryptosatx.api.serializers.ranking import RankingSerializer
from cryptosatx.api.serializers.scans import ScanRunSerializer

from .coins import resolve, split_symbols, unknown_message
from .models import MAX_COINS, MAX_INTERVAL, MIN_INTERVAL, NAME_MAX, Watchlist
from .schedules import sync_schedule

SYMBOLS_HELP = (f"Up to {MAX_COINS} coins: a list of symbols (BTCUSDT) or base assets (BTC), or one string of "
                "them separated by commas or spaces; case-insensitive. Every symbol must be a coin CryptoSatX knows: "
                "unknown ones are a 400 naming each of them.")
INTERVAL_MESSAGE = (f"Must be empty (no schedule) or a whole number of minutes between {MIN_INTERVAL} and "
                    f"{MAX_INTERVAL}.")


@extend_schema_field({"type": "array", "items": {"type": "string"}, "example": ["BTCUSDT", "ETHUSDT"]})
class SymbolListField(serializers.Field):
    """Symbols in (a list, or one comma-separated string as an HTML form sends it) → Coin rows;
    out, the symbols in alphabetical order."""

    default_error_messages = {
        "invalid": "A list of symbols, e.g. [\"BTCUSDT\", \"ETH\"], or one string of them separated by commas.",
        "too_many": f"At most {MAX_COINS} coins per watchlist ({{n}} given).",
    }

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            return dictionary.getlist(self.field_name)
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> list:
        if isinstance(data, str):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        if any("\x00" in item for item in data):  # PostgreSQL refuses NUL in a query parameter: a 500, not a 400
            self.fail("invalid")
        tokens = split_symbols(data)
        if len(tokens) > MAX_COINS:
            self.fail("too_many", n=len(tokens))
        coins, unknown = resolve(tokens)
        if unknown:
            raise serializers.ValidationError(unknown_message(unknown))
        return coins

    def to_representation(self, value: Any) -> list[str]:
        return sorted(coin.symbol for coin in value.all())


class WatchlistSerializer(serializers.Serializer):
    """Needs `context={"owner": user}`: names are unique per owner (case-insensitive)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=NAME_MAX, help_text=f"1–{NAME_MAX} characters, unique among your "
                                                                "watchlists (case-insensitive).")
    coins = SymbolListField(required=False, help_text=SYMBOLS_HELP)
    alerts_enabled = serializers.BooleanField(required=False, help_text=(
        "Limit your Telegram alerts to the coins of your alert-enabled watchlists (default false). With none "
        "enabled you get every alert you opted into on /api/account/alerts."))
    scan_interval_minutes = BoundedIntegerField(
        min_value=MIN_INTERVAL, max_value=MAX_INTERVAL, allow_null=True, required=False, message=INTERVAL_MESSAGE,
        help_text=f"Scan this watchlist's coins every this many minutes ({MIN_INTERVAL}–{MAX_INTERVAL}); "
                  "null = no schedule.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        taken = Watchlist.objects.filter(owner=self.context["owner"], name__iexact=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"You already have a watchlist named {value!r}.")
        return value

    def _saved(self, watchlist: Watchlist, coins: list | None) -> Watchlist:
        try:
            with transaction.atomic():
                watchlist.save()
                if coins is not None:
                    watchlist.coins.set(coins)
                sync_schedule(watchlist)
        except IntegrityError:  # the same name saved by a concurrent request just now
            raise serializers.ValidationError({"name": ["You already have a watchlist with this name."]}) from None
        return watchlist

    def create(self, data: dict) -> Watchlist:
        coins = data.pop("coins", [])
        return self._saved(Watchlist(owner=self.context["owner"], **data), coins)

    def update(self, watchlist: Watchlist, data: dict) -> Watchlist:
        coins = data.pop("coins", None)
        for key, value in data.items():
            setattr(watchlist, key, value)
        return self._saved(watchlist, coins)


class PlanCreateSerializer(WatchlistSerializer):
    """PLAN.md §5.1's body, {user_id, name, coins}: the owner is always the authenticated user, so
    a user_id, when given, must be theirs."""

    user_id = serializers.CharField(required=False, write_only=True, help_text=(
        "Optional: your own user id or username. Anyone else's is a 400."))

    def validate_user_id(self, value: str) -> str:
        owner = self.context["owner"]
        if value.strip() not in (str(owner.pk), owner.get_username()):
            raise serializers.ValidationError("You can only create watchlists for yourself.")
        return value

    def create(self, data: dict) -> Watchlist:
        data.pop("user_id", None)
        return super().create(data)


class CoinsSerializer(serializers.Serializer):
    coins = SymbolListField(help_text=SYMBOLS_HELP + " Replaces the watchlist's coins; [] empties it.")


class WatchlistPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = WatchlistSerializer(many=True)


class WatchlistRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class WatchlistScanSerializer(RankingSerializer):
    """The unified ranking (same rows as /api/scan/unified-ranking) restricted to the watchlist."""

    watchlist = WatchlistRefSerializer()
    run = ScanRunSerializer(allow_null=True, help_text="The scan just run; null when the watchlist has no coins.")
    not_scored = serializers.ListField(child=serializers.CharField(), help_text=(
        "Coins of the watchlist without a unified score (the scan could not score them; see run.errors)."))
    not_trading = serializers.ListField(child=serializers.CharField(), help_text=(
        "Coins of the watchlist the exchange no longer lists; they were not scanned."))


class ScanFailedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the scan failed: no coin could be fetched.")
    run = ScanRunSerializer(help_text="The failed run, with its errors.")


class DeliverySerializer(serializers.Serializer):
    status = serializers.CharField(help_text="pending, sent, suppressed, failed, summary_only, …")
    reason = serializers.CharField(help_text="Why it was suppressed or kept for the summary (docs/alerts.md).")
    sent_at = serializers.DateTimeField(allow_null=True)


class WatchlistSignalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField(source="coin.symbol")
    scanner = serializers.CharField()
    kind = serializers.CharField()
    direction = serializers.CharField()
    tier = serializers.IntegerField(help_text="1 (urgent) to 3 (medium).")
    score = serializers.FloatField(allow_null=True)
    score_metric = serializers.CharField()
    unified_score = serializers.FloatField(allow_null=True)
    entry_price = serializers.FloatField(allow_null=True)
    candle_close_time = serializers.DateTimeField()
    reasons = serializers.ListField(child=serializers.CharField())
    simulated = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    delivery = serializers.SerializerMethodField(help_text=(
        "Your Telegram delivery of this signal, or null when none was made for you."))

    @extend_schema_field(DeliverySerializer(allow_null=True))
    def get_delivery(self, signal) -> dict | None:
        own = getattr(signal, "own_deliveries", None) or []
        return DeliverySerializer(own[0]).data if own else None


class WatchlistSignalPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = WatchlistSignalSerializer(many=True)
