"""This app's pages, included at the site root by cryptosatx/urls.py."""
from django.urls import path

from . import views

urlpatterns = [path("recommendations", views.recommendations_page, name="recommendations")]
