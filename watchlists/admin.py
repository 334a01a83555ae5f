from django.contrib import admin

from .models import Watchlist, WatchlistScanSlot
from .schedules import sync_schedule


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "alerts_enabled", "scan_interval_minutes", "updated_at"]
    list_filter = ["alerts_enabled"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["coins"]
    readonly_fields = ["created_at", "updated_at"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        sync_schedule(form.instance)  # the interval edited here moves the watchlist's Schedule too


@admin.register(WatchlistScanSlot)
class WatchlistScanSlotAdmin(admin.ModelAdmin):
    list_display = ["watchlist", "slot_start", "run", "skipped", "claimed_at"]
    readonly_fields = ["watchlist", "slot_start", "run", "skipped", "claimed_at"]

    def has_add_permission(self, request):
        return False
