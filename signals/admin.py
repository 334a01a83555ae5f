from django.contrib import admin, messages

from .models import AlertDelivery, AlertRule, BotState, Recipient, ScoringConfig, Signal, SummaryDelivery, UnifiedScore
from .sender import requeue


@admin.register(ScoringConfig)
class ScoringConfigAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Unified score weights (renormalised over the components present)", {"fields": [
            "weight_accumulation", "weight_mss", "weight_technical", "weight_social_momentum", "weight_whale",
            "weight_volume_spike"]}),
        ("Tiers", {"fields": ["tier1_min", "tier2_min", "tier3_min", "min_confirmations_tier1"]}),
        ("Scanner thresholds", {"fields": ["accumulation_threshold", "distribution_threshold", "mss_threshold",
                                           "rsi_oversold", "rsi_overbought"]}),
    ]

    def has_add_permission(self, request):
        return not ScoringConfig.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UnifiedScore)
class UnifiedScoreAdmin(admin.ModelAdmin):
    list_display = ["coin", "unified_score", "tier", "action", "confidence", "coverage", "risk_level", "computed_at",
                    "is_latest"]
    list_filter = ["tier", "is_latest", "risk_level"]
    search_fields = ["coin__symbol"]
    list_select_related = ["coin"]
    raw_id_fields = ["coin", "run"]


# ---------------------------------------------------------------- alerts

@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """Validation lives in AlertRule.clean (signals.rules.validate_rule), which the admin form runs."""
    list_display = ["name", "tier", "scanner", "condition", "direction", "kind", "enabled"]
    list_filter = ["tier", "scanner", "direction", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "tier", "enabled", "direction", "kind"]}),
        ("Condition", {"fields": ["scanner", "metric", "comparison", "threshold", "threshold_max"],
                       "description": "smart_money: accumulation, distribution · mss: mss · rsi: rsi, technical · "
                                      "social: momentum · unified: unified_score, tier (1 = TIER_1), confidence, "
                                      "confirmations, coverage"}),
        ("Second condition (optional, any scanner's latest score of the coin)",
         {"fields": ["also_metric", "also_comparison", "also_threshold"]}),
    ]


@admin.action(description="Re-enable (clear Telegram's refusal)")
def reenable(modeladmin, request, queryset):
    n = queryset.update(enabled=True, disabled_reason="", disabled_at=None)
    modeladmin.message_user(request, f"{n} recipient(s) enabled.")


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["name", "chat_id", "kind", "user", "wants_tier_1", "wants_tier_2", "wants_tier_3",
                    "wants_daily_summary", "enabled", "disabled_at", "disabled_reason"]
    list_filter = ["enabled", "kind"]
    search_fields = ["name", "chat_id", "user__username"]
    readonly_fields = ["disabled_at", "from_settings", "next_send_at", "created_at"]
    raw_id_fields = ["user"]
    actions = [reenable]


class DeliveryInline(admin.TabularInline):
    model = AlertDelivery
    fields = ["recipient", "status", "reason", "attempts", "sent_at", "message_id", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ["coin", "scanner", "kind", "direction", "tier", "score", "unified_score", "entry_price",
                    "candle_close_time", "simulated", "created_at"]
    list_filter = ["tier", "scanner", "kind", "direction", "simulated", "created_at"]
    search_fields = ["coin__symbol"]
    list_select_related = ["coin"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a signal is a record of what happened: view only


@admin.action(description="Requeue (resend) failed / possibly delivered")
def requeue_deliveries(modeladmin, request, queryset):
    n = requeue(queryset)
    skipped = queryset.count() - n
    modeladmin.message_user(request, f"{n} delivery(ies) requeued." + (
        f" {skipped} skipped: only failed and possibly_delivered rows can be requeued." if skipped else ""),
        messages.SUCCESS if not skipped else messages.WARNING)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ["signal", "recipient", "status", "reason", "attempts", "next_attempt_at", "sent_at", "message_id"]
    list_filter = ["status", "reason", "recipient", "signal__tier"]
    search_fields = ["signal__coin__symbol", "recipient__name", "last_error"]
    list_select_related = ["signal__coin", "recipient"]
    readonly_fields = [f.name for f in AlertDelivery._meta.fields]
    actions = [requeue_deliveries]

    def has_add_permission(self, request):
        return False


@admin.register(SummaryDelivery)
class SummaryDeliveryAdmin(admin.ModelAdmin):
    list_display = ["day", "recipient", "status", "reason", "attempts", "sent_at", "message_id"]
    list_filter = ["status", "recipient"]
    readonly_fields = [f.name for f in SummaryDelivery._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.action(description="Lift the pause now")
def unpause(modeladmin, request, queryset):
    queryset.update(paused_until=None)


@admin.register(BotState)
class BotStateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "paused_until", "last_error_at", "last_error"]
    readonly_fields = ["last_error", "last_error_at"]
    actions = [unpause]

    def has_add_permission(self, request):
        return not BotState.objects.exists()
