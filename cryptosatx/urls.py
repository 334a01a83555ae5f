from django.contrib import admin
from django.urls import path

from scanners import views as scanner_views

urlpatterns = [
    path("", scanner_views.home, name="home"),
    path("admin/", admin.site.urls),
]
