"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
from django.urls import path

from . import api

urlpatterns = [
    path("portfolio/trades", api.TradeListView.as_view(), name="portfolio-trades"),
    path("portfolio/trades/from-signal/<int:signal_id>", api.TradeFromSignalView.as_view(),
         name="portfolio-trade-from-signal"),
    path("portfolio/trades/<int:pk>", api.TradeDetailView.as_view(), name="portfolio-trade"),
    path("portfolio/trades/<int:pk>/close", api.TradeCloseView.as_view(), name="portfolio-trade-close"),
    path("portfolio/performance", api.PerformanceView.as_view(), name="portfolio-performance"),
]
