from django.apps import AppConfig


class CryptoSatXConfig(AppConfig):
    name = "cryptosatx"
    verbose_name = "CryptoSatX"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the configuration checks)
        from . import heartbeat  # noqa: F401  (connects the django-q2 heartbeat receivers)
        from django_q.signals import pre_execute

        from .logcontext import on_task_start
        pre_execute.connect(on_task_start, dispatch_uid="cryptosatx.logcontext.on_task_start")
