from django.apps import AppConfig


class EinvoiceConfig(AppConfig):
    name = "facturador.einvoice"
    label = "einvoice"
    verbose_name = "Documentos electrónicos DIAN"

    def ready(self):
        from facturador.einvoice import tasks  # noqa: F401  (registers job handlers)
