from django.contrib import admin

from .models import Candle, Coin, DataSource, MetricPoint


@admin.register(Coin)
class CoinAdmin(admin.ModelAdmin):
    list_display = ["symbol", "base_asset", "quote_asset", "has_spot", "has_perpetual", "listed_at", "first_seen_at", "active"]
    list_filter = ["active", "quote_asset", "has_perpetual"]
    search_fields = ["symbol", "base_asset"]


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["coin", "interval", "open_time", "open", "high", "low", "close", "quote_volume", "trades"]
    list_filter = ["interval"]
    search_fields = ["coin__symbol"]
    date_hierarchy = "open_time"
    list_select_related = ["coin"]
    raw_id_fields = ["coin"]
    show_full_result_count = False  # counting millions of candles would slow the page


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "base_url", "simulated", "last_success_at", "last_error_at", "last_error"]
    readonly_fields = ["name", "base_url", "simulated", "last_success_at", "last_error_at", "last_error"]


@admin.register(MetricPoint)
class MetricPointAdmin(admin.ModelAdmin):
    list_display = ["coin", "metric", "at", "value", "source"]
    list_filter = ["metric", "source"]
    search_fields = ["coin__symbol"]
    list_select_related = ["coin"]
    raw_id_fields = ["coin"]
    show_full_result_count = False
