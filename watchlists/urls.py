"""This app's pages, included at the site root by cryptosatx/urls.py."""
from django.urls import path

from . import views

urlpatterns = [
    path("watchlists", views.watchlist_list, name="watchlists"),
    path("watchlists/<int:pk>", views.watchlist_detail, name="watchlist"),
    path("watchlists/<int:pk>/coins/add", views.add_coins, name="watchlist-add-coins"),
    path("watchlists/<int:pk>/coins/remove", views.remove_coin, name="watchlist-remove-coin"),
    path("watchlists/<int:pk>/scan", views.scan_now, name="watchlist-scan-now"),
    path("watchlists/<int:pk>/delete", views.delete_watchlist, name="watchlist-delete"),
]
