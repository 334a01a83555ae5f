from django.contrib import admin

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
