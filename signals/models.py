"""Scoring configuration (edited in admin, defaults from .env) and the unified score per coin."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from marketdata.models import Coin

WEIGHT_FIELDS = ("weight_accumulation", "weight_mss", "weight_technical", "weight_social_momentum",
                 "weight_whale", "weight_volume_spike")


# Module-level callables (migrations cannot serialise lambdas): defaults come from .env.
def default_min_confirmations() -> int:
    return settings.MIN_CONFIRMATIONS_TIER1


def default_accumulation() -> float:
    return settings.ACCUMULATION_ALERT_THRESHOLD


def default_distribution() -> float:
    return settings.DISTRIBUTION_ALERT_THRESHOLD


def default_mss() -> float:
    return settings.MSS_ALERT_THRESHOLD


def default_oversold() -> float:
    return settings.RSI_OVERSOLD_THRESHOLD


def default_overbought() -> float:
    return settings.RSI_OVERBOUGHT_THRESHOLD


class ScoringConfig(models.Model):
    """One row: the weights and thresholds every scan uses. Created from .env on first use."""

    weight_accumulation = models.FloatField(default=0.30)
    weight_mss = models.FloatField(default=0.25)
    weight_technical = models.FloatField(default=0.15)
    weight_social_momentum = models.FloatField(default=0.15)
    weight_whale = models.FloatField(default=0.10)
    weight_volume_spike = models.FloatField(default=0.05)
    tier1_min = models.FloatField(default=85, help_text="Unified score for TIER_1 (MUST BUY).")
    tier2_min = models.FloatField(default=70, help_text="Unified score for TIER_2 (STRONG BUY).")
    tier3_min = models.FloatField(default=55, help_text="Unified score for TIER_3 (WATCHLIST).")
    min_confirmations_tier1 = models.PositiveSmallIntegerField(default=default_min_confirmations)
    accumulation_threshold = models.FloatField(default=default_accumulation)
    distribution_threshold = models.FloatField(default=default_distribution)
    mss_threshold = models.FloatField(default=default_mss)
    rsi_oversold = models.FloatField(default=default_oversold)
    rsi_overbought = models.FloatField(default=default_overbought)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scoring configuration"
        verbose_name_plural = "scoring configuration"

    def __str__(self) -> str:
        return "Scoring configuration"

    def clean(self) -> None:
        errors = {}
        for name in WEIGHT_FIELDS:
            if getattr(self, name) is None or getattr(self, name) < 0:
                errors[name] = "A weight must be 0 or more."
        if not errors and sum(getattr(self, n) for n in WEIGHT_FIELDS) <= 0:
            errors["weight_accumulation"] = "At least one weight must be above 0."
        if not 0 < self.tier3_min < self.tier2_min < self.tier1_min <= 100:
            errors["tier1_min"] = "Tier thresholds must rise: 0 < tier 3 < tier 2 < tier 1 ≤ 100."
        for name, top in (("accumulation_threshold", 10), ("distribution_threshold", 10), ("mss_threshold", 100),
                          ("rsi_oversold", 100), ("rsi_overbought", 100)):
            if not 0 <= getattr(self, name) <= top:
                errors[name] = f"Must lie between 0 and {top}."
        if self.rsi_oversold >= self.rsi_overbought:
            errors["rsi_oversold"] = "Oversold must be below overbought."
        if not 1 <= self.min_confirmations_tier1 <= 4:
            errors["min_confirmations_tier1"] = "Between 1 and 4 (there are four voting scanners)."
        if errors:
            raise ValidationError(errors)

    @classmethod
    def current(cls) -> "ScoringConfig":
        config = cls.objects.order_by("pk").first()
        return config or cls.objects.create()

    @property
    def weights(self) -> dict[str, float]:
        return {name.removeprefix("weight_"): getattr(self, name) for name in WEIGHT_FIELDS}

    @property
    def tier_thresholds(self) -> tuple[tuple[str, float], ...]:
        return (("TIER_1", self.tier1_min), ("TIER_2", self.tier2_min), ("TIER_3", self.tier3_min))


class UnifiedScore(models.Model):
    """A coin's unified score from the latest result of each scanner (SCORING.md §6)."""

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="unified_scores")
    run = models.ForeignKey("scanners.ScanRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    computed_at = models.DateTimeField(db_index=True)
    data_as_of = models.DateTimeField(null=True, blank=True, help_text="Close time of the newest candle used.")
    is_latest = models.BooleanField(default=True, help_text="The newest score of this coin.")
    unified_score = models.FloatField(null=True, blank=True)
    tier = models.CharField(max_length=8, blank=True)
    label = models.CharField(max_length=16, blank=True)
    tier_demoted = models.BooleanField(default=False)
    action = models.CharField(max_length=12, blank=True)
    confidence = models.FloatField(default=0)
    coverage = models.FloatField(default=0)
    confirmations = models.PositiveSmallIntegerField(default=0)
    agreeing_scanners = models.JSONField(default=list, blank=True)
    breakdown = models.JSONField(default=dict, blank=True)
    components = models.JSONField(default=dict, blank=True, help_text="Each scanner's raw value (None = missing).")
    missing = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    risk_level = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["is_latest", "-unified_score"]), models.Index(fields=["coin", "-computed_at"])]
        constraints = [models.UniqueConstraint(fields=["coin"], condition=models.Q(is_latest=True),
                                               name="unifiedscore_one_latest_per_coin")]

    def __str__(self) -> str:
        return f"{self.coin_id} {self.unified_score} {self.tier}"


