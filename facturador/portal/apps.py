from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "facturador.portal"
    label = "portal"
    verbose_name = "Autofacturación CFDI"

    def ready(self):
        from facturador.portal import tasks  # noqa: F401  (registers job handlers)
