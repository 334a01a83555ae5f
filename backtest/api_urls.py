"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
from django.urls import path

from .api import BacktestDetailView, BacktestListView

urlpatterns: list = [
    path("backtests", BacktestListView.as_view(), name="backtest-list"),
    path("backtests/<int:pk>", BacktestDetailView.as_view(), name="backtest-detail"),
]
