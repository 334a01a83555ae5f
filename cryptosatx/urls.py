from django.contrib import admin
from django.urls import include, path

from scanners import views as scanner_views

from . import health, performance_views, report_views, views

urlpatterns = [
    path("", scanner_views.home, name="home"),
    path("ranking", views.ranking_page, name="ranking"),
    path("coins/<str:symbol>", views.coin_page, name="coin"),
    path("performance", performance_views.performance_page, name="performance"),
    path("reports/monthly", report_views.monthly_page, name="report-monthly"),
    path("reports/daily", report_views.daily_latest, name="report-daily-latest"),
    path("reports/daily/<str:day>", report_views.daily_page, name="report-daily"),
    path("healthz", health.healthz, name="healthz"),
    path("simulator/telegram", views.telegram_inbox, name="telegram-inbox"),
    path("admin/", admin.site.urls),
    # Each user-facing app owns its pages (accounts, watchlists, portfolio, backtests, recommendations).
    path("", include("accounts.urls")),
    path("", include("watchlists.urls")),
    path("", include("portfolio.urls")),
    path("", include("backtest.urls")),
    path("", include("recommend.urls")),
    path("api/", include("cryptosatx.api.urls")),
]
