"""A user's own Telegram alerts: their signals.Recipient of kind "user". The account page and
GET/PUT /api/account/alerts both read and write it through AlertSettingsSerializer."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from signals.models import Recipient
from signals.rules import CHAT_ID_RE
from watchlists.alerts import alert_watchlists
from watchlists.serializers import WatchlistRefSerializer

FLAGS = ("wants_tier_1", "wants_tier_2", "wants_tier_3", "wants_daily_summary", "enabled")
CHAT_ID_MESSAGE = "A chat id is an integer (negative for groups), e.g. 123456789, or @channelname."
TAKEN_MESSAGE = "This chat already receives CryptoSatX alerts (another account or the server's own chat)."


def recipient_of(user) -> Recipient | None:
    return Recipient.objects.filter(user=user, kind=Recipient.USER).order_by("pk").first()


def _flag(name: str, help_text: str) -> serializers.BooleanField:
    return serializers.BooleanField(required=False, help_text=help_text + " Left out: unchanged (true at first).")


class AlertSettingsSerializer(serializers.Serializer):
    """Needs `context={"user": user}`."""

    # allow_null: the answer says null until a chat is set (a null sent in is refused in validate_chat_id)
    chat_id = serializers.CharField(max_length=64, allow_null=True, help_text=(
        "Your Telegram chat id: an integer (negative for groups) or @channelname. Start a chat with the bot "
        "first, or Telegram refuses it (see disabled_reason)."))
    wants_tier_1 = _flag("wants_tier_1", "Tier 1 alerts (urgent).")
    wants_tier_2 = _flag("wants_tier_2", "Tier 2 alerts (high).")
    wants_tier_3 = _flag("wants_tier_3", "Tier 3 alerts (medium); they go to the daily summary unless the server "
                                         "sets TELEGRAM_TIER_3_ENABLED.")
    wants_daily_summary = _flag("wants_daily_summary", "The daily summary.")
    enabled = _flag("enabled", "Alerts on or off. Turning them on again after Telegram refused the chat clears "
                               "the refusal, so the next alert tries again.")
    configured = serializers.SerializerMethodField(help_text="Whether you have set a chat.")
    disabled_reason = serializers.SerializerMethodField(help_text=(
        "Telegram's answer when it refused your chat (alerts are then off), else null."))
    disabled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    limited_to_watchlists = serializers.SerializerMethodField(help_text=(
        "Your alert-enabled watchlists: alerts come only for their coins. Empty: alerts on every coin."))

    def get_configured(self, recipient) -> bool:
        return isinstance(recipient, Recipient) and recipient.pk is not None

    def get_disabled_reason(self, recipient) -> str | None:
        return getattr(recipient, "disabled_reason", "") or None

    @extend_schema_field(WatchlistRefSerializer(many=True))
    def get_limited_to_watchlists(self, recipient) -> list[dict[str, Any]]:
        return WatchlistRefSerializer(alert_watchlists(self.context["user"]), many=True).data

    def to_representation(self, recipient) -> dict[str, Any]:
        data = super().to_representation(recipient)
        data["chat_id"] = data["chat_id"] or None  # not set yet
        return data

    def validate_chat_id(self, value: str | None) -> str:
        if value is None:
            raise serializers.ValidationError(CHAT_ID_MESSAGE)
        value = value.strip()
        if not CHAT_ID_RE.fullmatch(value):
            raise serializers.ValidationError(CHAT_ID_MESSAGE)
        mine = recipient_of(self.context["user"])
        if Recipient.objects.filter(chat_id=value).exclude(pk=mine.pk if mine else None).exists():
            raise serializers.ValidationError(TAKEN_MESSAGE)
        return value

    def save(self, **kwargs: Any) -> Recipient:
        user, data = self.context["user"], dict(self.validated_data)
        recipient = recipient_of(user) or Recipient(user=user, kind=Recipient.USER,
                                                    name=f"{user.get_username()} (user)"[:80])
        if recipient.chat_id != data["chat_id"] or data.get("enabled") is True:
            # A new chat, or the user turning alerts on: an earlier refusal no longer applies.
            recipient.disabled_reason, recipient.disabled_at = "", None
            recipient.enabled = True
        for key, value in data.items():
            setattr(recipient, key, value)
        try:
            with transaction.atomic():
                recipient.save()
        except IntegrityError:  # the same chat saved by someone else just now
            raise serializers.ValidationError({"chat_id": [TAKEN_MESSAGE]}) from None
        self.instance = recipient
        return recipient


def settings_of(user) -> Recipient:
    """The user's recipient, or an unsaved one with the defaults (what GET shows before any PUT)."""
    return recipient_of(user) or Recipient(user=user, kind=Recipient.USER, chat_id="")
