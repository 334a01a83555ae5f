"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
from django.urls import path

from . import api

urlpatterns = [
    path("watchlists", api.WatchlistListView.as_view(), name="watchlist-list"),
    path("watchlists/create", api.WatchlistPlanCreateView.as_view(), name="watchlist-create"),
    path("watchlists/<int:pk>", api.WatchlistDetailView.as_view(), name="watchlist-detail"),
    path("watchlists/<int:pk>/scan", api.WatchlistScanView.as_view(), name="watchlist-scan"),
    path("watchlists/<int:pk>/alerts", api.WatchlistAlertsView.as_view(), name="watchlist-alerts"),
    path("watchlists/<int:pk>/coins", api.WatchlistCoinsView.as_view(), name="watchlist-coins"),
]
