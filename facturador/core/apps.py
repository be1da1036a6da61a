from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "facturador.core"
    label = "core"
    verbose_name = "Facturador"

    def ready(self):
        from facturador.core import jobs  # noqa: F401  (registers core.ping)
