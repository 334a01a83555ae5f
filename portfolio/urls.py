"""This app's pages, included at the site root by cryptosatx/urls.py."""
from django.urls import path

from . import views

urlpatterns = [
    path("portfolio", views.portfolio_page, name="portfolio"),
    path("portfolio/trades/<int:pk>/close", views.close_trade, name="trade-close"),
    path("portfolio/trades/<int:pk>/delete", views.delete_trade, name="trade-delete"),
    path("portfolio/from-signal/<int:signal_id>", views.trade_from_signal, name="trade-from-signal"),
]
