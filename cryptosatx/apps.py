from django.apps import AppConfig


class CryptoSatXConfig(AppConfig):
    name = "cryptosatx"
    verbose_name = "CryptoSatX"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the configuration checks)
        from . import heartbeat  # noqa: F401  (connects the django-q2 heartbeat receivers)
