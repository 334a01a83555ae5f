from django.contrib import admin

from .models import Trade


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "coin", "side", "quantity", "entry_price", "status", "exit_price", "opened_at",
                    "closed_at", "signal"]
    list_filter = ["status", "side"]
    search_fields = ["coin__symbol", "owner__username", "notes"]
    list_select_related = ["owner", "coin", "signal"]
    raw_id_fields = ["coin", "signal", "owner"]
    date_hierarchy = "opened_at"
