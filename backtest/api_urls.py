"""This app's /api/… routes, added to the "api" namespace by cryptosatx/api/urls.py."""
urlpatterns: list = []
