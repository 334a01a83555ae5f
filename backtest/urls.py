"""This app's pages, included at the site root by cryptosatx/urls.py."""
urlpatterns: list = []
