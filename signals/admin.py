from django.contrib import admin

from .models import ScoringConfig, UnifiedScore


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
