from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "facturador.portal"
    label = "portal"
    verbose_name = "Autofacturación CFDI"

    def ready(self):
        from facturador.core.models import register_files_provider
        from facturador.portal import jobs  # noqa: F401  (registers job handlers and periodic hooks)
        from facturador.portal.services import write_files

        register_files_provider("portal.cfdi", write_files)
