"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
from django.urls import path

from .api import RecommendationsView

urlpatterns = [path("recommendations", RecommendationsView.as_view(), name="recommendations")]
