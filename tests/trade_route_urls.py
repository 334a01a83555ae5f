"""The site's URLs plus a stand-in `trade-from-signal` route, for testing the "Add trade" button
whether or not the portfolio's own route has landed."""
from django.http import HttpResponse
from django.urls import path

from cryptosatx.urls import urlpatterns as site

urlpatterns = [path("test-trade-from-signal/<int:signal_id>", lambda request, signal_id: HttpResponse(),
                    name="trade-from-signal"), *site]
