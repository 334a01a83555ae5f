from django.contrib import admin

from .models import ScanResult, ScanRun, ScanSlot


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    list_display = ["id", "scanner", "status", "started_at", "finished_at", "universe_size", "scored", "simulated"]
    list_filter = ["scanner", "status", "simulated"]
    readonly_fields = ["started_at"]


@admin.register(ScanResult)
class ScanResultAdmin(admin.ModelAdmin):
    list_display = ["run", "coin", "scanner", "score", "signal", "direction", "data_as_of"]
    list_filter = ["scanner", "signal"]
    search_fields = ["coin__symbol"]
    list_select_related = ["coin", "run"]
    raw_id_fields = ["run", "coin"]


@admin.register(ScanSlot)
class ScanSlotAdmin(admin.ModelAdmin):
    list_display = ["scanner", "slot_start", "run", "skipped", "claimed_at"]
    list_filter = ["scanner"]
    raw_id_fields = ["run"]
