from django.contrib import admin

from .models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "name", "status", "progress", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("name", "owner__username")
    # A run is the record of what a job computed: read it here, start new ones from /backtests or the API.
    readonly_fields = ("owner", "name", "strategy", "status", "progress", "error", "results", "created_at",
                       "started_at", "finished_at")

    def has_add_permission(self, request) -> bool:
        return False
