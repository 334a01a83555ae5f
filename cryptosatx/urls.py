from django.contrib import admin
from django.urls import include, path

from scanners import views as scanner_views

from . import health, performance_views, report_views
from .pages import alerts, coin, inbox, ranking, scans
from .pages import signals as signal_pages

urlpatterns = [
    path("", scanner_views.home, name="home"),
    path("ranking", ranking.ranking_page, name="ranking"),
    path("coins/<str:symbol>", coin.coin_page, name="coin"),
    path("signals", signal_pages.signals_page, name="signals"),
    path("alerts", alerts.alerts_page, name="alerts"),
    path("scans", scans.scans_page, name="scans"),
    path("performance", performance_views.performance_page, name="performance"),
    path("reports/monthly", report_views.monthly_page, name="report-monthly"),
    path("reports/daily", report_views.daily_latest, name="report-daily-latest"),
    path("reports/daily/<str:day>", report_views.daily_page, name="report-daily"),
    path("healthz", health.healthz, name="healthz"),
    path("simulator/telegram", inbox.telegram_inbox, name="telegram-inbox"),
    path("admin/", admin.site.urls),
    # Each user-facing app owns its pages (accounts, watchlists, portfolio, backtests, recommendations).
    path("", include("accounts.urls")),
    path("", include("watchlists.urls")),
    path("", include("portfolio.urls")),
    path("", include("backtest.urls")),
    path("", include("recommend.urls")),
    path("api/", include("cryptosatx.api.urls")),
]

# JSON under /api/, Django's pages elsewhere (cryptosatx/errors.py).
handler404 = "cryptosatx.errors.not_found"
handler500 = "cryptosatx.errors.server_error"
