"""This app's pages, included at the site root by cryptosatx/urls.py."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),  # POST only (Django 5)
    path("signup", views.signup, name="signup"),
    path("account", views.account, name="account"),
    path("account/token", views.regenerate_token, name="account-token"),
]