# ---------------------------------------------------------------- alerts (SCORING.md §7, DESIGN.md steps 5–6)

SCANNER_CHOICES = [("smart_money", "Smart money"), ("mss", "MSS discovery"), ("rsi", "RSI screener"),
                   ("social", "Social trending"), ("unified", "Unified score")]
DIRECTION_CHOICES = [("LONG", "LONG"), ("SHORT", "SHORT")]
TIER_CHOICES = [(1, "Tier 1 (urgent, with sound)"), (2, "Tier 2 (high, with sound)"), (3, "Tier 3 (medium, silent)")]
KIND_CHOICES = [("accumulating", "Accumulating"), ("distributing", "Distributing"), ("oversold", "Oversold"),
                ("overbought", "Overbought"), ("gem", "New gem"), ("trending", "Trending"),
                ("unified", "Unified tier")]


class AlertRule(models.Model):
    """One condition of SCORING.md §7: `metric comparison threshold` on one scanner's result, with an
    optional second condition (`also_…`) that may read another scanner's latest score of the coin."""

    GTE, GT, LTE, LT, BETWEEN, EQ = "gte", "gt", "lte", "lt", "between", "eq"
    COMPARISON_CHOICES = [(GTE, "≥"), (GT, ">"), (LTE, "≤"), (LT, "<"), (BETWEEN, "between (≥ low, < high)"),
                          (EQ, "=")]

    name = models.CharField(max_length=80, unique=True)
    tier = models.PositiveSmallIntegerField(choices=TIER_CHOICES)
    scanner = models.CharField(max_length=16, choices=SCANNER_CHOICES,
                               help_text="The scanner whose results this rule reads; the signal is filed under it.")
    metric = models.CharField(max_length=32, help_text="A score of that scanner, e.g. accumulation, mss, rsi, tier.")
    comparison = models.CharField(max_length=8, choices=COMPARISON_CHOICES)
    threshold = models.FloatField()
    threshold_max = models.FloatField(null=True, blank=True, help_text="Upper bound (exclusive) for 'between'.")
    also_metric = models.CharField(max_length=40, blank=True,
                                   help_text="Optional second condition, as scanner.metric (e.g. smart_money.accumulation).")
    also_comparison = models.CharField(max_length=8, choices=COMPARISON_CHOICES, blank=True)
    also_threshold = models.FloatField(null=True, blank=True)
    direction = models.CharField(max_length=8, choices=DIRECTION_CHOICES)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "scanner", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .rules import validate_rule

        validate_rule(self)

    @property
    def condition(self) -> str:
        from .rules import describe

        return describe(self)


