"""/api/… routes. Paths have no trailing slash, as the plan writes them."""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import api_urls as accounts_api
from backtest import api_urls as backtest_api
from portfolio import api_urls as portfolio_api
from recommend import api_urls as recommend_api
from watchlists import api_urls as watchlists_api

from .views.analytics import WinRatesView
from .views.calibration import CalibrationView, ThresholdsView
from .views.auth import MeView, TokenView
from .views.coins import CoinDetailView
from .views.ranking import UnifiedRankingView
from .views.reports import MonthlyReportView
from .views.scans import ScanDetailView, ScanListView

app_name = "api"

urlpatterns = [
    path("scan/unified-ranking", UnifiedRankingView.as_view(), name="unified-ranking"),
    path("coins/<str:symbol>", CoinDetailView.as_view(), name="coin-detail"),
    path("scans", ScanListView.as_view(), name="scan-list"),
    path("scans/<int:pk>", ScanDetailView.as_view(), name="scan-detail"),
    path("analytics/win-rates", WinRatesView.as_view(), name="win-rates"),
    path("analytics/calibration", CalibrationView.as_view(), name="calibration"),
    path("analytics/thresholds", ThresholdsView.as_view(), name="thresholds"),
    path("reports/monthly", MonthlyReportView.as_view(), name="monthly-report"),
    path("auth/token", TokenView.as_view(), name="auth-token"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

# The user-facing apps keep their routes next to their views; they share this namespace.
for _app in (accounts_api, watchlists_api, portfolio_api, backtest_api, recommend_api):
    urlpatterns += _app.urlpatterns
