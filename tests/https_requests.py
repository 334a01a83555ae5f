"""A pytest plugin for runs under the production settings: every test-client request arrives as
HTTPS, as it does behind the TLS proxy of docs/deploy.md (otherwise SECURE_SSL_REDIRECT answers
every request with a 301 and the tests would check the redirect, not the app)."""
from django.test import client as django_client

_base_environ = django_client.RequestFactory._base_environ


def _over_https(self, **request):
    environ = _base_environ(self, **request)
    environ.update({"wsgi.url_scheme": "https", "SERVER_PORT": "443"})
    return environ


django_client.RequestFactory._base_environ = _over_https