class RecipientQuerySet(models.QuerySet):
    def active(self) -> "RecipientQuerySet":
        """Chats that may be sent to: enabled, and not belonging to a deactivated user (deactivating
        an account must stop its alerts, not only its sign-in)."""
        return self.filter(enabled=True).filter(models.Q(user__isnull=True) | models.Q(user__is_active=True))


class Recipient(models.Model):
    """A Telegram chat that receives alerts. The one named by TELEGRAM_CHAT_ID is kept in sync with it."""

    GLOBAL, USER = "global", "user"
    KIND_CHOICES = [(GLOBAL, "Global (everyone's chat)"), (USER, "A user's own chat")]

    name = models.CharField(max_length=80)
    chat_id = models.CharField(max_length=64, unique=True,
                               help_text="A numeric chat id (negative for groups) or @channelname.")
    kind = models.CharField(max_length=8, choices=KIND_CHOICES, default=GLOBAL)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="alert_recipients")
    wants_tier_1 = models.BooleanField(default=True)
    wants_tier_2 = models.BooleanField(default=True)
    wants_tier_3 = models.BooleanField(default=True, help_text="Tier 3 goes to the daily summary unless "
                                                               "TELEGRAM_TIER_3_ENABLED.")
    wants_daily_summary = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, help_text="Telegram's error when it refused this chat.")
    disabled_at = models.DateTimeField(null=True, blank=True)
    from_settings = models.BooleanField(default=False, editable=False, help_text="Kept in sync with TELEGRAM_CHAT_ID.")
    next_send_at = models.DateTimeField(null=True, blank=True, editable=False,
                                        help_text="Pacing: the earliest time the next message may go to this chat.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RecipientQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.chat_id})"

    def clean(self) -> None:
        from .rules import CHAT_ID_RE

        errors = {}
        if not CHAT_ID_RE.fullmatch(self.chat_id or ""):
            errors["chat_id"] = "A chat id is an integer (negative for groups) or @channelname."
        if self.kind == self.USER and self.user_id is None:
            errors["user"] = "A user's recipient needs its user."
        if self.kind == self.GLOBAL and self.user_id is not None:
            errors["user"] = "A global recipient belongs to no user."
        if errors:
            raise ValidationError(errors)

    @property
    def is_group(self) -> bool:
        """Groups and channels (negative ids, @names) are paced at 20 messages a minute."""
        return self.chat_id.startswith(("-", "@"))

    def wants(self, tier: int) -> bool:
        return bool(getattr(self, f"wants_tier_{tier}", False))

    @classmethod
    def ensure_from_settings(cls) -> "Recipient | None":
        """The recipient of TELEGRAM_CHAT_ID, created on first use and moved when the key changes."""
        chat_id = str(settings.TELEGRAM_CHAT_ID or "").strip()
        if not chat_id:
            return None
        current = cls.objects.filter(from_settings=True).first()
        if current and current.chat_id == chat_id:
            return current
        same_chat = cls.objects.filter(chat_id=chat_id).first()
        if same_chat:  # already entered in admin: adopt it
            cls.objects.filter(from_settings=True).exclude(pk=same_chat.pk).update(from_settings=False)
            cls.objects.filter(pk=same_chat.pk).update(from_settings=True)
            same_chat.from_settings = True
            return same_chat
        if current:  # the key changed: a new chat, so a previous refusal no longer applies
            current.chat_id, current.enabled, current.disabled_reason, current.disabled_at = chat_id, True, "", None
            current.save(update_fields=["chat_id", "enabled", "disabled_reason", "disabled_at"])
            return current
        from django.db import IntegrityError, transaction

        try:
            with transaction.atomic():
                return cls.objects.create(name="TELEGRAM_CHAT_ID", chat_id=chat_id, kind=cls.GLOBAL,
                                          from_settings=True)
        except IntegrityError:  # another worker created it just now
            return cls.objects.get(chat_id=chat_id)


class Signal(models.Model):
    """A coin crossed an alert rule: everything needed to reproduce it (DESIGN.md step 5)."""

    coin = models.ForeignKey(Coin, on_delete=models.CASCADE, related_name="signals")
    run = models.ForeignKey("scanners.ScanRun", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="signals")
    scanner = models.CharField(max_length=16, choices=SCANNER_CHOICES)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    direction = models.CharField(max_length=8, choices=DIRECTION_CHOICES)
    tier = models.PositiveSmallIntegerField(choices=TIER_CHOICES)
    score = models.FloatField(null=True, blank=True, help_text="The scanner's headline number (see score_metric).")
    score_metric = models.CharField(max_length=32, blank=True, help_text="e.g. accumulation, mss, rsi, unified_score.")
    unified_score = models.FloatField(null=True, blank=True, help_text="The coin's unified score from the same run.")
    entry_price = models.FloatField(null=True, blank=True, help_text="Close of the candle the signal was computed on.")
    candle_close_time = models.DateTimeField(help_text="Close time of that candle.")
    data_as_of = models.DateTimeField(null=True, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=dict, blank=True, help_text="Inputs used, each with its data timestamp.")
    missing = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    rules_matched = models.JSONField(default=list, blank=True, help_text="The rules of the signal's tier that matched.")
    simulated = models.BooleanField(default=False, help_text="Its data came from the market simulator.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["coin", "scanner", "direction", "candle_close_time"],
                                               name="signal_once_per_coin_scanner_direction_candle")]
        indexes = [models.Index(fields=["coin", "scanner", "direction", "-created_at"])]

    def __str__(self) -> str:
        return f"T{self.tier} {self.coin_id} {self.scanner} {self.direction} @ {self.candle_close_time:%Y-%m-%d %H:%M}"


