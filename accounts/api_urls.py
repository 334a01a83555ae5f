"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
from django.urls import path

from .api import AccountAlertsView

urlpatterns = [
    path("account/alerts", AccountAlertsView.as_view(), name="account-alerts"),
]
