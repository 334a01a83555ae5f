from django.contrib import admin
from django.urls import include, path

from scanners import views as scanner_views

from . import health, views

urlpatterns = [
    path("", scanner_views.home, name="home"),
    path("ranking", views.ranking_page, name="ranking"),
    path("coins/<str:symbol>", views.coin_page, name="coin"),
    path("healthz", health.healthz, name="healthz"),
    path("simulator/telegram", views.telegram_inbox, name="telegram-inbox"),
    path("admin/", admin.site.urls),
    path("api/", include("cryptosatx.api.urls")),
]