class AlertDelivery(models.Model):
    """One signal to one recipient: the outbox row a sender claims, sends, or suppresses with a reason."""

    PENDING, CLAIMED, SENT, SUPPRESSED = "pending", "claimed", "sent", "suppressed"
    FAILED, POSSIBLY_DELIVERED, SUMMARY_ONLY = "failed", "possibly_delivered", "summary_only"
    STATUS_CHOICES = [(s, s) for s in (PENDING, CLAIMED, SENT, SUPPRESSED, FAILED, POSSIBLY_DELIVERED, SUMMARY_ONLY)]

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=PENDING)
    reason = models.CharField(max_length=40, blank=True, db_index=True,
                              help_text="Why it was suppressed, kept for the summary, failed or folded (docs/alerts.md).")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Sends that failed with a retryable error.")
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True,
                                           help_text="Set just before the request: a claim that dies after it may "
                                                     "have been delivered.")
    requeued_at = models.DateTimeField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["signal", "recipient"], name="alertdelivery_once_per_recipient")]
        indexes = [models.Index(fields=["status", "next_attempt_at"]),
                   models.Index(fields=["recipient", "status", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.signal} → {self.recipient.name}: {self.status}"


class SummaryDelivery(models.Model):
    """The daily summary of one day to one recipient: created once (unique day key), sent once."""

    PENDING, CLAIMED, SENT = "pending", "claimed", "sent"
    FAILED, POSSIBLY_DELIVERED = "failed", "possibly_delivered"
    STATUS_CHOICES = [(s, s) for s in (PENDING, CLAIMED, SENT, FAILED, POSSIBLY_DELIVERED)]

    day = models.DateField()
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="summaries")
    text = models.TextField()
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=PENDING)
    reason = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "summary deliveries"
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["day", "recipient"], name="summarydelivery_once_per_day")]

    def __str__(self) -> str:
        return f"summary {self.day} → {self.recipient.name}: {self.status}"


class ProcessedRun(models.Model):
    """A finished scan whose signals were recorded (lets a periodic task catch up on runs missed)."""

    run = models.OneToOneField("scanners.ScanRun", on_delete=models.CASCADE, primary_key=True, related_name="+")
    processed_at = models.DateTimeField()
    signals = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.signals} signals"


class BotState(models.Model):
    """One row: the bot's own state. A 429 pauses every send until `paused_until`."""

    paused_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Telegram bot state"
        verbose_name_plural = "Telegram bot state"

    def __str__(self) -> str:
        return "Telegram bot state"

    @classmethod
    def get(cls) -> "BotState":
        state, _ = cls.objects.get_or_create(pk=1)
        return state
