"""This app's pages, included at the site root by cryptosatx/urls.py."""
from django.urls import path

from . import views

urlpatterns: list = [
    path("backtests", views.backtests_page, name="backtests"),
    path("backtests/<int:pk>", views.backtest_page, name="backtest"),
    path("backtests/<int:pk>/status", views.backtest_status, name="backtest-status"),
]
