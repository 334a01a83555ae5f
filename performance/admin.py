from django.contrib import admin, messages

from signals.admin import ScoringConfigAdmin

from .models import SignalOutcome


@admin.register(SignalOutcome)
class SignalOutcomeAdmin(admin.ModelAdmin):
    """Read-only: outcomes are measured from stored candles, never typed in."""

    list_display = ["signal", "horizon", "status", "outcome", "pnl_pct", "mfe_pct", "mae_pct", "relative_pnl_pct",
                    "due_at", "evaluated_at"]
    list_filter = ["status", "outcome", "horizon", "signal__scanner", "signal__tier", "signal__direction",
                   "signal__simulated"]
    search_fields = ["signal__coin__symbol", "note"]
    list_select_related = ["signal", "signal__coin"]
    date_hierarchy = "due_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Thresholds change only when an admin applies a suggestion. The action lives here, with the optimizer,
# and is added to the scoring configuration's admin (signals cannot import this app: imports run
# signals <- performance).
@admin.action(description="Apply suggested threshold (walk-forward report, only where it recommends one)")
def apply_suggested_threshold(modeladmin, request, queryset):
    from .optimizer import apply_suggestions

    for config in queryset:
        changed, refused = apply_suggestions(config)
        if changed:
            modeladmin.message_user(request, "Changed: " + "; ".join(changed), messages.SUCCESS)
            if refused:
                modeladmin.message_user(request, "Not changed: " + "; ".join(refused), messages.INFO)
        else:
            modeladmin.message_user(request, "No threshold changed: " + "; ".join(refused), messages.WARNING)


ScoringConfigAdmin.actions = [*(ScoringConfigAdmin.actions or []), apply_suggested_threshold]
